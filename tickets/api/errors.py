"""The one place where refusals become HTTP answers (API.md, "Errors").

Every error body is `{"detail", "code"}`; a 400 also carries `fields`, each offending field
with its messages. `detail` is a sentence naming the rule that refused the request.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError
from django.http import Http404
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from tickets.errors import DomainError

logger = logging.getLogger(__name__)


class ErrorSerializer(serializers.Serializer):
    """The body of every error response (documented in the schema as `Error`)."""

    # A declared attribute called `fields` would shadow Serializer.fields, hence get_fields.
    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            "detail": serializers.CharField(help_text="What refused the request, and why."),
            "code": serializers.CharField(
                help_text="A stable word for the kind of refusal: invalid, not_authenticated, "
                "permission_denied, not_found, wrong_state, guard_failed, stale, conflict, "
                "throttled, ..."
            ),
            "fields": serializers.DictField(
                child=serializers.ListField(child=serializers.CharField()),
                required=False,
                help_text="On a 400: each offending field (dotted path for nested ones) "
                "with its messages.",
            ),
        }


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"field": [...], "nested.0.field": [...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, Mapping):
        for key, value in detail.items():
            name = "non_field_errors" if key == "non_field_errors" and not prefix else str(key)
            out.update(_flatten(value, f"{prefix}.{name}" if prefix else name))
    elif isinstance(detail, list):
        if all(not isinstance(item, Mapping | list) for item in detail):
            out.setdefault(prefix or "non_field_errors", []).extend(str(i) for i in detail)
        else:
            for index, item in enumerate(detail):
                if item:
                    out.update(_flatten(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        out.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return out


def _summary(fields: dict[str, list[str]]) -> str:
    parts = [f"{name}: {' '.join(messages)}" for name, messages in fields.items()]
    return "Invalid input. " + "; ".join(parts)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        set_rollback()
        body: dict[str, Any] = {"detail": exc.message, "code": exc.code}
        if exc.http_status == 400:
            body["fields"] = exc.fields or {"non_field_errors": [exc.message]}
        return Response(body, status=exc.http_status)
    if isinstance(exc, IntegrityError):
        # The database's own constraints (one approval per role and per person in a round,
        # unique names) caught what two concurrent requests each checked successfully.
        logger.warning("Integrity error answered as 409: %s", exc)
        set_rollback()
        return Response(
            {
                "detail": "Another request changed the same data at the same moment; "
                "reload and try again.",
                "code": "conflict",
            },
            status=409,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django's 500 handling and logging take over
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        response.data = {"detail": _summary(fields), "code": "invalid", "fields": fields}
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        code = exc.get_codes()
        data: dict[str, Any] = {
            "detail": str(detail),
            "code": code if isinstance(code, str) else exc.default_code,
        }
        if response.status_code == 400:
            data["fields"] = {"body": [str(detail)]}
        response.data = data
    return response
