"""Dates shown, and typed, in the signed-in user's own timezone, on every page."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone


def user_zone(user: Any) -> zoneinfo.ZoneInfo:
    """The user's own timezone; for a customer user, else their organisation's; else the
    site's."""
    names = [getattr(user, "timezone", "")]
    if getattr(user, "is_customer", False):
        names.append(getattr(user.organization, "timezone", ""))
    names.append(settings.TIME_ZONE)
    for name in names:
        if name:
            try:
                return zoneinfo.ZoneInfo(name)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                continue
    return zoneinfo.ZoneInfo("UTC")


class UserTimezoneMiddleware:
    """Activates `user_zone(request.user)` for the request (after AuthenticationMiddleware);
    an anonymous request keeps the site's timezone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return self.get_response(request)
        with timezone.override(user_zone(user)):
            return self.get_response(request)
