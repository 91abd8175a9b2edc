"""The freeze form of the staff workspace. Shape only: whether a freeze is valid (its end
after its start, its recurrence, its components) is `services.freeze_create`'s and
`freeze_update`'s to say; their `InvalidInput.fields` come back next to these fields."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from ..limits import TEXT_MAX
from ..models import TIMEZONE_CHOICES, Environment, Freeze, Organization
from ..web import BoundedDateTimeField

WALL_CLOCK = {
    "widget": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    "input_formats": ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
}
RRULE_HELP = (
    "Empty for a single period. Otherwise an RFC 5545 rule, repeated from the start above "
    "on the time zone's wall clock: <code>FREQ=WEEKLY;BYDAY=FR</code> (every Friday), "
    "<code>FREQ=MONTHLY;BYMONTHDAY=1</code> (the 1st of each month), "
    "<code>FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=20</code> (every 20 December), "
    "<code>FREQ=WEEKLY;BYDAY=SA,SU;UNTIL=20271231T000000Z</code> (weekends until the end of "
    "2027), <code>FREQ=DAILY;COUNT=5</code> (five days in a row)."
)


class FreezeForm(forms.Form):
    title = forms.CharField(max_length=200, label="Title", required=False)
    reason = forms.CharField(
        required=False,
        max_length=TEXT_MAX,
        label="Reason",
        help_text="Why nothing may change; everyone the freeze applies to reads it.",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    start = BoundedDateTimeField(label="Starts", **WALL_CLOCK)  # type: ignore[arg-type]
    end = BoundedDateTimeField(label="Ends", **WALL_CLOCK)  # type: ignore[arg-type]
    timezone = forms.ChoiceField(
        choices=TIMEZONE_CHOICES,
        label="Time zone",
        help_text="The start and end are read on this wall clock, and a recurrence follows "
        "it across summer time.",
    )
    rrule = forms.CharField(
        required=False,
        max_length=500,
        label="Recurrence (RRULE)",
        help_text=RRULE_HELP,
        widget=forms.TextInput(attrs={"spellcheck": "false", "autocomplete": "off"}),
    )
    hard = forms.TypedChoiceField(
        choices=[
            ("hard", "Hard: performing a change is refused"),
            ("soft", "Soft: a warning only"),
        ],
        coerce=lambda v: v == "hard",
        initial="hard",
        widget=forms.RadioSelect,
        label="Kind",
    )
    organization = forms.CharField(
        required=False,
        max_length=200,
        label="Organisation",
        help_text="Empty: every organisation. Its exact name or its id.",
        widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}),
    )
    environment = forms.ModelChoiceField(
        queryset=Environment.objects.all(),
        required=False,
        empty_label="Every environment",
        label="Environment",
    )
    components = forms.CharField(
        required=False,
        max_length=500,
        label="Components",
        help_text="Empty: every component. Otherwise their ids, separated by commas "
        "(of the organisation above, when there is one).",
    )

    def __init__(self, *args: Any, organizations: QuerySet[Organization], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organizations = organizations

    @classmethod
    def initial_for(cls, freeze: Freeze) -> dict[str, Any]:
        """What the form shows of `freeze`: its times on its own wall clock, naive (a
        form would otherwise show them in the user's time zone)."""
        tz = ZoneInfo(freeze.timezone)
        return {
            "title": freeze.title,
            "reason": freeze.reason,
            "start": freeze.start.astimezone(tz).replace(tzinfo=None),
            "end": freeze.end.astimezone(tz).replace(tzinfo=None),
            "timezone": freeze.timezone,
            "rrule": freeze.rrule,
            "hard": "hard" if freeze.hard else "soft",
            "organization": str(freeze.organization_id or ""),
            "environment": freeze.environment_id,
            "components": ", ".join(str(c.pk) for c in freeze.components.all()),
        }

    def clean_organization(self) -> int | None:
        text = (self.cleaned_data.get("organization") or "").strip()
        if not text:
            return None
        if text.isdigit() and len(text) <= 18:
            return int(text)  # the service says whether there is one
        found = list(self.organizations.filter(name__iexact=text).values_list("pk", flat=True)[:2])
        if len(found) != 1:
            raise forms.ValidationError(
                "No organisation has exactly this name: type its full name or its id."
            )
        return found[0]

    def clean_components(self) -> list[int]:
        text = self.cleaned_data.get("components") or ""
        parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
        if any(not p.isdigit() or len(p) > 18 for p in parts):
            raise forms.ValidationError("Component ids are numbers, separated by commas.")
        return [int(p) for p in parts]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        zone = data.get("timezone")
        if zone:
            # Typed as wall-clock times of the freeze's own time zone: the field read them
            # in the user's; read them again in the freeze's.
            tz = ZoneInfo(zone)
            for name in ("start", "end"):
                value = data.get(name)
                if value is not None:
                    data[name] = timezone.make_naive(value).replace(tzinfo=tz)
        return data
