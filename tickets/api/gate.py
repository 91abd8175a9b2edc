"""`GET /api/v1/changes/{id}/gate/`: may a pipeline deploy this change now (API.md,
"Deployment gate and webhooks"). The answer is `tickets.models.gate`'s; this view fetches
the change for the caller (another organisation's is a 404) with what the gate reads, in a
fixed number of queries whatever the change holds."""

from __future__ import annotations

from django.db.models import Prefetch
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tickets.errors import NotVisible
from tickets.models import (
    Change,
    ChangeComponent,
    ChecklistItem,
    Ticket,
    User,
    deployment_gate,
)
from tickets.selectors import changes_visible_to

from .fields import StrictCharField, parse_path_ref


class GateQuerySerializer(serializers.Serializer):
    environment = StrictCharField(
        required=False,
        max_length=30,
        help_text="The code of the environment the pipeline deploys to (uat, production); "
        "by default the change's own.",
    )


class GateWindowSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()


class GateSerializer(serializers.Serializer):
    allowed = serializers.BooleanField(help_text="True when the pipeline may deploy now.")
    reasons = serializers.ListField(
        child=serializers.CharField(),
        help_text="Every unmet condition, one sentence each; empty when allowed.",
    )
    window = GateWindowSerializer(
        allow_null=True, help_text="The deployment window, null while none is proposed."
    )


class ChangeGateView(APIView):
    # For the schema (tickets/api/schema.py): the path's id is 12 or CHG-12, and a bad
    # `?environment=` is a 400.
    key_prefix = "CHG"
    error_statuses = ["400", "401", "404", "429"]

    @extend_schema(
        operation_id="changes_gate_retrieve",
        summary="May a pipeline deploy this change now? Every unmet condition, if not",
        description="Allowed only when the change is approved (To be released), the time "
        "is inside its agreed window, every checklist item is done or not applicable, no "
        "attached ticket is on hold, the environment asked is the change's, and no hard "
        "freeze is in force. `changeprocess-gate` (docs/api.md) polls this.",
        parameters=[GateQuerySerializer],
        responses={200: GateSerializer},
        tags=["changes"],
    )
    def get(self, request: Request, id: str) -> Response:
        # A plain dict: DRF reads an empty value of a form-like QueryDict as "not given",
        # and `?environment=` is an error, not the default.
        query = GateQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        user: User = request.user  # type: ignore[assignment]
        change = self._change(user, id)
        answer = deployment_gate(
            change, now=timezone.now(), environment=query.validated_data.get("environment")
        )
        window = None
        if answer.window_start and answer.window_end:
            window = {"start": answer.window_start, "end": answer.window_end}
        return Response(
            GateSerializer(
                {"allowed": answer.allowed, "reasons": answer.reasons, "window": window}
            ).data
        )

    @staticmethod
    def _change(user: User, ref: str) -> Change:
        pk = parse_path_ref(ref, ChangeGateView.key_prefix)
        change = (
            changes_visible_to(user)
            .filter(pk=pk)
            .select_related("environment")
            .prefetch_related(
                Prefetch(
                    "checklist",
                    queryset=ChecklistItem.objects.only(
                        "id", "change_id", "label", "state", "position"
                    ),
                ),
                Prefetch("tickets", queryset=Ticket.objects.all()),
                Prefetch(
                    "change_components",
                    queryset=ChangeComponent.objects.only("id", "change_id", "component_id"),
                ),
            )
            .first()
            if pk is not None
            else None
        )
        if change is None:
            raise NotVisible(f"No change {ref}.")
        return change
