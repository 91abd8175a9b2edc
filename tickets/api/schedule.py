"""Scheduling (API.md, "Scheduling: calendar, freezes, conflicts"): the calendar of
windows and freezes, the freezes themselves (operations management writes them), and the
secret iCalendar feed URL. Each view translates to and from `tickets.scheduling` (reading)
and `tickets.services.schedule` (writing)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from tickets.errors import InvalidInput, NotVisible
from tickets.models import TIMEZONE_CHOICES, ChangeStatus, Freeze, User
from tickets.scheduling import calendar_entries, parse_range
from tickets.scheduling.ical import calendar_feed
from tickets.selectors import freezes_visible_to
from tickets.services import schedule

from . import enums
from .conflicts import ConflictSerializer
from .fields import AwareDateTimeField, IdField, StrictBooleanField, StrictCharField, parse_id
from .serializers import StrictInputSerializer
from .views.base import ApiView, _int_segment


class CalendarEntrySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=enums.SCHEDULE_KINDS)
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    title = serializers.CharField()
    organization = serializers.IntegerField(
        allow_null=True, help_text="Null for a freeze of every organisation."
    )
    environment = serializers.CharField(
        allow_null=True, help_text="Code; null for a freeze of every environment."
    )
    change = serializers.IntegerField(required=False, help_text="kind change: its id.")
    key = serializers.CharField(required=False, help_text="kind change: CHG-<id>.")
    status = serializers.ChoiceField(
        choices=ChangeStatus.choices, required=False, help_text="kind change."
    )
    window_agreed = serializers.BooleanField(required=False, help_text="kind change.")
    conflicts = ConflictSerializer(many=True, required=False, help_text="kind change.")
    freeze = serializers.IntegerField(required=False, help_text="kind freeze: its id.")
    hard = serializers.BooleanField(required=False, help_text="kind freeze.")
    reason = serializers.CharField(required=False, help_text="kind freeze.")


class FreezeSerializer(serializers.ModelSerializer):
    components = serializers.SerializerMethodField()
    created_by: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = Freeze
        fields = ["id", *schedule.FREEZE_FIELDS, "created_by", "created", "updated"]
        read_only_fields = fields

    def get_components(self, obj: Freeze) -> list[int]:
        return [c.pk for c in obj.components.all()]


class FreezeWriteSerializer(StrictInputSerializer):
    title = StrictCharField(max_length=200, required=False)
    reason = StrictCharField(max_length=5000, required=False, allow_blank=True)
    start = AwareDateTimeField(required=False, help_text="Start of the first period.")
    end = AwareDateTimeField(required=False, help_text="End of the first period.")
    timezone = serializers.ChoiceField(
        choices=TIMEZONE_CHOICES,
        required=False,
        help_text="The wall clock a recurrence follows (default UTC).",
    )
    rrule = StrictCharField(
        max_length=500,
        required=False,
        allow_blank=True,
        help_text="RFC 5545 recurrence rule, e.g. FREQ=WEEKLY;BYDAY=FR; empty for once.",
    )
    hard = StrictBooleanField(required=False, help_text="Hard (default): perform is refused.")
    organization = IdField(required=False, allow_null=True, help_text="Null: every one.")
    environment = IdField(required=False, allow_null=True, help_text="Null: every one.")
    components = serializers.ListField(
        child=IdField(), required=False, max_length=500, help_text="Empty: every component."
    )


class FreezeCreateSerializer(FreezeWriteSerializer):
    title = StrictCharField(max_length=200)
    start = AwareDateTimeField()
    end = AwareDateTimeField()


class FeedSerializer(serializers.Serializer):
    url = serializers.URLField(
        help_text="Your secret iCalendar URL: anyone holding it sees your calendar. "
        "Shown once; asking again revokes it and gives a new one."
    )


def _freezes(user: User) -> Any:
    return freezes_visible_to(user).select_related("created_by").prefetch_related("components")


RANGE = [
    OpenApiParameter("start", str, required=True, description="Date or date-time."),
    OpenApiParameter("end", str, required=True, description="Date (included) or date-time."),
    OpenApiParameter("organization", int, description="An organisation id."),
    OpenApiParameter("environment", str, description="An environment code."),
    OpenApiParameter("component", int, description="A component id."),
    OpenApiParameter("status", str, many=True, description="Change statuses (repeatable)."),
]


class CalendarView(ApiView):
    serializer_class = CalendarEntrySerializer
    pagination_class = None  # type: ignore[assignment]  # a range, bounded: not paged
    error_statuses = ["400", "401", "429"]

    @extend_schema(
        operation_id="calendar_list",
        summary="Deployment windows and freezes in a range (at most 92 days)",
        parameters=RANGE,
        responses=CalendarEntrySerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        q = request.query_params
        start, end = parse_range(q.get("start"), q.get("end"))
        environment = None
        if q.get("environment"):
            from tickets.models import Environment

            env = Environment.objects.filter(code=q["environment"]).first()
            if env is None:
                raise InvalidInput(
                    f"No environment '{q['environment']}'.",
                    fields={"environment": ["Unknown environment code."]},
                )
            environment = env.pk
        statuses = q.getlist("status")
        unknown = [x for x in statuses if x not in ChangeStatus.values]
        if unknown:
            raise InvalidInput(
                f"Unknown status: {', '.join(unknown)}.", fields={"status": ["Unknown status."]}
            )
        entries = calendar_entries(
            self.me,
            start,
            end,
            organization=_int_param(q, "organization"),
            environment=environment,
            component=_int_param(q, "component"),
            statuses=statuses or None,
        )
        return Response([e.as_dict() for e in entries])


def _int_param(q: Any, name: str) -> int | None:
    raw = q.get(name)
    if raw in (None, ""):
        return None
    n = parse_id(raw)
    if n is None:
        raise InvalidInput(f"'{name}' must be an id.", fields={name: ["An id."]})
    return n


class FreezeListView(ApiView):
    serializer_class = FreezeSerializer

    @extend_schema(
        operation_id="freezes_list",
        summary="Freezes you may see",
        responses=FreezeSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(_freezes(self.me).order_by("start", "id"))
        return self.get_paginated_response(FreezeSerializer(page, many=True).data)

    @extend_schema(
        operation_id="freezes_create",
        summary="Declare a freeze (operations management)",
        request=FreezeCreateSerializer,
        responses={201: FreezeSerializer},
    )
    def post(self, request: Request) -> Response:
        body = FreezeCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        freeze = schedule.freeze_create(by=self.me, **body.validated_data)
        return Response(FreezeSerializer(freeze).data, status=status.HTTP_201_CREATED)


class FreezeDetailView(ApiView):
    serializer_class = FreezeSerializer

    def _id(self, id: str) -> int:
        return _int_segment(id, "freeze")

    @extend_schema(operation_id="freezes_retrieve", summary="One freeze")
    def get(self, request: Request, id: str) -> Response:
        freeze = _freezes(self.me).filter(pk=self._id(id)).first()
        if freeze is None:
            raise NotVisible(f"No freeze {id}.")
        return Response(FreezeSerializer(freeze).data)

    @extend_schema(
        operation_id="freezes_partial_update",
        summary="Change a freeze (operations management)",
        request=FreezeWriteSerializer,
        responses={200: FreezeSerializer},
    )
    def patch(self, request: Request, id: str) -> Response:
        body = FreezeWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        freeze = schedule.freeze_update(freeze=self._id(id), by=self.me, **body.validated_data)
        return Response(FreezeSerializer(freeze).data)

    @extend_schema(
        operation_id="freezes_destroy",
        summary="Lift a freeze (operations management)",
        responses={204: None},
    )
    def delete(self, request: Request, id: str) -> Response:
        schedule.freeze_delete(freeze=self._id(id), by=self.me)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CalendarFeedView(ApiView):
    serializer_class = FeedSerializer

    @extend_schema(
        operation_id="calendar_feed_create",
        summary="A new secret iCalendar URL for you (the previous one stops working)",
        request=None,
        responses={201: FeedSerializer},
    )
    def post(self, request: Request) -> Response:
        token = schedule.calendar_feed_issue(by=self.me)
        url = request.build_absolute_uri(reverse("calendar-feed", args=[token]))
        return Response({"url": url}, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="calendar_feed_destroy",
        summary="Revoke your calendar URL",
        responses={204: None},
    )
    def delete(self, request: Request) -> Response:
        schedule.calendar_feed_revoke(by=self.me)
        return Response(status=status.HTTP_204_NO_CONTENT)


@require_GET
def feed_download(request: HttpRequest, token: str) -> HttpResponse:
    """The feed itself: no other credentials than the secret in the URL; a revoked or
    unknown one is a 404 (as for any calendar client's stale subscription)."""
    try:
        user = schedule.calendar_feed_user(token)
    except NotVisible:
        return HttpResponse("No such calendar feed.\n", status=404, content_type="text/plain")
    body = calendar_feed(user, base_url=request.build_absolute_uri("/"))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="changeprocess.ics"'
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response
