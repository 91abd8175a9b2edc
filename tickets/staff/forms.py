"""Forms and filters of the staff workspace.

They check the shape of what was typed (a number is a number, a choice is one of the
choices) and nothing more: every business rule is the services' (`tickets.services`),
whose `DomainError.fields` are put back on these forms by `web.add_domain_errors`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import django_filters
from django import forms
from django.db.models import QuerySet

from ..filters import OrganizationFilter, WorkflowFilterSet
from ..limits import NOTE_MAX, TEXT_MAX
from ..models import (
    CHANGE_CLOSED,
    SECTION_COLUMNS,
    Change,
    ChangeStatus,
    ChecklistItem,
    ChecklistState,
    Component,
    Environment,
    Organization,
    Performer,
    Priority,
    ScenarioKind,
    ScenarioResult,
    Ticket,
    TicketStatus,
    TicketType,
    User,
)
from ..selectors import changes_matching, organizations_visible_to, tickets_matching
from ..web import BoundedDateTimeField

WAITING_CHOICES = [
    ("provider", "Us (provider)"),
    ("customer", "The customer"),
    ("nobody", "Nobody"),
]


def _text(value: str | None) -> str:
    # Browsers send textarea line breaks as CRLF; the stored text (and the edit history's
    # comparison) uses LF, so an untouched section never counts as edited.
    return (value or "").replace("\r\n", "\n")


class TextArea(forms.CharField):
    """Free text of some length, capped at `limits.TEXT_MAX` unless told otherwise."""

    def __init__(self, *args: Any, rows: int = 5, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("strip", False)
        kwargs.setdefault("max_length", TEXT_MAX)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": rows}))
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> str:
        return _text(super().to_python(value))


def provider_staff() -> QuerySet[User]:
    """Whom a ticket can be assigned to: active provider staff, never a customer."""
    return (
        User.objects.filter(kind=User.Kind.PROVIDER, is_active=True)
        # What a choice shows (`staff_label`) and what the services check of whom they are
        # given; not the password, the dates and the flags of every member of staff.
        .only("id", "username", "first_name", "last_name", "kind", "is_active", "organization")
        .order_by("first_name", "last_name", "username")
    )


def staff_label(user: User) -> str:
    full = user.get_full_name()
    return f"{full} ({user.get_username()})" if full else user.get_username()


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:  # type: ignore[override]
        return staff_label(obj)


# --------------------------------------------------------------------------- filters


class TicketFilter(WorkflowFilterSet):
    """The queue's filters: the API's search (`tickets_matching`, ranked unless sorted)
    and waiting-on (`tickets.filters`), with the page's own choices."""

    matching = staticmethod(tickets_matching)
    search_param = "q"
    sort_param = "sort"

    q = django_filters.CharFilter(method="filter_search", label="Search", max_length=200)
    status = django_filters.ChoiceFilter(
        choices=[("open", "Open (not done)"), *TicketStatus.choices],
        method="filter_status",
        empty_label="Any status",
        label="Status",
    )
    organization = OrganizationFilter(label="Organisation")
    waiting_on = django_filters.ChoiceFilter(
        choices=WAITING_CHOICES, method="filter_waiting", empty_label="Anyone", label="Waiting on"
    )
    assignee = django_filters.ChoiceFilter(
        choices=[], method="filter_assignee", empty_label="Anyone", label="Assignee"
    )
    type = django_filters.ChoiceFilter(
        choices=TicketType.choices, empty_label="Any type", label="Type"
    )
    priority = django_filters.ChoiceFilter(
        choices=Priority.choices, empty_label="Any priority", label="Priority"
    )

    class Meta:
        model = Ticket
        fields: list[str] = []

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.filters["assignee"].extra["choices"] = [
            ("me", "Me"),
            ("none", "Unassigned"),
            *((str(u.pk), staff_label(u)) for u in provider_staff()),
        ]

    def filter_status(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        if value == "open":
            return qs.exclude(status=TicketStatus.DONE)
        return qs.filter(status=value)

    def filter_waiting(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        if value == "nobody":
            return qs.filter(status__in=[TicketStatus.DONE, TicketStatus.ON_HOLD])
        return self.filter_waiting_on(qs, name, value)

    def filter_assignee(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        if value == "me":
            return qs.filter(assignee=self.user)
        if value == "none":
            return qs.filter(assignee__isnull=True)
        return qs.filter(assignee_id=int(value))


class ChangeFilter(WorkflowFilterSet):
    """As TicketFilter, for changes (`changes_matching`)."""

    matching = staticmethod(changes_matching)
    search_param = "q"
    sort_param = "sort"

    q = django_filters.CharFilter(method="filter_search", label="Search", max_length=200)
    status = django_filters.ChoiceFilter(
        choices=[("open", "Open (not done or cancelled)"), *ChangeStatus.choices],
        method="filter_status",
        empty_label="Any status",
        label="Status",
    )
    organization = OrganizationFilter(label="Organisation")
    environment = django_filters.ModelChoiceFilter(
        queryset=Environment.objects.all(), empty_label="Any environment", label="Environment"
    )
    performer = django_filters.ChoiceFilter(
        choices=Performer.choices, empty_label="Either side", label="Performed by"
    )
    waiting_on = django_filters.ChoiceFilter(
        choices=WAITING_CHOICES, method="filter_waiting", empty_label="Anyone", label="Waiting on"
    )
    mine = django_filters.BooleanFilter(
        method="filter_mine",
        label="Written by me",
        widget=forms.CheckboxInput,
    )

    class Meta:
        model = Change
        fields: list[str] = []

    def __init__(self, *args: Any, user: User, board: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if board:
            # The board's columns are the statuses.
            del self.filters["status"]

    def filter_status(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        if value == "open":
            return qs.exclude(status__in=CHANGE_CLOSED)
        return qs.filter(status=value)

    def filter_waiting(self, qs: QuerySet, name: str, value: str) -> QuerySet:
        if value == "nobody":
            return qs.filter(status__in=CHANGE_CLOSED)
        return self.filter_waiting_on(qs, name, value)

    def filter_mine(self, qs: QuerySet, name: str, value: bool) -> QuerySet:
        return qs.filter(author=self.user) if value else qs


# --------------------------------------------------------------------------- tickets


def _choices_from(form: forms.BaseForm, name: str, queryset: QuerySet) -> None:
    cast(forms.ModelChoiceField, form.fields[name]).queryset = queryset


class TicketCreateForm(forms.Form):
    organization = forms.ModelChoiceField(
        queryset=Organization.objects.none(), label="Organisation"
    )
    title = forms.CharField(max_length=200, label="Title")
    type = forms.ChoiceField(choices=TicketType.choices, initial=TicketType.QUESTION)
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.NORMAL)
    description = TextArea(label="Description", rows=6)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices_from(self, "organization", organizations_visible_to(user))


class TicketEditForm(forms.Form):
    # Not required here: an empty title is the domain's to refuse, in its own words.
    title = forms.CharField(max_length=200, label="Title", required=False)
    type = forms.ChoiceField(choices=TicketType.choices)
    priority = forms.ChoiceField(choices=Priority.choices)
    description = TextArea(label="Description", rows=8)


class CommentForm(forms.Form):
    body = TextArea(label="Your comment", required=True, rows=4)
    internal = forms.BooleanField(
        required=False,
        widget=forms.CheckboxInput(attrs={"aria-describedby": "internal-help"}),
        label="Internal note (staff only)",
        help_text="The customer never sees an internal note; a public reply may move the "
        "ticket to Waiting for customer.",
    )


class AssignForm(forms.Form):
    assignee = StaffChoiceField(
        queryset=User.objects.none(), required=False, empty_label="Unassigned", label="Assignee"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices_from(self, "assignee", provider_staff())


class ChangeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Change) -> str:  # type: ignore[override]
        return f"{obj.key} {obj.title} ({obj.get_status_display()})"


class AttachForm(forms.Form):
    change = ChangeChoiceField(queryset=Change.objects.none(), label="Change", empty_label=None)

    def __init__(self, *args: Any, changes: QuerySet[Change], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices_from(self, "change", changes)


class TransitionForm(forms.Form):
    """What a step may carry; which of these a step needs is the domain's `needs`
    (`web.take_transition` passes on only those)."""

    comment = TextArea(label="Comment", rows=3)
    role = forms.CharField(required=False, max_length=40)
    resolution = forms.CharField(required=False, max_length=40)
    override_reason = forms.CharField(required=False, max_length=NOTE_MAX)


# --------------------------------------------------------------------------- changes


class ChangeCreateForm(forms.Form):
    organization = forms.ModelChoiceField(
        queryset=Organization.objects.none(), label="Organisation"
    )
    title = forms.CharField(max_length=200, label="Title", help_text="Section 1: one line.")
    environment = forms.ModelChoiceField(
        queryset=Environment.objects.all(),
        empty_label=None,
        label="Target environment",
        help_text="Testing happens on UAT before a production release.",
    )
    performer = forms.ChoiceField(
        choices=Performer.choices,
        initial=Performer.PROVIDER,
        widget=forms.RadioSelect,
        label="Who performs the release?",
    )
    source = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choices_from(self, "organization", organizations_visible_to(user))
        uat = Environment.objects.filter(code="uat").first()
        if uat is not None:
            self.fields["environment"].initial = uat.pk


OUTAGE_CHOICES = [("", "Not stated yet"), ("no", "No outage"), ("yes", "Yes, an outage")]


def _outage(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


def outage_value(value: bool | None) -> str:
    if value is None:
        return ""
    return "yes" if value else "no"


class IdsField(forms.MultipleChoiceField):
    """A list of ids whose choices are open (a search may show any ticket); whether each
    may be attached is for the service to say."""

    def valid_value(self, value: Any) -> bool:
        return str(value).isdigit()


class ChangeSectionsForm(forms.Form):
    """Sections 1, 3 to 7 and the change's target and performer."""

    # 1. Summary
    title = forms.CharField(max_length=200, label="Title")
    summary = TextArea(label="Summary", rows=4, help_text="A high-level summary of the change.")
    environment = forms.ModelChoiceField(
        queryset=Environment.objects.all(), empty_label=None, label="Target environment"
    )
    performer = forms.ChoiceField(
        choices=Performer.choices, widget=forms.RadioSelect, label="Performed by"
    )
    # 3. Impact
    outage_expected = forms.TypedChoiceField(
        choices=OUTAGE_CHOICES,
        coerce=_outage,
        empty_value=None,
        required=False,
        widget=forms.RadioSelect,
        label="Is an outage expected?",
    )
    outage_duration_minutes = forms.IntegerField(
        min_value=1, required=False, label="Expected outage (minutes)"
    )
    impact = TextArea(label="What will end users notice?", rows=3)
    # The plan as agreed with the customer; what sending does is fixed (the model's
    # help texts): every end-user contact, once the change is approved and its window
    # agreed, a reminder before the window, a notice when it is over.
    communication_audience = forms.CharField(
        max_length=300,
        required=False,
        label="Audience",
        help_text=Change._meta.get_field("communication_audience").help_text,
    )
    communication_message = TextArea(
        label="Message",
        rows=3,
        help_text=Change._meta.get_field("communication_message").help_text,
    )
    communication_timing = forms.CharField(
        max_length=300,
        required=False,
        label="When to send",
        help_text=Change._meta.get_field("communication_timing").help_text,
    )
    # 4. Support tickets to test
    tickets = IdsField(required=False, label="Support tickets to test")
    ticket_search = forms.CharField(required=False, max_length=200, label="Find tickets to attach")
    # 5.-7.
    changelog = TextArea(
        label="Changelog",
        rows=6,
        help_text="Features and bug fixes between the version on the environment and the "
        "one released. Pre-filled from the attached tickets while empty.",
    )
    deployment_procedure = TextArea(label="Deployment procedure", rows=7)
    rollback_procedure = TextArea(label="Rollback procedure", rows=6)

    SECTION_FIELDS = SECTION_COLUMNS

    @classmethod
    def initial_for(cls, change: Change) -> dict[str, Any]:
        initial = {name: getattr(change, name) for name in cls.SECTION_FIELDS}
        initial["outage_expected"] = outage_value(change.outage_expected)
        initial["environment"] = change.environment_id
        initial["performer"] = change.performer
        initial["tickets"] = [str(t.pk) for t in change.tickets.all()]
        return initial

    def section_data(self, change: Change) -> dict[str, Any]:
        """What `change_update` is given: the section fields, plus the environment and the
        performer only when they were changed (the service refuses those after Draft)."""
        data = {name: self.cleaned_data[name] for name in self.SECTION_FIELDS}
        if self.cleaned_data["environment"].pk != change.environment_id:
            data["environment"] = self.cleaned_data["environment"]
        if self.cleaned_data["performer"] != change.performer:
            data["performer"] = self.cleaned_data["performer"]
        return data

    def ticket_ids(self) -> list[int]:
        return [int(v) for v in self.cleaned_data.get("tickets") or []]


@dataclass
class ComponentRow:
    component: Component
    included: forms.BoundField
    version: forms.BoundField
    versions: list[Any]


class ComponentsForm(forms.Form):
    """Section 2: each of the organisation's components, ticked in or not, with the
    version this change releases."""

    def __init__(
        self,
        *args: Any,
        components: Iterable[Component],
        current: dict[int, str],
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("prefix", "c")
        super().__init__(*args, **kwargs)
        self.components = list(components)
        for c in self.components:
            self.fields[f"in_{c.pk}"] = forms.BooleanField(
                required=False, initial=c.pk in current, label=f"Include {c.name}"
            )
            self.fields[f"v_{c.pk}"] = forms.CharField(
                required=False,
                max_length=100,
                initial=current.get(c.pk, ""),
                label=f"Version of {c.name} to release",
            )

    def rows(self) -> Iterator[ComponentRow]:
        for c in self.components:
            yield ComponentRow(
                component=c,
                included=self[f"in_{c.pk}"],
                version=self[f"v_{c.pk}"],
                versions=list(c.versions.all()),
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for c in self.components:
            if data.get(f"v_{c.pk}", "").strip() and not data.get(f"in_{c.pk}"):
                self.add_error(
                    f"v_{c.pk}", "Tick the component to include it, or clear its version."
                )
        return data

    def chosen(self) -> list[tuple[int, str]]:
        return [
            (c.pk, self.cleaned_data.get(f"v_{c.pk}", ""))
            for c in self.components
            if self.cleaned_data.get(f"in_{c.pk}")
        ]


class ScenarioForm(forms.Form):
    id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    kind = forms.ChoiceField(
        choices=ScenarioKind.choices, initial=ScenarioKind.PROGRESSION, label="Kind"
    )
    description = TextArea(label="What to test, and what should happen", rows=2, required=True)


ScenarioFormSet = forms.formset_factory(ScenarioForm, extra=1, can_delete=True)


@dataclass
class ChecklistRow:
    item: ChecklistItem
    state: forms.BoundField
    reason: forms.BoundField


class ChecklistForm(forms.Form):
    """Section 9 in the editor: each item's state and, when it does not apply, why."""

    def __init__(self, *args: Any, items: Iterable[ChecklistItem], **kwargs: Any) -> None:
        kwargs.setdefault("prefix", "k")
        super().__init__(*args, **kwargs)
        self.items = list(items)
        for i in self.items:
            self.fields[f"s_{i.pk}"] = forms.ChoiceField(
                choices=ChecklistState.choices,
                initial=i.state,
                widget=forms.RadioSelect,
                label=i.label,
            )
            self.fields[f"r_{i.pk}"] = forms.CharField(
                required=False,
                max_length=NOTE_MAX,
                initial=i.reason,
                label=f"Why {i.label} does not apply",
            )

    def rows(self) -> Iterator[ChecklistRow]:
        for i in self.items:
            yield ChecklistRow(item=i, state=self[f"s_{i.pk}"], reason=self[f"r_{i.pk}"])

    def changed_items(self) -> list[tuple[ChecklistItem, str, str]]:
        out = []
        for i in self.items:
            state = self.cleaned_data[f"s_{i.pk}"]
            reason = self.cleaned_data.get(f"r_{i.pk}", "")
            if state != i.state or (state == ChecklistState.NOT_APPLICABLE and reason != i.reason):
                out.append((i, state, reason))
        return out


class ChecklistItemForm(forms.Form):
    state = forms.ChoiceField(choices=ChecklistState.choices, widget=forms.RadioSelect)
    reason = forms.CharField(required=False, max_length=NOTE_MAX, label="Why it does not apply")


class ScenarioResultForm(forms.Form):
    result = forms.ChoiceField(choices=ScenarioResult.choices, label="Result")
    note = forms.CharField(required=False, max_length=NOTE_MAX, label="Note")


class WindowForm(forms.Form):
    """A deployment window in the user's own timezone (the middleware activates it)."""

    start = BoundedDateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        label="Starts",
    )
    end = BoundedDateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        label="Ends",
    )


class AttachmentForm(forms.Form):
    file = forms.FileField(label="File", allow_empty_file=True)
    internal = forms.BooleanField(required=False, label="Internal (staff only)")
