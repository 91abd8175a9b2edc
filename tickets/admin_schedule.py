"""The admin of the schedule: freezes (written through `tickets.services.schedule`, so the
admin refuses what the API and the pages refuse) and calendar feeds (deleting one revokes
it). Overrides of hard freezes are history: read-only, in admin.py."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from .errors import DomainError
from .models import CalendarFeed, Freeze
from .services import schedule

FORM_FIELDS = list(schedule.FREEZE_FIELDS)


class FreezeForm(forms.ModelForm):
    class Meta:
        model = Freeze
        fields = FORM_FIELDS

    def clean(self) -> dict[str, Any]:
        """The service's own checks, on a scratch copy: every refusal shown by field."""
        data = super().clean() or {}
        if self.errors:
            return data
        scratch = Freeze(
            title="",
            start=None,
            end=None,
            timezone="UTC",
            hard=True,  # type: ignore[misc]
        )
        values = {k: data.get(k) for k in FORM_FIELDS}
        values["components"] = [c.pk for c in data.get("components") or []]
        try:
            schedule.check_freeze(scratch, values)
        except DomainError as exc:
            for field, messages in exc.fields.items():
                self.add_error(field if field in self.fields else None, messages)
        return data


@admin.register(Freeze)
class FreezeAdmin(admin.ModelAdmin):
    form = FreezeForm
    list_display = ("title", "start", "end", "rrule", "hard", "organization", "environment")
    list_filter = ("hard", "environment")
    list_select_related = ("organization", "environment")
    search_fields = ("title", "reason")
    autocomplete_fields = ("organization", "components")
    date_hierarchy = "start"

    def save_model(self, request: HttpRequest, obj: Freeze, form: Any, change: bool) -> None:
        values = {k: form.cleaned_data.get(k) for k in FORM_FIELDS}
        values["components"] = [c.pk for c in form.cleaned_data.get("components") or []]
        if change:
            saved = schedule.freeze_update(freeze=obj.pk, by=request.user, **values)  # type: ignore[arg-type]
        else:
            saved = schedule.freeze_create(by=request.user, **values)  # type: ignore[arg-type]
        obj.pk = saved.pk

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """The service set the components already."""

    def delete_model(self, request: HttpRequest, obj: Freeze) -> None:
        schedule.freeze_delete(freeze=obj.pk, by=request.user)  # type: ignore[arg-type]


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    """Who has a calendar URL, and when it was last read; deleting one revokes it."""

    list_display = ("user", "created", "last_used")
    list_select_related = ("user",)
    readonly_fields = ("user", "created", "last_used")
    exclude = ("token_hash",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
