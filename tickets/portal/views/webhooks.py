"""The portal's webhook pages (`web_webhooks`): a customer user manages their
organisation's endpoints; another organisation's endpoint or delivery is a 404."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse

from ... import web_webhooks
from ...typing import AuthenticatedRequest
from .common import _page, customer_portal


def _render(
    request: AuthenticatedRequest, name: str, context: dict[str, Any], status: int
) -> HttpResponse:
    context.setdefault("nav", "webhooks")
    return _page(request, f"{name}.html", context, status=status)


PAGES = web_webhooks.Pages(namespace="portal", render=_render)


@customer_portal
def webhook_list(request: AuthenticatedRequest) -> HttpResponse:
    return web_webhooks.webhook_list(request, PAGES)


@customer_portal
def webhook_create(request: AuthenticatedRequest) -> HttpResponse:
    return web_webhooks.webhook_create(request, PAGES)


@customer_portal
def webhook_switch(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return web_webhooks.webhook_switch(request, PAGES, pk)


@customer_portal
def webhook_delete(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return web_webhooks.webhook_delete(request, PAGES, pk)


@customer_portal
def webhook_deliveries(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return web_webhooks.webhook_deliveries(request, PAGES, pk)


@customer_portal
def webhook_redeliver(request: AuthenticatedRequest, pk: int, did: int) -> HttpResponse:
    return web_webhooks.webhook_redeliver(request, PAGES, pk, did)
