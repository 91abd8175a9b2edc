"""What every endpoint shares: ETags, the transition listing, and the two base viewsets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from tickets import services
from tickets.errors import NotVisible, StaleObject
from tickets.models import (
    Change,
    Ticket,
    User,
)
from tickets.selectors import by_pk
from tickets.workflow import TransitionOption

from .. import serializers as s
from ..fields import parse_id, parse_path_ref
from ..pagination import Pagination

# Nested actions: no filters of the main list; bare answers, or pages of their own rows.
NO_LIST: dict[str, Any] = {"filter_backends": [], "pagination_class": None}
NESTED_LIST: dict[str, Any] = {"filter_backends": [], "pagination_class": Pagination}


IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="The ETag of the version you read; a mismatch answers 409 (stale).",
)
ETAG = OpenApiParameter(
    "ETag",
    str,
    OpenApiParameter.HEADER,
    response=[200, 201],
    required=True,
    description="The version of the object; send it back as If-Match.",
)
INCLUDE_BLOCKED = OpenApiParameter(
    "include_blocked",
    bool,
    OpenApiParameter.QUERY,
    required=False,
    description="Also list the transitions a guard refuses now, with the reason.",
)


def etag(obj: Ticket | Change) -> str:
    return f'"{obj.pk}-{obj.updated.strftime("%Y%m%d%H%M%S%f")}"'


def check_if_match(request: Request, obj: Ticket | Change) -> None:
    """Optimistic concurrency: refuse a write based on an outdated read. The caller holds
    the row lock, so nothing changes between this check and the write."""
    header = request.headers.get("If-Match")
    if not header:
        return
    tags = [t.strip() for t in header.split(",")]
    if "*" in tags:
        return
    current = etag(obj)
    if current not in [t[2:] if t.startswith("W/") else t for t in tags]:
        raise StaleObject(
            f"{obj.key} changed since you read it (its ETag is now {current}); "
            "reload it and apply your change again."
        )


def _flag(request: Request, name: str) -> bool:
    raw = request.query_params.get(name)
    if raw is None:
        return False
    if raw not in ("true", "false"):
        raise ValidationError({name: ["Must be true or false."]})
    return raw == "true"


def _option(option: TransitionOption, with_roles: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": option.name,
        "label": option.label,
        "target": option.targets[0] if len(option.targets) == 1 else None,
        "targets": list(option.targets),
        "needs": list(option.needs),
        "allowed": option.allowed,
        "reason": option.reason,
    }
    if with_roles:
        data["roles"] = list(option.extra.get("roles", []))
    return data


def _int_segment(value: str, noun: str) -> int:
    n = parse_id(value)
    if n is None:
        raise NotVisible(f"No {noun} {value}.")
    return n


class ApiView(GenericAPIView):
    """A plain endpoint (not a viewset) of the API: paged, no filters of its own."""

    pagination_class = Pagination
    filter_backends: list[Any] = []

    @property
    def me(self) -> User:
        return self.request.user  # type: ignore[return-value]


class ApiViewSet(viewsets.GenericViewSet):
    lookup_url_kwarg = "id"
    # Any segment reaches the view, which answers 404 in JSON for what is not an id or key.
    lookup_value_regex = "[^/]+"
    key_prefix: str | None = None

    @property
    def me(self) -> User:
        # IsAuthenticated let the request in: the user is one of ours, not AnonymousUser.
        return self.request.user  # type: ignore[return-value]

    def _id(self) -> int:
        raw = self.kwargs["id"]
        n = parse_path_ref(raw, self.key_prefix) if self.key_prefix else None
        if n is None and not self.key_prefix:
            n = _int_segment(raw, self._noun())
        if n is None:
            raise NotVisible(f"No {self._noun()} {raw}.")
        return n

    def _noun(self) -> str:
        return str(self.get_queryset().model._meta.verbose_name)

    def _get(self) -> Any:
        """The object of the path, through the visibility selector, with what it shows."""
        obj = by_pk(self.get_queryset(), self._id())
        if obj is None:
            raise NotVisible(f"No {self._noun()} {self.kwargs['id']}.")
        return obj

    def _page(self, queryset: QuerySet, serializer: type[s.serializers.BaseSerializer]) -> Response:
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer(page, many=True).data)

    def list(self, request: Request) -> Response:
        return self._page(self.filter_queryset(self.get_queryset()), self.get_serializer_class())

    def retrieve(self, request: Request, id: str) -> Response:
        return Response(self.get_serializer(self._get()).data)


# Tickets and changes: answers carry an ETag, writes honour If-Match, and the workflow is
# reached through /transitions/ and /history/. A subclass names its selectors and service,
# and gives its own schema (operation ids, bodies) in its `extend_schema_view`. (A comment,
# not a docstring: drf-spectacular would publish a docstring as every operation's
# description.)
class WorkflowViewSet(ApiViewSet):
    access: Callable[..., Any]  # access_ticket / access_change
    log_visible_to: Callable[[User, Any], QuerySet]
    transition_serializer: type[s.serializers.Serializer]
    options_with_roles = False

    def _subject(self) -> Any:
        """The object of the path, for the user, without what it shows."""
        return self.access(self.me, self._id())

    def _respond(self, pk: int, code: int = status.HTTP_200_OK) -> Response:
        return self._represent(self.get_queryset().get(pk=pk), code)

    def _represent(self, obj: Any, code: int = status.HTTP_200_OK) -> Response:
        return Response(
            self.get_serializer_class()(obj).data, status=code, headers={"ETag": etag(obj)}
        )

    def _lock_unchanged(self, request: Request, pk: int) -> None:
        """Lock the row and refuse a stale If-Match; the caller holds a transaction."""
        check_if_match(request, self.access(self.me, pk, lock=True))

    def _transition(self, pk: int, name: str, given: dict[str, Any]) -> None:
        raise NotImplementedError

    def _shown(self) -> Any:
        """The object of the path with what its representation reads, in one query (the
        visible rows, `get_queryset`), refused in the words `access` uses."""
        pk = self._id()
        obj = by_pk(self.get_queryset(), pk)
        if obj is None:
            raise NotVisible(f"No {self._noun()} {self.key_prefix}-{pk}.")
        return obj

    def retrieve(self, request: Request, id: str) -> Response:
        return self._represent(self._shown())

    @extend_schema(
        summary="The transitions this user may take now",
        parameters=[INCLUDE_BLOCKED],
    )
    @action(detail=True, methods=["get"], url_path="transitions", **NO_LIST)
    def transitions(self, request: Request, id: str) -> Response:
        obj = self.access(self.me, self._id())
        blocked = _flag(request, "include_blocked")
        options = services.transitions_for(obj, self.me)
        return Response(
            [_option(o, self.options_with_roles) for o in options if o.allowed or blocked]
        )

    @extend_schema(parameters=[ETAG])
    @action(detail=True, methods=["post"], url_path=r"transitions/(?P<name>[^/]+)", **NO_LIST)
    def take(self, request: Request, id: str, name: str) -> Response:
        obj = self._subject()
        data = self.transition_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        self._transition(obj.pk, name, data.validated_data)
        return self._respond(obj.pk)

    @extend_schema(
        summary="The append-only transition log",
        responses=s.LogEntrySerializer(many=True),
    )
    @action(detail=True, methods=["get"], **NESTED_LIST)
    def history(self, request: Request, id: str) -> Response:
        obj = self._subject()
        return self._page(self.log_visible_to(self.me, obj), s.LogEntrySerializer)
