"""Types shared by the front ends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from .models import User


class AuthenticatedRequest(HttpRequest):
    """A request behind `login_required`: `request.user` is one of our users.

    Annotate views with it instead of HttpRequest so the services, which take a `User`,
    type-check without casts."""

    user: User  # type: ignore[assignment]
