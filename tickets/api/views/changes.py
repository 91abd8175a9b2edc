"""Change tickets: the list, one change and its sections, transitions, window, scenarios,
checklist, communications and history."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from notifications.api import CommunicationSerializer
from notifications.selectors import communications_for_change, show_failures
from tickets import services
from tickets.errors import InvalidInput, NotVisible
from tickets.models import (
    Change,
    Performer,
)
from tickets.selectors import (
    access_change,
    change_log_visible_to,
    changes_visible_to,
    checklist_items_visible_to,
    scenarios_visible_to,
)

from .. import enums
from .. import serializers as s
from ..change_rows import represent, with_representation
from ..filters import ChangeFilter
from .base import (
    ETAG,
    IF_MATCH,
    NESTED_LIST,
    NO_LIST,
    WorkflowViewSet,
    _int_segment,
    etag,
)

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
        # The changes with what their representation reads besides its nested rows
        # (change_rows.represent reads those for a whole page at once).
        return with_representation(changes_visible_to(self.me))

    def _represent(self, obj: Any, code: int = status.HTTP_200_OK) -> Response:
        return Response(represent([obj])[0], status=code, headers={"ETag": etag(obj)})

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

    def list(self, request: Request) -> Response:
        """A page of changes, with their conflicts computed for the page at once."""
        rows = list(self.paginate_queryset(self.filter_queryset(self.get_queryset())) or [])
        return self.get_paginated_response(represent(rows))

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
            override_reason=given.get("override_reason", ""),
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
        page = self.paginate_queryset(communications_for_change(change=self._change()))
        rows = show_failures(list(page or []))
        return self.get_paginated_response(CommunicationSerializer(rows, many=True).data)


def _split_related(fields: dict[str, Any]) -> dict[str, Any]:
    """Takes sections 2 and 4 (components, component versions, tickets) out of a change's
    body, None for those not given."""
    return {k: fields.pop(k, None) for k in ("components", "component_versions", "tickets")}
