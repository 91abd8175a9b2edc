"""The staff workspace's webhook pages (`web_webhooks`): provider staff manage every
endpoint, global or of one organisation, as the API lets them."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse

from ... import web, web_webhooks
from ...typing import AuthenticatedRequest
from .common import StaffRequest, staff_view


def _render(
    request: AuthenticatedRequest, name: str, context: dict[str, Any], status: int
) -> HttpResponse:
    context.setdefault("nav", "webhooks")
    return web.render_page(request, f"staff/{name}.html", context, status)


PAGES = web_webhooks.Pages(namespace="staff", render=_render)


@staff_view
def webhook_list(request: StaffRequest) -> HttpResponse:
    return web_webhooks.webhook_list(request, PAGES)


@staff_view
def webhook_create(request: StaffRequest) -> HttpResponse:
    return web_webhooks.webhook_create(request, PAGES)


@staff_view
def webhook_switch(request: StaffRequest, pk: int) -> HttpResponse:
    return web_webhooks.webhook_switch(request, PAGES, pk)


@staff_view
def webhook_delete(request: StaffRequest, pk: int) -> HttpResponse:
    return web_webhooks.webhook_delete(request, PAGES, pk)


@staff_view
def webhook_deliveries(request: StaffRequest, pk: int) -> HttpResponse:
    return web_webhooks.webhook_deliveries(request, PAGES, pk)


@staff_view
def webhook_redeliver(request: StaffRequest, pk: int, did: int) -> HttpResponse:
    return web_webhooks.webhook_redeliver(request, PAGES, pk, did)
