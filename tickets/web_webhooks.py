"""The webhook pages both HTML front ends have (API.md, "Deployment gate and webhooks"):
the endpoints a user manages, subscribing one (its secret shown in that response only),
switching one on or off, unsubscribing, its delivery log and redelivery.

Each page translates to and from one function of `notifications.webhooks.subscriptions`,
as the API does: who may subscribe what, which URLs may be called and which endpoints
and deliveries a user sees are the service's to decide (another organisation's is
`NotVisible`, a 404 through `web.front_end`). A front end says only how it draws a page
(`Pages`): the staff workspace and the portal differ in their frame, not in a rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from notifications.webhooks import subscriptions
from notifications.webhooks.models import WebhookEndpoint

from . import web
from .errors import DomainError, NotVisible
from .models import Organization
from .selectors import organizations_visible_to
from .typing import AuthenticatedRequest

Render = Callable[[AuthenticatedRequest, str, dict[str, Any], int], HttpResponse]


class OrganizationScopeField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Organization) -> str:  # type: ignore[override]
        return obj.name


class WebhookForm(forms.Form):
    # Any text: what a webhook may call is `addresses.check_url`'s to say, in its words.
    url = forms.CharField(
        max_length=subscriptions.URL_MAX,
        label="Receiver URL",
        widget=forms.URLInput(attrs={"placeholder": "https://", "autocomplete": "off"}),
        help_text="We POST each event here as JSON, signed with the endpoint's secret. "
        "Only public addresses are called.",
    )
    events = forms.MultipleChoiceField(
        required=False,
        label="Events",
        widget=forms.CheckboxSelectMultiple,
        help_text="None chosen: every type, including those added later.",
    )
    organization = OrganizationScopeField(
        queryset=Organization.objects.none(),
        required=False,
        label="Organisation",
        empty_label="Every organisation",
        help_text="Whose events it receives.",
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["events"].choices = subscriptions.event_types_for(user)  # type: ignore[attr-defined]
        if user.is_provider:
            field = self.fields["organization"]
            field.queryset = organizations_visible_to(user).order_by("name")  # type: ignore[attr-defined]
        else:
            # A customer user's endpoint is their organisation's, whatever is posted.
            del self.fields["organization"]


@dataclass(frozen=True)
class Pages:
    """How one front end draws the webhook pages: `render(request, name, context,
    status)` frames the template `name` ("webhooks" or "webhook_deliveries") in the front
    end's page, whose URLs are in the `namespace`."""

    namespace: str
    render: Render

    def url(self, name: str, *args: Any) -> str:
        return reverse(f"{self.namespace}:{name}", args=args)


def _list(
    request: AuthenticatedRequest,
    pages: Pages,
    *,
    form: WebhookForm | None = None,
    created: WebhookEndpoint | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    rows = subscriptions.endpoints_visible_to(user).order_by("-id")
    context = {
        "page": web.paginate(request, rows),
        "form": form or WebhookForm(user=user),
        "created": created,
        "webhooks_namespace": pages.namespace,
    }
    response = pages.render(request, "webhooks", context, status)
    if created is not None:
        response["Cache-Control"] = "no-store"  # the secret must not linger in any cache
    return response


def webhook_list(request: AuthenticatedRequest, pages: Pages) -> HttpResponse:
    return _list(request, pages)


def webhook_create(request: AuthenticatedRequest, pages: Pages) -> HttpResponse:
    """Subscribe; the answer (201, not a redirect) is the only page that shows the secret."""
    if request.method != "POST":
        return redirect(pages.url("webhooks"))
    user = request.user
    return web.submit(
        WebhookForm(request.POST, user=user),
        lambda data: subscriptions.webhook_create(
            by=user,
            url=data["url"],
            events=data["events"],
            organization=data.get("organization"),
        ),
        again=lambda form, status: _list(request, pages, form=form, status=status),
        then=lambda endpoint: _list(request, pages, created=endpoint, status=201),
    )


def webhook_switch(request: AuthenticatedRequest, pages: Pages, pk: int) -> HttpResponse:
    """Switch an endpoint on (`active=1`) or off (anything else)."""
    subscriptions.access_endpoint(request.user, pk)  # another's is a 404, whatever the method
    back = request.POST.get("next") == "deliveries"
    to = pages.url("webhook_deliveries", pk) if back else pages.url("webhooks")
    if request.method != "POST":
        return redirect(to)
    active = request.POST.get("active") == "1"
    try:
        endpoint = subscriptions.webhook_update(endpoint=pk, by=request.user, active=active)
    except NotVisible:
        raise  # a 404 (web.front_end)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(to)
    said = "on: it receives events again" if active else "off: it receives no events"
    return web.succeed(request, f"The webhook to {endpoint.url} is {said}.", to)


def webhook_delete(request: AuthenticatedRequest, pages: Pages, pk: int) -> HttpResponse:
    endpoint = subscriptions.access_endpoint(request.user, pk)
    if request.method != "POST":
        return redirect(pages.url("webhooks"))
    subscriptions.webhook_delete(endpoint=endpoint.pk, by=request.user)
    return web.succeed(
        request,
        f"The webhook to {endpoint.url} is deleted, with its delivery log.",
        pages.url("webhooks"),
    )


def webhook_deliveries(request: AuthenticatedRequest, pages: Pages, pk: int) -> HttpResponse:
    endpoint = subscriptions.access_endpoint(request.user, pk)
    context = {
        "endpoint": endpoint,
        "page": web.paginate(request, subscriptions.deliveries_of(endpoint)),
        "webhooks_namespace": pages.namespace,
    }
    return pages.render(request, "webhook_deliveries", context, 200)


def webhook_redeliver(
    request: AuthenticatedRequest, pages: Pages, pk: int, did: int
) -> HttpResponse:
    subscriptions.access_delivery(request.user, pk, did)  # whatever the method
    to = pages.url("webhook_deliveries", pk)
    if request.method != "POST":
        return redirect(to)
    try:
        again = subscriptions.webhook_redeliver(endpoint=pk, delivery=did, by=request.user)
    except NotVisible:
        raise  # a 404 (web.front_end)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(to)
    return web.succeed(
        request,
        f"Queued again as delivery {again.pk}: the same event, with the same webhook-id.",
        to,
    )
