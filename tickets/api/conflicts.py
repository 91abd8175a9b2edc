"""A change's conflicts as the API shows them (API.md, "Scheduling")."""

from __future__ import annotations

from rest_framework import serializers

from . import enums


class ConflictSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=enums.SCHEDULE_KINDS)
    id = serializers.IntegerField()
    key = serializers.CharField(
        allow_null=True, help_text="CHG-<id> for a change; null for a freeze."
    )
    title = serializers.CharField()
    reason = serializers.CharField(help_text="What overlaps, when, on what.")
