"""The portal's webhook pages: a customer user subscribes their organisation's endpoints
only (never a global one), sees the secret once, and never sees another organisation's
endpoint or delivery (a 404, not a 403)."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from notifications.models import WebhookDelivery, WebhookEndpoint
from tests.factories import WebhookDeliveryFactory, WebhookEndpointFactory

LIST = reverse("portal:webhooks")
CREATE = reverse("portal:webhook_create")
PUBLIC_URL = "https://93.184.215.14/hooks"


def test_alice_subscribes_her_organisations_endpoint_and_sees_the_secret_once(
    cast, alice_client
) -> None:
    assert f'href="{LIST}"' in alice_client.get(reverse("portal:home")).content.decode()
    response = alice_client.post(CREATE, {"url": PUBLIC_URL, "events": ["ticket.commented"]})
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.organization, endpoint.owner) == (cast.acme, cast.alice)
    assert endpoint.secret in response.content.decode()
    listing = alice_client.get(LIST).content.decode()
    assert PUBLIC_URL in listing and endpoint.secret not in listing


def test_the_portal_offers_public_comments_only(alice_client) -> None:
    text = alice_client.get(LIST).content.decode()
    assert "A public comment on a ticket (never an internal note)" in text
    assert 'name="organization"' not in text


def test_a_customer_never_subscribes_a_global_or_another_organisations_endpoint(
    cast, alice_client
) -> None:
    for organization in ("", cast.globex.pk):
        response = alice_client.post(CREATE, {"url": PUBLIC_URL, "organization": organization})
        assert response.status_code == 201
    assert set(WebhookEndpoint.objects.values_list("organization", flat=True)) == {cast.acme.pk}


def test_a_loopback_url_is_refused_on_the_form_as_typed(cast, alice_client, settings) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    response = alice_client.post(
        CREATE, {"url": "http://[::1]:9000/in", "events": ["change.approval"]}
    )
    assert response.status_code == 400
    assert "loopback" in response.context["form"].errors["url"][0]
    text = response.content.decode()
    assert 'value="http://[::1]:9000/in"' in text and "loopback" in text
    assert response.context["form"]["events"].value() == ["change.approval"]
    assert not WebhookEndpoint.objects.exists()


def test_another_organisations_endpoint_and_deliveries_are_not_found(
    cast, alice_client, bob_client
) -> None:
    endpoint = WebhookEndpointFactory(organization=cast.acme, owner=cast.alice)
    delivery = WebhookDeliveryFactory(endpoint=endpoint)
    glob = WebhookEndpointFactory(organization=None, owner=cast.agent)
    glob_delivery = WebhookDeliveryFactory(endpoint=glob, event=delivery.event)
    for pk, did in ((endpoint.pk, delivery.pk), (glob.pk, glob_delivery.pk)):
        assert bob_client.get(reverse("portal:webhook_deliveries", args=[pk])).status_code == 404
        for name, args, data in (
            ("portal:webhook_switch", [pk], {"active": "0"}),
            ("portal:webhook_delete", [pk], {}),
            ("portal:webhook_redeliver", [pk, did], {}),
        ):
            assert bob_client.post(reverse(name, args=args), data).status_code == 404, name
    # Alice does not see provider staff's global endpoint either.
    assert alice_client.get(reverse("portal:webhook_deliveries", args=[glob.pk])).status_code == 404
    listing = bob_client.get(LIST).content.decode()
    assert endpoint.url not in listing and glob.url not in listing
    assert WebhookEndpoint.objects.filter(active=True).count() == 2
    assert WebhookDelivery.objects.count() == 2
    # Her own delivery, under another endpoint's URL: not found either.
    own = WebhookEndpointFactory(organization=cast.acme, owner=cast.alice)
    crossed = reverse("portal:webhook_redeliver", args=[own.pk, glob_delivery.pk])
    assert alice_client.post(crossed).status_code == 404


def test_alice_redelivers_switches_off_and_deletes(
    cast, alice_client, django_capture_on_commit_callbacks
) -> None:
    endpoint = WebhookEndpointFactory(organization=cast.acme, owner=cast.alice)
    delivery = WebhookDeliveryFactory(endpoint=endpoint, state="failed", attempts=8)
    log = reverse("portal:webhook_deliveries", args=[endpoint.pk])
    text = alice_client.get(log).content.decode()
    assert "change.updated" in text and delivery.object_key in text and "Failed" in text
    with django_capture_on_commit_callbacks(execute=False):
        alice_client.post(reverse("portal:webhook_redeliver", args=[endpoint.pk, delivery.pk]))
    assert WebhookDelivery.objects.filter(event=delivery.event, state="pending").count() == 1
    alice_client.post(reverse("portal:webhook_switch", args=[endpoint.pk]), {"active": "0"})
    endpoint.refresh_from_db()
    assert not endpoint.active
    alice_client.post(reverse("portal:webhook_delete", args=[endpoint.pk]))
    assert not WebhookEndpoint.objects.exists()


def test_staff_are_sent_to_their_workspace(cast) -> None:
    client = Client()
    client.force_login(cast.agent)
    assert client.get(LIST)["Location"] == "/staff/"


def test_the_delivery_log_reads_a_bounded_number_of_queries(
    cast, alice_client, django_assert_max_num_queries
) -> None:
    endpoint = WebhookEndpointFactory(organization=cast.acme, owner=cast.alice)
    WebhookDeliveryFactory.create_batch(30, endpoint=endpoint)
    # The portal frame counts what waits on the customer and the unread notices too.
    with django_assert_max_num_queries(10):
        response = alice_client.get(reverse("portal:webhook_deliveries", args=[endpoint.pk]))
    assert response.content.decode().count("data-delivery=") == 25
