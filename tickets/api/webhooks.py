"""`/api/v1/webhooks/` (API.md, "Deployment gate and webhooks"): subscribe endpoints, read
their delivery log, redeliver. Each view translates to and from one function of
`notifications.webhooks.subscriptions`, which decides who may do what; a customer user
sees and subscribes only their organisation's endpoints (another's is a 404)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from notifications.models import WebhookDelivery, WebhookEndpoint, WebhookEventType
from notifications.webhooks import subscriptions

from .fields import IdField, StrictBooleanField, StrictCharField
from .serializers import StrictInputSerializer
from .views.base import ApiView, _int_segment

EVENTS_HELP = "Event types to receive; every type when empty."


class WebhookSerializer(serializers.ModelSerializer):
    owner: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    events = serializers.ListField(child=serializers.CharField(), help_text=EVENTS_HELP)

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "events",
            "organization",
            "owner",
            "active",
            "created",
            "disabled_at",
            "disabled_reason",
        ]
        read_only_fields = fields


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text="The signing secret (whsec_...): shown this once; keep it to verify "
        "the webhook-signature header.",
    )

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookWriteSerializer(StrictInputSerializer):
    url = StrictCharField(max_length=subscriptions.URL_MAX, required=False)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEventType.values),
        required=False,
        max_length=len(WebhookEventType.values),
        help_text=EVENTS_HELP,
    )
    active = StrictBooleanField(required=False)


class WebhookCreateSerializer(WebhookWriteSerializer):
    url = StrictCharField(max_length=subscriptions.URL_MAX)
    organization = IdField(
        required=False,
        allow_null=True,
        help_text="Provider staff: the organisation whose events it receives, or null for "
        "every organisation's. A customer user's endpoint is always their organisation's.",
    )


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.IntegerField(source="event.id", read_only=True)
    type = serializers.CharField(source="event.type", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "type",
            "object_key",
            "state",
            "attempts",
            "status_code",
            "duration_ms",
            "error",
            "created",
            "next_attempt_at",
            "sent_at",
        ]
        read_only_fields = fields


class _WebhookView(ApiView):
    def _endpoint(self, id: str) -> WebhookEndpoint:
        return subscriptions.access_endpoint(self.me, _int_segment(id, "webhook"))


class WebhookListView(_WebhookView):
    serializer_class = WebhookSerializer

    def get_queryset(self) -> Any:
        return subscriptions.endpoints_visible_to(self.me).order_by("id")

    @extend_schema(
        operation_id="webhooks_list",
        summary="Your webhook endpoints",
        responses=WebhookSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(WebhookSerializer(page, many=True).data)

    @extend_schema(
        operation_id="webhooks_create",
        summary="Subscribe an endpoint; the answer shows its secret, once",
        request=WebhookCreateSerializer,
        responses={201: WebhookCreatedSerializer},
    )
    def post(self, request: Request) -> Response:
        body = WebhookCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        endpoint = subscriptions.webhook_create(by=self.me, **body.validated_data)
        return Response(WebhookCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookDetailView(_WebhookView):
    serializer_class = WebhookSerializer

    @extend_schema(operation_id="webhooks_retrieve", summary="One webhook endpoint")
    def get(self, request: Request, id: str) -> Response:
        return Response(WebhookSerializer(self._endpoint(id)).data)

    @extend_schema(
        operation_id="webhooks_partial_update",
        summary="Change the URL or the events, or switch it on or off",
        request=WebhookWriteSerializer,
        responses={200: WebhookSerializer},
    )
    def patch(self, request: Request, id: str) -> Response:
        body = WebhookWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        endpoint = subscriptions.webhook_update(
            endpoint=_int_segment(id, "webhook"), by=self.me, **body.validated_data
        )
        return Response(WebhookSerializer(endpoint).data)

    @extend_schema(operation_id="webhooks_destroy", summary="Unsubscribe", responses={204: None})
    def delete(self, request: Request, id: str) -> Response:
        subscriptions.webhook_delete(endpoint=_int_segment(id, "webhook"), by=self.me)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveriesView(_WebhookView):
    serializer_class = WebhookDeliverySerializer

    @extend_schema(
        operation_id="webhooks_deliveries_list",
        summary="The delivery log: each event, its state, status code, duration and error",
        responses=WebhookDeliverySerializer(many=True),
    )
    def get(self, request: Request, id: str) -> Response:
        endpoint = self._endpoint(id)
        page = self.paginate_queryset(subscriptions.deliveries_of(endpoint))
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)


class WebhookRedeliverView(_WebhookView):
    serializer_class = WebhookDeliverySerializer

    @extend_schema(
        operation_id="webhooks_deliveries_redeliver",
        summary="Send a delivery's event again (a new delivery, signed anew)",
        request=None,
        responses={201: WebhookDeliverySerializer},
    )
    def post(self, request: Request, id: str, did: str) -> Response:
        again = subscriptions.webhook_redeliver(
            endpoint=_int_segment(id, "webhook"), delivery=_int_segment(did, "delivery"), by=self.me
        )
        return Response(WebhookDeliverySerializer(again).data, status=status.HTTP_201_CREATED)
