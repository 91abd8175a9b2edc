"""Organisations, components, who the token acts as, and the API's own 404."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tickets import services
from tickets.models import (
    ComponentVersion,
    User,
)
from tickets.selectors import (
    components_visible_to,
    organizations_visible_to,
)

from .. import serializers as s
from ..filters import ComponentFilter
from ..pagination import Pagination
from .base import ApiViewSet

# Nested actions: no filters of the main list; bare answers, or pages of their own rows.
NO_LIST: dict[str, Any] = {"filter_backends": [], "pagination_class": None}
NESTED_LIST: dict[str, Any] = {"filter_backends": [], "pagination_class": Pagination}


# --------------------------------------------------------------------------- organisations


@extend_schema_view(
    list=extend_schema(summary="Organisations (a customer user sees only their own)"),
    retrieve=extend_schema(summary="One organisation"),
)
class OrganizationViewSet(ApiViewSet):
    serializer_class = s.OrganizationSerializer
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet:
        return organizations_visible_to(self.me)


# --------------------------------------------------------------------------- components


@extend_schema_view(
    list=extend_schema(summary="Components, with the current version on each environment"),
    retrieve=extend_schema(summary="One component"),
    create=extend_schema(
        summary="Register a component (provider staff)",
        request=s.ComponentCreateSerializer,
        responses={201: s.ComponentSerializer},
    ),
)
class ComponentViewSet(ApiViewSet):
    serializer_class = s.ComponentSerializer
    filterset_class = ComponentFilter

    def get_queryset(self) -> QuerySet:
        return components_visible_to(self.me).prefetch_related(
            Prefetch("versions", queryset=ComponentVersion.objects.select_related("environment"))
        )

    def create(self, request: Request) -> Response:
        data = s.ComponentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        component = services.component_create(by=self.me, **data.validated_data)
        fresh = self.get_queryset().get(pk=component.pk)
        return Response(s.ComponentSerializer(fresh).data, status=status.HTTP_201_CREATED)


# --------------------------------------------------------------------------- me, 404


class MeView(APIView):
    @extend_schema(
        operation_id="me_retrieve",
        summary="Who this token (or session) acts as",
        responses={200: s.MeSerializer},
    )
    def get(self, request: Request) -> Response:
        user: User = request.user  # type: ignore[assignment]
        roles = [str(r) for r in user.roles]
        return Response(
            s.MeSerializer(
                {
                    "id": user.pk,
                    "username": user.get_username(),
                    "name": user.get_full_name(),
                    "kind": user.kind,
                    "organization": user.organization_id,
                    "roles": roles,
                }
            ).data
        )


class NotFoundView(APIView):
    """Any other path under /api/: a JSON 404 rather than Django's HTML page."""

    permission_classes: list[Any] = []
    authentication_classes: list[Any] = []
    throttle_classes: list[Any] = []
    schema = None  # not an endpoint: left out of the OpenAPI schema

    def _answer(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise NotFound(
            f"There is no API endpoint at {request.path} (paths end with a slash; see /api/docs/)."
        )

    get = post = put = patch = delete = head = options = _answer
