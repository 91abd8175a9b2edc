"""The staff workspace's webhook pages: provider staff subscribe global or per-organisation
endpoints (the secret shown once), switch them off and on, delete them, read each one's
delivery log and redeliver; the services decide, the pages translate."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from notifications.models import WebhookDelivery, WebhookEndpoint
from notifications.webhooks import recording
from tests.factories import WebhookDeliveryFactory, WebhookEndpointFactory
from tests.staff.conftest import client_for

LIST = reverse("staff:webhooks")
CREATE = reverse("staff:webhook_create")
PUBLIC_URL = "https://93.184.215.14/hooks"  # a public address: no DNS needed


def deliveries_url(endpoint: WebhookEndpoint) -> str:
    return reverse("staff:webhook_deliveries", args=[endpoint.pk])


def test_the_menu_leads_to_every_endpoint_staff_manage(cast) -> None:
    glob = WebhookEndpointFactory(organization=None, owner=cast.agent)
    acme = WebhookEndpointFactory(organization=cast.acme, owner=cast.alice)
    page = client_for(cast.agent).get(reverse("staff:dashboard")).content.decode()
    assert f'href="{LIST}"' in page
    listing = client_for(cast.qa).get(LIST)
    text = listing.content.decode()
    assert listing.status_code == 200 and listing.context["nav"] == "webhooks"
    assert glob.url in text and acme.url in text and "Every organisation" in text
    assert glob.secret not in text and acme.secret not in text


def test_a_global_endpoint_is_created_and_its_secret_shown_once(cast, settings) -> None:
    client = client_for(cast.agent)
    response = client.post(CREATE, {"url": PUBLIC_URL, "events": ["change.window"]})
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.organization is None and endpoint.owner == cast.agent
    assert endpoint.events == ["change.window"]
    assert endpoint.secret.startswith("whsec_") and endpoint.secret in response.content.decode()
    # Never again: not on the list, not on the delivery log.
    assert endpoint.secret not in client.get(LIST).content.decode()
    assert endpoint.secret not in client.get(deliveries_url(endpoint)).content.decode()


def test_staff_scope_an_endpoint_to_one_organisation(cast) -> None:
    response = client_for(cast.agent).post(
        CREATE, {"url": PUBLIC_URL, "organization": cast.globex.pk}
    )
    assert response.status_code == 201
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.organization == cast.globex and endpoint.events == []


def test_a_loopback_url_is_refused_on_the_form_as_typed(cast, settings) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    typed = "http://127.0.0.1:8000/hook"
    response = client_for(cast.agent).post(
        CREATE,
        {"url": typed, "events": ["change.window", "ticket.created"], "organization": cast.acme.pk},
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert "loopback" in form.errors["url"][0]
    text = response.content.decode()
    assert f'value="{typed}"' in text
    for event in ("change.window", "ticket.created"):
        assert re.search(rf'<input[^>]*value="{re.escape(event)}"[^>]*checked', text), event
    assert re.search(rf'<option value="{cast.acme.pk}" selected>', text)
    assert not WebhookEndpoint.objects.exists()


def test_bad_input_is_refused_on_the_form(cast) -> None:
    client = client_for(cast.agent)
    response = client.post(CREATE, {"url": "ftp://files.example/x", "events": ["nope"]})
    assert response.status_code == 400
    assert "events" in response.context["form"].errors
    response = client.post(CREATE, {"url": "ftp://files.example/x"})
    assert response.status_code == 400
    assert "https://" in response.context["form"].errors["url"][0]
    response = client.post(CREATE, {"url": PUBLIC_URL, "organization": 999999})
    assert response.status_code == 400 and "organization" in response.context["form"].errors
    assert not WebhookEndpoint.objects.exists()


def test_switch_off_on_and_delete(cast) -> None:
    endpoint = WebhookEndpointFactory(organization=cast.acme, owner=cast.alice)
    endpoint.consecutive_failures = 20
    endpoint.save()
    client = client_for(cast.agent)
    switch = reverse("staff:webhook_switch", args=[endpoint.pk])
    assert client.post(switch, {"active": "0"})["Location"] == LIST
    endpoint.refresh_from_db()
    assert not endpoint.active
    response = client.post(switch, {"active": "1", "next": "deliveries"})
    assert response["Location"] == deliveries_url(endpoint)
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.consecutive_failures == 0
    assert client.get(switch).status_code == 302  # a GET changes nothing
    client.post(reverse("staff:webhook_delete", args=[endpoint.pk]))
    assert not WebhookEndpoint.objects.exists()
    assert client.post(switch, {"active": "1"}).status_code == 404


def test_redeliver_queues_a_new_delivery_of_the_same_event(
    cast, django_capture_on_commit_callbacks
) -> None:
    endpoint = WebhookEndpointFactory(organization=cast.acme, owner=cast.alice)
    original = WebhookDeliveryFactory(endpoint=endpoint, state=WebhookDelivery.State.FAILED)
    client = client_for(cast.agent)
    url = reverse("staff:webhook_redeliver", args=[endpoint.pk, original.pk])
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(url)
    assert response.status_code == 302 and response["Location"] == deliveries_url(endpoint)
    again = WebhookDelivery.objects.exclude(pk=original.pk).get()
    assert (again.event_id, again.state, again.attempts) == (original.event_id, "pending", 0)
    assert recording.dispatch in callbacks  # the worker is asked to send it after commit
    page = client.get(deliveries_url(endpoint)).content.decode()
    assert "Queued again" in page
    # Newest first: the redelivery above the original.
    assert page.index(f'data-delivery="{again.pk}"') < page.index(f'data-delivery="{original.pk}"')


def test_redelivery_to_a_switched_off_endpoint_says_why(cast) -> None:
    endpoint = WebhookEndpointFactory(organization=cast.acme, owner=cast.alice, active=False)
    original = WebhookDeliveryFactory(endpoint=endpoint)
    client = client_for(cast.agent)
    response = client.post(
        reverse("staff:webhook_redeliver", args=[endpoint.pk, original.pk]), follow=True
    )
    assert "switched off" in response.content.decode()
    assert WebhookDelivery.objects.count() == 1
    missing = reverse("staff:webhook_redeliver", args=[endpoint.pk, 999999])
    assert client.post(missing).status_code == 404


def test_customers_and_strangers_never_reach_the_staff_pages(cast) -> None:
    endpoint = WebhookEndpointFactory(organization=cast.acme, owner=cast.alice)
    delivery = WebhookDeliveryFactory(endpoint=endpoint)
    alice = client_for(cast.alice)
    urls = [
        LIST,
        deliveries_url(endpoint),
    ]
    posts = [
        (CREATE, {"url": PUBLIC_URL}),
        (reverse("staff:webhook_switch", args=[endpoint.pk]), {"active": "0"}),
        (reverse("staff:webhook_delete", args=[endpoint.pk]), {}),
        (reverse("staff:webhook_redeliver", args=[endpoint.pk, delivery.pk]), {}),
    ]
    for url in urls:
        response = alice.get(url)
        assert response.status_code == 302 and not response["Location"].startswith("/staff/")
    for url, data in posts:
        assert alice.post(url, data).status_code == 302
    assert WebhookEndpoint.objects.get() == endpoint and endpoint.active
    assert WebhookDelivery.objects.count() == 1
    anonymous = client_for(cast.agent)
    anonymous.logout()
    assert reverse("login") in anonymous.get(LIST)["Location"]


@pytest.mark.parametrize("rows", [3, 30])
def test_the_delivery_log_reads_a_bounded_number_of_queries(
    cast, rows, django_assert_max_num_queries
) -> None:
    endpoint = WebhookEndpointFactory(organization=cast.acme, owner=cast.alice)
    WebhookDeliveryFactory.create_batch(rows, endpoint=endpoint)
    client = client_for(cast.agent)
    with django_assert_max_num_queries(6):
        response = client.get(deliveries_url(endpoint))
    assert response.status_code == 200
    shown = response.content.decode().count("data-delivery=")
    assert shown == min(rows, 25)
    if rows > 25:
        second = client.get(deliveries_url(endpoint), {"page": 2}).content.decode()
        assert second.count("data-delivery=") == rows - 25
