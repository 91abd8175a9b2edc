"""Pages every signed-in user has: the workflow diagrams and their API tokens."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils import timezone

from ... import diagram_svg, services, web
from ...errors import NotVisible
from ...models import (
    Change,
    Ticket,
)
from ...services import TOKEN_LIFETIMES
from ...typing import AuthenticatedRequest
from .common import StaffRequest, staff_view


@staff_view
def workflows(request: StaffRequest) -> HttpResponse:
    context = {
        "nav": "workflows",
        "machines": [
            {
                "title": "Support tickets",
                "svg": diagram_svg.render(Ticket),
                "rows": diagram_svg.transition_rows(Ticket),
            },
            {
                "title": "Change tickets",
                "svg": diagram_svg.render(Change),
                "rows": diagram_svg.transition_rows(Change),
            },
        ],
    }
    return web.render_page(request, "staff/workflows.html", context)


# --------------------------------------------------------------------------- API tokens


@web.signed_in
def api_tokens(request: AuthenticatedRequest) -> HttpResponse:
    """A user's own API tokens (`services.tokens`): create one (its key is shown once, in
    this response only, and stored hashed), see when each was made and expires, revoke."""
    user = request.user
    created_key = None
    status = 200
    if request.method == "POST":
        if "revoke" in request.POST:
            try:
                services.token_revoke(user=user, token_key=request.POST.get("revoke", ""))
                messages.success(request, "Token revoked: it no longer works.")
            except NotVisible:
                messages.error(request, "You have no such token; it may be revoked already.")
            return redirect("api_tokens")
        lifetime = request.POST.get("lifetime", "")
        days = int(lifetime) if lifetime.isdigit() and int(lifetime) in TOKEN_LIFETIMES else 30
        _token, created_key = services.token_create(user=user, days=days)
        status = 201
    tokens = services.tokens_of(user)
    response = web.render_page(
        request,
        "registration/api_tokens.html",
        {
            "tokens": tokens,
            "created_key": created_key,
            "lifetimes": TOKEN_LIFETIMES,
            "now": timezone.now(),
        },
        status,
    )
    if created_key:
        response["Cache-Control"] = "no-store"  # the key must not linger in any cache
    return response
