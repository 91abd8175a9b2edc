"""Pages every signed-in user has: the workflow diagrams and their API tokens."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils import timezone

from ... import diagram_svg, web
from ...models import (
    Change,
    Ticket,
)
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

TOKEN_LIFETIMES = {"7": 7, "30": 30, "90": 90}  # days


@web.signed_in
def api_tokens(request: AuthenticatedRequest) -> HttpResponse:
    """A user's own API tokens (django-rest-knox): create one (its key is shown once, in
    this response only, and stored hashed), see when each was made and expires, revoke."""
    from knox.models import AuthToken

    user = request.user
    created_key = None
    status = 200
    if request.method == "POST":
        if "revoke" in request.POST:
            deleted, _ = AuthToken.objects.filter(
                user=user, token_key=request.POST.get("revoke", "")
            ).delete()
            if deleted:
                messages.success(request, "Token revoked: it no longer works.")
            else:
                messages.error(request, "You have no such token; it may be revoked already.")
            return redirect("api_tokens")
        days = TOKEN_LIFETIMES.get(request.POST.get("lifetime", ""), 30)
        _token, created_key = AuthToken.objects.create(user=user, expiry=timedelta(days=days))
        status = 201
    tokens = AuthToken.objects.filter(user=user).order_by("-created")
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
