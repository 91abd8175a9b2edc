"""Support tickets: the list, one ticket, its comments, transitions and history."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from tickets import services
from tickets.errors import InvalidInput
from tickets.models import (
    Ticket,
    User,
)
from tickets.selectors import (
    access_ticket,
    comments_visible_to,
    ticket_log_visible_to,
    tickets_visible_to,
)

from .. import enums
from .. import serializers as s
from ..filters import TicketFilter
from ..ticket_rows import represent, with_representation
from .base import ETAG, IF_MATCH, NESTED_LIST, WorkflowViewSet

# --------------------------------------------------------------------------- tickets


@extend_schema_view(
    list=extend_schema(summary="Support tickets"),
    retrieve=extend_schema(summary="One ticket", parameters=[ETAG]),
    create=extend_schema(
        summary="Raise a ticket",
        request=s.TicketCreateSerializer,
        responses={201: s.TicketSerializer},
        parameters=[ETAG],
    ),
    partial_update=extend_schema(
        summary="Edit a ticket (title, description, type, priority, assignee); never its status",
        request=s.TicketUpdateSerializer,
        responses={200: s.TicketSerializer},
        parameters=[IF_MATCH, ETAG],
    ),
    transitions=extend_schema(
        operation_id="tickets_transitions_list",
        responses=s.TransitionOptionSerializer(many=True),
    ),
    take=extend_schema(
        operation_id="tickets_transitions_take",
        summary="Take a transition; answers the updated ticket",
        request=s.TicketTransitionSerializer,
        responses={200: s.TicketSerializer},
    ),
)
class TicketViewSet(WorkflowViewSet):
    serializer_class = s.TicketSerializer
    filterset_class = TicketFilter
    key_prefix = "SUP"
    transition_choices = enums.TICKET_TRANSITIONS
    access = staticmethod(access_ticket)
    log_visible_to = staticmethod(ticket_log_visible_to)
    transition_serializer = s.TicketTransitionSerializer

    def get_queryset(self) -> QuerySet:
        # Who each ticket waits on from an annotation (its change's row is not read), the
        # usernames from subqueries (ticket_rows).
        return with_representation(tickets_visible_to(self.me))

    def list(self, request: Request) -> Response:
        rows = list(self.paginate_queryset(self.filter_queryset(self.get_queryset())) or [])
        return self.get_paginated_response(represent(rows))

    def _subject(self) -> Ticket:
        # Through the list's queryset: a ticket the user may not see is "No ticket <as given>".
        return self._get()

    def _shown(self) -> Ticket:
        return self._get()  # the same query, with what the representation reads

    def create(self, request: Request) -> Response:
        data = s.TicketCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ticket = services.ticket_create(by=self.me, **data.validated_data)
        return self._respond(ticket.pk, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, id: str) -> Response:
        ticket = self._get()
        data = s.TicketUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        with transaction.atomic():
            self._lock_unchanged(request, ticket.pk)
            if "assignee" in fields:
                services.ticket_assign(
                    ticket=ticket.pk, by=self.me, assignee=_assignee(fields.pop("assignee"))
                )
            if fields:
                services.ticket_update(ticket=ticket.pk, by=self.me, **fields)
        return self._respond(ticket.pk)

    @extend_schema(
        methods=["GET"],
        summary="The ticket's comments (a customer sees the public ones)",
        responses=s.CommentSerializer(many=True),
    )
    @extend_schema(
        methods=["POST"],
        summary="Comment; may move the ticket (reply / customer_reply, WORKFLOW.md)",
        request=s.CommentCreateSerializer,
        responses={201: s.CommentSerializer},
    )
    @action(detail=True, methods=["get", "post"], **NESTED_LIST)
    def comments(self, request: Request, id: str) -> Response:
        ticket = self._get()
        if request.method == "GET":
            rows = comments_visible_to(self.me).filter(ticket=ticket).select_related("author")
            return self._page(rows, s.CommentSerializer)
        data = s.CommentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        comment = services.ticket_comment(
            ticket=ticket.pk,
            by=self.me,
            body=data.validated_data["body"],
            public=data.validated_data.get("public", True),
        )
        comment = comments_visible_to(self.me).select_related("author").get(pk=comment.pk)
        return Response(s.CommentSerializer(comment).data, status=status.HTTP_201_CREATED)

    def _transition(self, pk: int, name: str, given: dict[str, Any]) -> None:
        services.ticket_transition(
            ticket=pk, by=self.me, name=name, comment=given.get("comment", "")
        )


def _assignee(username: str | None) -> User | None:
    if username is None:
        return None
    user = User.objects.filter(username=username, kind=User.Kind.PROVIDER).first()
    if user is None:
        raise InvalidInput(
            f"No provider staff member is called '{username}'.",
            fields={"assignee": ["No provider staff member with this username."]},
        )
    return user
