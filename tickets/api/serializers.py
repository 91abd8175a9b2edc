"""The shapes of API.md: what each resource shows, and what each write accepts.

Read serializers only present rows the views fetched through the selectors. Write
serializers check the shape of input (types, lengths, known choices); every business rule
is the services' to apply, and their refusals come back through `errors.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from approvals.models import Approval
from tickets.limits import NOTE_MAX
from tickets.models import (
    Change,
    ChangeComponent,
    ChangeStatus,
    ChecklistItem,
    ChecklistState,
    Component,
    Organization,
    Performer,
    Priority,
    Resolution,
    ScenarioKind,
    ScenarioResult,
    TestScenario,
    Ticket,
    TicketComment,
    TicketStatus,
    TicketType,
    TransitionLog,
)
from tickets.scheduling import conflicts_of_one

from . import enums
from .conflicts import ConflictSerializer
from .fields import (
    MAX_INT,
    AwareDateTimeField,
    BlankAsNullChoiceField,
    IdField,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    TicketRefField,
    UsernameField,
)

SIDES = Performer.choices


def _username(**kwargs: Any) -> serializers.SlugRelatedField:
    return UsernameField(slug_field="username", read_only=True, **kwargs)


class StrictInputSerializer(serializers.Serializer):
    """Refuses fields it does not know, instead of ignoring them: a misspelt field or an
    attempt to write `status` is a 400 that says so."""

    read_only_hint: dict[str, str] = {}

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            writable = {name for name, f in self.fields.items() if not f.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                raise serializers.ValidationError(
                    {
                        name: [
                            self.read_only_hint.get(
                                name,
                                "Unknown field; this request takes: "
                                + ", ".join(sorted(writable))
                                + ".",
                            )
                        ]
                        for name in unknown
                    }
                )
        return super().to_internal_value(data)


STATUS_HINT = {
    "status": "The status is never written directly; take a transition "
    "(POST .../transitions/{name}/).",
}


# --------------------------------------------------------------------------- read


class OrganizationSerializer(serializers.ModelSerializer):
    timezone = serializers.CharField(read_only=True, help_text="An IANA time zone name.")

    class Meta:
        model = Organization
        fields = ["id", "name", "slug", "timezone"]


class ComponentSerializer(serializers.ModelSerializer):
    versions = serializers.SerializerMethodField(
        help_text="The version currently running on each environment, by environment code."
    )

    class Meta:
        model = Component
        fields = ["id", "organization", "name", "description", "versions"]

    @extend_schema_field(
        {"type": "object", "additionalProperties": {"type": "string"}, "example": {"uat": "2.4.0"}}
    )
    def get_versions(self, obj: Component) -> dict[str, str]:
        return {v.environment.code: v.version for v in obj.versions.all()}


class TicketSerializer(serializers.ModelSerializer):
    key = serializers.CharField(read_only=True, help_text="SUP-<id>")
    reporter = _username()
    assignee = _username(allow_null=True)
    waiting_on = serializers.ChoiceField(
        choices=SIDES,
        read_only=True,
        allow_null=True,
        help_text="Who must act next; null once done or on hold.",
    )

    class Meta:
        model = Ticket
        fields = [
            "id",
            "key",
            "title",
            "description",
            "type",
            "organization",
            "status",
            "priority",
            "reporter",
            "assignee",
            "change",
            "waiting_on",
            "created",
            "updated",
        ]
        read_only_fields = fields


class CommentSerializer(serializers.ModelSerializer):
    author = _username()

    class Meta:
        model = TicketComment
        fields = ["id", "ticket", "author", "body", "public", "created"]
        read_only_fields = fields


class LogEntrySerializer(serializers.ModelSerializer):
    actor = _username(allow_null=True)

    class Meta:
        model = TransitionLog
        fields = ["id", "at", "actor", "transition", "source", "target", "comment"]
        read_only_fields = fields


class ScenarioSerializer(serializers.ModelSerializer):
    result_by = _username(allow_null=True)

    class Meta:
        model = TestScenario
        fields = [
            "id",
            "position",
            "kind",
            "description",
            "result",
            "result_by",
            "result_at",
            "note",
        ]
        read_only_fields = fields


class ChecklistItemSerializer(serializers.ModelSerializer):
    by = _username(allow_null=True)

    class Meta:
        model = ChecklistItem
        fields = ["id", "position", "label", "state", "reason", "by", "at"]
        read_only_fields = fields


class ApprovalSerializer(serializers.ModelSerializer):
    by = _username()

    class Meta:
        model = Approval
        fields = ["role", "decision", "by", "at", "comment"]
        read_only_fields = fields


class ChangeComponentSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="component.name", read_only=True)

    class Meta:
        model = ChangeComponent
        fields = ["component", "name", "target_version"]
        read_only_fields = fields


class CommunicationPlanSerializer(StrictInputSerializer):
    """The plan agreed with the customer for an outage. The message is sent in every outage
    communication; audience and timing are informative: sending goes to every end-user
    contact of the organisation, announcing once the change is approved and its window
    agreed, reminding before the window, and telling when it is over."""

    audience = StrictCharField(
        source="communication_audience",
        max_length=300,
        allow_blank=True,
        required=False,
        help_text=Change._meta.get_field("communication_audience").help_text,
    )
    message = StrictCharField(
        source="communication_message",
        allow_blank=True,
        required=False,
        help_text=Change._meta.get_field("communication_message").help_text,
    )
    timing = StrictCharField(
        source="communication_timing",
        max_length=300,
        allow_blank=True,
        required=False,
        help_text=Change._meta.get_field("communication_timing").help_text,
    )


class MissingSectionSerializer(serializers.Serializer):
    section = serializers.IntegerField()
    name = serializers.CharField()
    missing = serializers.CharField()


# The published shape of a change; the API answers it through `change_rows.represent`
# (built from rows for a page at once), which tests/api/test_change_rows.py holds to this.
class ChangeSerializer(serializers.ModelSerializer):
    key = serializers.CharField(read_only=True, help_text="CHG-<id>")
    environment: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="code", read_only=True, help_text="`uat` or `production`."
    )
    author = _username()
    reporter = _username()
    components = serializers.SerializerMethodField(help_text="Section 2: component ids.")
    component_versions = ChangeComponentSerializer(
        source="change_components",
        many=True,
        read_only=True,
        help_text="Section 2: each component with the version this change releases.",
    )
    tickets = serializers.SerializerMethodField(help_text="Section 4: attached ticket ids.")
    scenarios = ScenarioSerializer(many=True, read_only=True)
    checklist = ChecklistItemSerializer(many=True, read_only=True)
    window_agreed = serializers.BooleanField(read_only=True)
    window_proposed_by = _username(allow_null=True)
    window_agreed_by = _username(allow_null=True)
    communication_plan = CommunicationPlanSerializer(source="*", read_only=True)
    resolution = BlankAsNullChoiceField(choices=Resolution.choices, read_only=True, allow_null=True)
    approvals = ApprovalSerializer(
        source="current_approvals",
        many=True,
        read_only=True,
        help_text="The approvals of the current round (editing a section after an approval, "
        "or a rejection, starts a new round).",
    )
    waiting_on = serializers.ChoiceField(
        choices=SIDES,
        read_only=True,
        allow_null=True,
        help_text="Who must act next; null once done or cancelled.",
    )
    incomplete_sections = serializers.SerializerMethodField(
        help_text="What still stops a submit (empty when the nine sections are complete)."
    )
    conflicts = serializers.SerializerMethodField(
        help_text="Other live changes on a shared component and environment whose window "
        "overlaps this one's, and every freeze the window touches."
    )

    class Meta:
        model = Change
        fields = [
            "id",
            "key",
            "title",
            "summary",
            "organization",
            "environment",
            "performer",
            "author",
            "reporter",
            "source_ticket",
            "components",
            "component_versions",
            "outage_expected",
            "outage_duration_minutes",
            "impact",
            "tickets",
            "changelog",
            "deployment_procedure",
            "rollback_procedure",
            "scenarios",
            "checklist",
            "window_start",
            "window_end",
            "window_agreed",
            "window_proposed_by",
            "window_agreed_by",
            "communication_plan",
            "status",
            "resolution",
            "approvals",
            "waiting_on",
            "incomplete_sections",
            "conflicts",
            "created",
            "updated",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_components(self, obj: Change) -> list[int]:
        return [cc.component_id for cc in obj.change_components.all()]

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_tickets(self, obj: Change) -> list[int]:
        return sorted(t.pk for t in obj.tickets.all())

    @extend_schema_field(ConflictSerializer(many=True))
    def get_conflicts(self, obj: Change) -> list[dict[str, Any]]:
        known = self.context.get("conflicts")
        items = known[obj.pk] if known is not None and obj.pk in known else conflicts_of_one(obj)
        return [i.as_dict() for i in items]

    @extend_schema_field(MissingSectionSerializer(many=True))
    def get_incomplete_sections(self, obj: Change) -> list[dict[str, Any]]:
        return [
            {"section": n, "name": name, "missing": problem}
            for n, name, problem in obj.incomplete_sections()
        ]


class TransitionOptionSerializer(serializers.Serializer):
    name = serializers.ChoiceField(choices=enums.TICKET_TRANSITIONS)
    # A serializer field, which the stubs mistake for Field.label.
    label = serializers.CharField()  # type: ignore[assignment]
    target = serializers.ChoiceField(
        choices=TicketStatus.choices,
        allow_null=True,
        help_text="The status it leads to; null when that depends on the outcome (see targets).",
    )
    targets = serializers.ListField(child=serializers.ChoiceField(choices=TicketStatus.choices))
    needs = serializers.ListField(
        child=serializers.ChoiceField(choices=enums.TRANSITION_PARAMETERS),
        help_text="What the request body must give besides an optional comment.",
    )
    allowed = serializers.BooleanField(
        help_text="False when a guard refuses it now (only listed with ?include_blocked=true)."
    )
    reason = serializers.CharField(help_text="Why it is refused now; empty when allowed.")


class ChangeTransitionOptionSerializer(TransitionOptionSerializer):
    name = serializers.ChoiceField(choices=enums.CHANGE_TRANSITIONS)
    target = serializers.ChoiceField(
        choices=ChangeStatus.choices,
        allow_null=True,
        help_text="The status it leads to; null when that depends on the outcome (see targets).",
    )
    targets = serializers.ListField(child=serializers.ChoiceField(choices=ChangeStatus.choices))
    roles = serializers.ListField(
        child=serializers.ChoiceField(choices=enums.PROVIDER_APPROVAL_ROLES),
        help_text="For `approve`: the roles this user may still approve in; else empty.",
    )


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=SIDES)
    organization = serializers.IntegerField(allow_null=True)
    roles = serializers.ListField(child=serializers.ChoiceField(choices=enums.USER_ROLES))


# --------------------------------------------------------------------------- write


class ComponentCreateSerializer(StrictInputSerializer):
    organization = IdField()
    name = StrictCharField(max_length=200)
    description = StrictCharField(allow_blank=True, required=False)
    versions = serializers.DictField(
        child=StrictCharField(max_length=100),
        required=False,
        help_text='The current version per environment code, e.g. {"uat": "2.3.0"}.',
    )

    def validate_versions(self, value: dict[str, str]) -> dict[str, str]:
        bad = [
            k for k in value if not (k.isascii() and k.replace("-", "").replace("_", "").isalnum())
        ]
        if bad:
            raise serializers.ValidationError(
                f"Not environment codes: {', '.join(map(repr, bad))}."
            )
        return value


class TicketCreateSerializer(StrictInputSerializer):
    title = StrictCharField(max_length=200)
    description = StrictCharField(allow_blank=True, required=False)
    type = serializers.ChoiceField(choices=TicketType.choices, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    organization = IdField(
        required=False,
        help_text="Provider staff only (required for them); a customer's "
        "ticket is always in their organisation.",
    )


class TicketUpdateSerializer(StrictInputSerializer):
    read_only_hint = STATUS_HINT

    title = StrictCharField(max_length=200, required=False)
    description = StrictCharField(allow_blank=True, required=False)
    type = serializers.ChoiceField(choices=TicketType.choices, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    assignee = StrictCharField(
        max_length=150,
        allow_null=True,
        required=False,
        help_text="Username of the provider staff member to assign (null: unassign).",
    )


class CommentCreateSerializer(StrictInputSerializer):
    body = StrictCharField()
    public = StrictBooleanField(
        required=False,
        help_text="Internal notes (false) are for provider staff; a customer's comment is "
        "always public.",
    )


class TicketTransitionSerializer(StrictInputSerializer):
    comment = StrictCharField(allow_blank=True, required=False)


class ChangeTransitionSerializer(StrictInputSerializer):
    comment = StrictCharField(
        allow_blank=True,
        required=False,
        help_text="Required by reject, roll_back and cancel.",
    )
    role = serializers.ChoiceField(
        choices=enums.PROVIDER_APPROVAL_ROLES,
        required=False,
        help_text="approve only: the role approved in.",
    )
    resolution = serializers.ChoiceField(
        choices=Resolution.choices, required=False, help_text="close only."
    )
    override_reason = StrictCharField(
        required=False,
        max_length=2000,
        help_text="perform only: operations management overriding a hard freeze says why "
        "(kept in the change's history).",
    )


class ComponentVersionInputSerializer(StrictInputSerializer):
    component = IdField()
    target_version = StrictCharField(max_length=100, allow_blank=True)


SECTION_TEXT = ("summary", "impact", "changelog", "deployment_procedure", "rollback_procedure")


class ChangeWriteSerializer(StrictInputSerializer):
    """The nine sections and the change's settings, as PATCH (and POST) take them."""

    read_only_hint = STATUS_HINT

    title = StrictCharField(max_length=200, required=False)
    summary = StrictCharField(allow_blank=True, required=False)
    environment = StrictCharField(
        max_length=30, required=False, help_text="`uat` or `production` (Draft only)."
    )
    performer = serializers.ChoiceField(
        choices=SIDES, required=False, help_text="Who carries the release out (Draft only)."
    )
    components = serializers.ListField(
        child=IdField(),
        required=False,
        help_text="Section 2 as component ids (the versions already set are kept).",
    )
    component_versions = ComponentVersionInputSerializer(
        many=True,
        required=False,
        help_text="Section 2 as components with the version to release (replaces them).",
    )
    outage_expected = StrictBooleanField(allow_null=True, required=False)
    outage_duration_minutes = StrictIntegerField(
        min_value=1, max_value=MAX_INT, allow_null=True, required=False
    )
    impact = StrictCharField(allow_blank=True, required=False)
    tickets = serializers.ListField(
        child=TicketRefField(),
        required=False,
        help_text="Section 4: the attached tickets (ids or SUP keys); replaces them.",
    )
    changelog = StrictCharField(allow_blank=True, required=False)
    deployment_procedure = StrictCharField(allow_blank=True, required=False)
    rollback_procedure = StrictCharField(allow_blank=True, required=False)
    communication_plan = CommunicationPlanSerializer(source="*", required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "components" in attrs and "component_versions" in attrs:
            raise serializers.ValidationError(
                {"components": ["Give either components or component_versions, not both."]}
            )
        return attrs


class ChangeCreateSerializer(ChangeWriteSerializer):
    organization = IdField()
    title = StrictCharField(max_length=200)
    source_ticket = TicketRefField(
        required=False, help_text="The change request ticket this change answers."
    )


class WindowSerializer(StrictInputSerializer):
    start = AwareDateTimeField()
    end = AwareDateTimeField()


class ScenarioCreateSerializer(StrictInputSerializer):
    kind = serializers.ChoiceField(choices=ScenarioKind.choices)
    description = StrictCharField()


class ScenarioUpdateSerializer(StrictInputSerializer):
    result = serializers.ChoiceField(
        choices=ScenarioResult.choices,
        required=False,
        help_text="Record a test result (the change is in testing).",
    )
    note = StrictCharField(
        max_length=NOTE_MAX, allow_blank=True, required=False, help_text="With a result."
    )
    kind = serializers.ChoiceField(
        choices=ScenarioKind.choices, required=False, help_text="Edit section 8."
    )
    description = StrictCharField(required=False, help_text="Edit section 8.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        result = {"result", "note"} & set(attrs)
        edit = {"kind", "description"} & set(attrs)
        if result and edit:
            raise serializers.ValidationError(
                {
                    "result": [
                        "Record a result, or edit the scenario's kind and description; "
                        "not both in one request."
                    ]
                }
            )
        if "note" in attrs and "result" not in attrs:
            raise serializers.ValidationError({"note": ["A note goes with a result."]})
        return attrs


class ChecklistUpdateSerializer(StrictInputSerializer):
    state = serializers.ChoiceField(choices=ChecklistState.choices)
    reason = StrictCharField(
        max_length=NOTE_MAX,
        allow_blank=True,
        required=False,
        help_text="Required when not applicable.",
    )
