"""The shape of `/api/v1/changes/{id}/communications/` (API.md): each communication queued
or sent for a change with its delivery counts and, for failures, the reason. The route is
the API's (tickets/api/); it reads `selectors.communications_for_change`, whose
annotations these fields expect, and `selectors.show_failures` for the failures."""

from __future__ import annotations

from rest_framework import serializers

from .models import Delivery, Notification, NotificationKind


class DeliveryCountsSerializer(serializers.Serializer):
    pending = serializers.IntegerField(
        source="n_pending", read_only=True, help_text="Queued, being sent or waiting to retry."
    )
    sent = serializers.IntegerField(source="n_sent", read_only=True)
    failed = serializers.IntegerField(source="n_failed", read_only=True)


class DeliveryFailureSerializer(serializers.ModelSerializer):
    error = serializers.CharField(source="last_error", read_only=True)

    class Meta:
        model = Delivery
        fields = ["recipient", "error"]
        read_only_fields = fields


class CommunicationSerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=NotificationKind.choices, read_only=True)
    deliveries = DeliveryCountsSerializer(source="*", read_only=True)
    failures = DeliveryFailureSerializer(
        source="failures_shown",
        many=True,
        read_only=True,
        help_text="Failed recipients with the reason (at most 20; `deliveries.failed` counts "
        "them all).",
    )

    class Meta:
        model = Notification
        fields = ["id", "kind", "subject", "created", "deliveries", "failures"]
        read_only_fields = fields
