"""The endpoints of API.md. Each one fetches through the selectors (another organisation's
object is a 404), checks the shape of the body with a serializer, calls one service (or a
few, in one transaction, when one request edits several sections), and shows the result.
Refusals are the services' DomainErrors, turned into HTTP answers by `errors.py`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from approvals.models import Approval
from notifications.api import CommunicationSerializer
from notifications.selectors import communications_for_change
from tickets import services
from tickets.errors import InvalidInput, NotVisible, StaleObject
from tickets.models import (
    Change,
    ChangeComponent,
    ChecklistItem,
    ComponentVersion,
    Performer,
    TestScenario,
    Ticket,
    User,
)
from tickets.selectors import (
    access_change,
    access_ticket,
    change_log_visible_to,
    changes_visible_to,
    checklist_items_visible_to,
    comments_visible_to,
    components_visible_to,
    organizations_visible_to,
    scenarios_visible_to,
    ticket_log_visible_to,
    tickets_visible_to,
)
from tickets.workflow import TransitionOption

from . import enums
from . import serializers as s
from .fields import parse_id, parse_path_ref
from .filters import ChangeFilter, ComponentFilter, TicketFilter
from .pagination import Pagination

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
        obj = self.get_queryset().filter(pk=self._id()).first()
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
        obj = self.get_queryset().get(pk=pk)
        return Response(
            self.get_serializer_class()(obj).data, status=code, headers={"ETag": etag(obj)}
        )

    def _lock_unchanged(self, request: Request, pk: int) -> None:
        """Lock the row and refuse a stale If-Match; the caller holds a transaction."""
        check_if_match(request, self.access(self.me, pk, lock=True))

    def _transition(self, pk: int, name: str, given: dict[str, Any]) -> None:
        raise NotImplementedError

    def retrieve(self, request: Request, id: str) -> Response:
        return self._respond(self._subject().pk)

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
        # `waiting_on` from an annotation: the change's row is not read for each ticket.
        return Ticket.with_customer_release(
            tickets_visible_to(self.me).select_related("reporter", "assignee")
        )

    def _subject(self) -> Ticket:
        # Through the list's queryset: a ticket the user may not see is "No ticket <as given>".
        return self._get()

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


# --------------------------------------------------------------------------- changes


@extend_schema_view(
    list=extend_schema(summary="Change tickets"),
    retrieve=extend_schema(summary="One change, with its nine sections", parameters=[ETAG]),
    create=extend_schema(
        summary="Write a change (in Draft)",
        request=s.ChangeCreateSerializer,
        responses={201: s.ChangeSerializer},
        parameters=[ETAG],
    ),
    partial_update=extend_schema(
        summary="Edit sections; after an approval this dismisses the round's approvals",
        request=s.ChangeWriteSerializer,
        responses={200: s.ChangeSerializer},
        parameters=[IF_MATCH, ETAG],
    ),
    transitions=extend_schema(
        operation_id="changes_transitions_list",
        responses=s.ChangeTransitionOptionSerializer(many=True),
    ),
    take=extend_schema(
        operation_id="changes_transitions_take",
        summary="Take a transition; answers the updated change",
        request=s.ChangeTransitionSerializer,
        responses={200: s.ChangeSerializer},
    ),
)
class ChangeViewSet(WorkflowViewSet):
    serializer_class = s.ChangeSerializer
    filterset_class = ChangeFilter
    key_prefix = "CHG"
    transition_choices = enums.CHANGE_TRANSITIONS
    access = staticmethod(access_change)
    log_visible_to = staticmethod(change_log_visible_to)
    transition_serializer = s.ChangeTransitionSerializer
    options_with_roles = True

    def get_queryset(self) -> QuerySet:
        return (
            changes_visible_to(self.me)
            .select_related(
                "environment", "author", "reporter", "window_proposed_by", "window_agreed_by"
            )
            .prefetch_related(
                Prefetch(
                    "change_components",
                    queryset=ChangeComponent.objects.select_related("component"),
                ),
                # With the status: django-fsm reads it from every instance it builds
                # (ConcurrentTransitionMixin), a query per ticket were it deferred.
                Prefetch("tickets", queryset=Ticket.objects.only("id", "change_id", "status")),
                Prefetch("scenarios", queryset=TestScenario.objects.select_related("result_by")),
                Prefetch("checklist", queryset=ChecklistItem.objects.select_related("by")),
                Prefetch(
                    "approvals",
                    queryset=Approval.objects.filter(dismissed_at__isnull=True).select_related(
                        "by"
                    ),
                    to_attr="current_approvals",
                ),
            )
        )

    def _change(self) -> Change:
        """The change of the path, for the user, without its sections (for nested rows)."""
        return self._subject()

    def _edit(self, change: int, fields: dict[str, Any], related: dict[str, Any]) -> None:
        """The body's sections, through the one service that saves several at once (and
        judges the change by where the whole edit ends)."""
        versions, ids = related["component_versions"], related["components"]
        if versions is not None:
            pairs: list[tuple[Any, str | None]] | None = [
                (v["component"], v["target_version"]) for v in versions
            ]
        elif ids is not None:
            # Ids only: a component already in the change keeps its target version.
            pairs = [(pk, None) for pk in ids]
        else:
            pairs = None
        services.change_edit(
            change=change,
            by=self.me,
            sections=fields or None,
            components=pairs,
            tickets=related["tickets"],
        )

    def create(self, request: Request) -> Response:
        data = s.ChangeCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        related = _split_related(fields)
        with transaction.atomic():
            try:
                change = services.change_create(
                    by=self.me,
                    organization=fields.pop("organization"),
                    title=fields.pop("title"),
                    environment=fields.pop("environment", None),
                    performer=fields.pop("performer", Performer.PROVIDER),
                    source_ticket=fields.pop("source_ticket", None),
                    **fields,
                )
            except NotVisible as exc:
                # Only the source ticket is looked up for the user: it is a field of the
                # body, not the object of the request.
                raise InvalidInput(exc.message, fields={"source_ticket": [exc.message]}) from exc
            self._edit(change.pk, {}, related)
        return self._respond(change.pk, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, id: str) -> Response:
        change = self._change()
        data = s.ChangeWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        related = _split_related(fields)
        with transaction.atomic():
            self._lock_unchanged(request, change.pk)
            self._edit(change.pk, fields, related)
        return self._respond(change.pk)

    def _transition(self, pk: int, name: str, given: dict[str, Any]) -> None:
        params = {k: given[k] for k in ("role", "resolution") if k in given}
        needs = enums.CHANGE_NEEDS.get(name)
        unused = [k for k in params if needs is not None and k not in needs]
        if unused:
            raise InvalidInput(
                f"'{name}' does not take {', '.join(unused)}.",
                fields={k: [f"Not used by '{name}'."] for k in unused},
            )
        services.change_transition(
            change=pk,
            by=self.me,
            name=name,
            comment=given.get("comment", ""),
            **(params if needs is not None else {}),
        )

    @extend_schema(
        summary="Propose the deployment window (re-proposing an agreed one un-agrees it)",
        request=s.WindowSerializer,
        responses={200: s.ChangeSerializer},
        parameters=[ETAG],
    )
    @action(detail=True, methods=["put"], **NO_LIST)
    def window(self, request: Request, id: str) -> Response:
        change = self._change()
        data = s.WindowSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.change_propose_window(change=change.pk, by=self.me, **data.validated_data)
        return self._respond(change.pk)

    @extend_schema(
        methods=["GET"],
        summary="Section 8: the test scenarios",
        responses=s.ScenarioSerializer(many=True),
    )
    @extend_schema(
        methods=["POST"],
        summary="Add a test scenario",
        request=s.ScenarioCreateSerializer,
        responses={201: s.ScenarioSerializer},
    )
    @action(detail=True, methods=["get", "post"], **NESTED_LIST)
    def scenarios(self, request: Request, id: str) -> Response:
        change = self._change()
        if request.method == "GET":
            rows = scenarios_visible_to(self.me).filter(change=change)
            return self._page(rows.select_related("result_by"), s.ScenarioSerializer)
        data = s.ScenarioCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        scenario = services.scenario_add(change=change.pk, by=self.me, **data.validated_data)
        return Response(s.ScenarioSerializer(scenario).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["PATCH"],
        operation_id="changes_scenarios_partial_update",
        summary="Record a test result, or edit the scenario",
        request=s.ScenarioUpdateSerializer,
        responses={200: s.ScenarioSerializer},
    )
    @extend_schema(
        methods=["DELETE"],
        operation_id="changes_scenarios_destroy",
        summary="Remove a test scenario",
        responses={204: None},
    )
    @action(
        detail=True, methods=["patch", "delete"], url_path=r"scenarios/(?P<sid>[^/]+)", **NO_LIST
    )
    def scenario(self, request: Request, id: str, sid: str) -> Response:
        change = self._change()
        pk = _int_segment(sid, "test scenario")
        if request.method == "DELETE":
            services.scenario_remove(scenario=pk, by=self.me, change=change.pk)
            return Response(status=status.HTTP_204_NO_CONTENT)
        data = s.ScenarioUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if "result" in fields:
            services.scenario_record_result(scenario=pk, by=self.me, change=change.pk, **fields)
        elif fields:
            services.scenario_update(scenario=pk, by=self.me, change=change.pk, **fields)
        found = scenarios_visible_to(self.me).filter(change=change, pk=pk)
        scenario = found.select_related("result_by").first()
        if scenario is None:
            raise NotVisible(f"No test scenario {pk}.")
        return Response(s.ScenarioSerializer(scenario).data)

    @extend_schema(
        summary="Section 9: the pre-release checklist",
        responses=s.ChecklistItemSerializer(many=True),
    )
    @action(detail=True, methods=["get"], **NESTED_LIST)
    def checklist(self, request: Request, id: str) -> Response:
        change = self._change()
        rows = checklist_items_visible_to(self.me).filter(change=change).select_related("by")
        return self._page(rows, s.ChecklistItemSerializer)

    @extend_schema(
        operation_id="changes_checklist_partial_update",
        summary="Confirm a checklist item (done, or not applicable with a reason)",
        request=s.ChecklistUpdateSerializer,
        responses={200: s.ChecklistItemSerializer},
    )
    @action(detail=True, methods=["patch"], url_path=r"checklist/(?P<iid>[^/]+)", **NO_LIST)
    def checklist_item(self, request: Request, id: str, iid: str) -> Response:
        change = self._change()
        pk = _int_segment(iid, "checklist item")
        data = s.ChecklistUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.checklist_item_update(item=pk, by=self.me, change=change.pk, **data.validated_data)
        item = checklist_items_visible_to(self.me).select_related("by").get(pk=pk)
        return Response(s.ChecklistItemSerializer(item).data)

    @extend_schema(
        summary="Every communication queued or sent for this change, with its delivery state",
        responses=CommunicationSerializer(many=True),
    )
    @action(detail=True, methods=["get"], **NESTED_LIST)
    def communications(self, request: Request, id: str) -> Response:
        change = self._change()
        return self._page(communications_for_change(change=change), CommunicationSerializer)


def _split_related(fields: dict[str, Any]) -> dict[str, Any]:
    """Takes sections 2 and 4 (components, component versions, tickets) out of a change's
    body, None for those not given."""
    return {k: fields.pop(k, None) for k in ("components", "component_versions", "tickets")}


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
