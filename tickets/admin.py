"""The Django admin: users, organisations, roles, components, environments, and a
read-only view of tickets and changes whose transitions are admin actions that go
through the service layer (so guards and roles hold here too)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from approvals.models import Approval, ApprovalRole

from . import workflow
from .errors import DomainError
from .models import (
    SECTIONS,
    Change,
    ChangeComponent,
    ChecklistItem,
    ChecklistTemplateItem,
    Component,
    ComponentVersion,
    Contact,
    Environment,
    FreezeOverride,
    Organization,
    Resolution,
    SectionEdit,
    TestScenario,
    Ticket,
    TicketComment,
    TransitionLog,
    User,
)
from .services import change_transition, ticket_transition


class TransitionForm(forms.Form):
    """What a transition may need: built from the transition's `needs`."""

    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    role = forms.ChoiceField(
        choices=[
            (r.value, r.label)
            for r in (ApprovalRole.QA, ApprovalRole.PEER, ApprovalRole.OPERATIONS)
        ],
        required=False,
    )
    resolution = forms.ChoiceField(choices=Resolution.choices, required=False)

    def __init__(self, *args: Any, needs: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("role", "resolution"):
            if name not in needs:
                del self.fields[name]
            else:
                self.fields[name].required = True
        self.fields["comment"].required = "comment" in needs


def _transition_action(model: type, name: str, label: str, needs: tuple[str, ...]) -> Any:
    service = change_transition if model is Change else ticket_transition
    subject_kw = "change" if model is Change else "ticket"

    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> Any:
        extra = [n for n in needs if n != "comment"]
        if "apply" not in request.POST and (needs or extra):
            form = TransitionForm(needs=needs)
        else:
            form = TransitionForm(request.POST, needs=needs)
            if form.is_valid():
                done = 0
                for obj in queryset:
                    params = {k: v for k, v in form.cleaned_data.items() if v}
                    try:
                        service(
                            **{subject_kw: obj.pk},
                            by=request.user,  # type: ignore[arg-type]  # admin is staff-only
                            name=name,
                            **params,
                        )
                    except DomainError as exc:
                        modeladmin.message_user(
                            request, f"{obj.key}: {exc.message}", messages.ERROR
                        )
                    else:
                        done += 1
                if done:
                    modeladmin.message_user(
                        request, f"{label}: done for {done} of {len(queryset)}.", messages.SUCCESS
                    )
                return None
        return TemplateResponse(
            request,
            "admin/tickets/transition.html",
            {
                **modeladmin.admin_site.each_context(request),
                "title": f"{label}: {', '.join(o.key for o in queryset)}",
                "form": form,
                "objects": queryset,
                "action": f"transition_{name}",
                "opts": modeladmin.model._meta,
                "label": label,
            },
        )

    action.__name__ = f"transition_{name}"
    action.short_description = f"Transition: {label}"  # type: ignore[attr-defined]
    return action


class TransitionActionsMixin:
    """One admin action per manual transition of the model's state machine."""

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)  # type: ignore[misc]
        seen = set()
        for t in workflow.transitions_of(self.model):  # type: ignore[attr-defined]
            if t.name in seen or t.custom.get("trigger") != workflow.MANUAL:
                continue
            seen.add(t.name)
            func = _transition_action(
                self.model,  # type: ignore[attr-defined]
                t.name,
                t.custom.get("label", t.name),
                tuple(t.custom.get("needs", ())),
            )
            actions[func.__name__] = (func, func.__name__, func.short_description)
        return actions


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records written only by the service layer."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = (
        "username",
        "get_full_name",
        "email",
        "kind",
        "organization",
        "roles",
        "is_active",
    )
    list_filter = (
        "kind",
        "organization",
        "is_support_agent",
        "is_qa",
        "is_operations_manager",
        "is_active",
        "is_staff",
    )
    list_select_related = ("organization",)
    search_fields = ("username", "first_name", "last_name", "email")
    fieldsets = (
        *BaseUserAdmin.fieldsets,  # type: ignore[misc]
        (
            "Change process",
            {
                "fields": (
                    "kind",
                    "organization",
                    "is_support_agent",
                    "is_qa",
                    "is_operations_manager",
                    "timezone",
                )
            },
        ),
    )
    add_fieldsets = (
        *BaseUserAdmin.add_fieldsets,
        ("Change process", {"fields": ("kind", "organization")}),
    )

    @admin.display(description="roles")
    def roles(self, obj: User) -> str:
        return ", ".join(obj.role_names)


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "timezone", "created")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Environment)
class EnvironmentAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "position")


class ComponentVersionInline(admin.TabularInline):
    model = ComponentVersion
    extra = 0
    fields = ("environment", "version", "updated", "released_by")
    readonly_fields = ("released_by",)


@admin.register(Component)
class ComponentAdmin(admin.ModelAdmin):
    list_display = ("name", "organization")
    list_filter = ("organization",)
    list_select_related = ("organization",)
    search_fields = ("name", "organization__name")
    inlines = [ComponentVersionInline]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ("email", "name", "organization", "created")
    list_filter = ("organization",)
    list_select_related = ("organization",)
    search_fields = ("email", "name")


@admin.register(ChecklistTemplateItem)
class ChecklistTemplateItemAdmin(admin.ModelAdmin):
    list_display = ("label", "organization", "position")
    list_filter = ("organization",)


class CommentInline(ReadOnlyInline):
    model = TicketComment
    fields = ("created", "author", "public", "body")
    readonly_fields = fields


class TicketLogInline(ReadOnlyInline):
    model = TransitionLog
    fk_name = "ticket"
    fields = ("at", "actor", "transition", "source", "target", "comment")
    readonly_fields = fields
    verbose_name_plural = "transition log"


@admin.register(Ticket)
class TicketAdmin(TransitionActionsMixin, admin.ModelAdmin):
    list_display = (
        "key",
        "title",
        "organization",
        "type",
        "priority",
        "status",
        "assignee",
        "updated",
    )
    list_filter = ("status", "organization", "type", "priority")
    list_select_related = ("organization", "assignee")
    search_fields = ("title", "description")
    readonly_fields = ("status", "held_from", "change", "reporter", "created", "updated")
    raw_id_fields = ("assignee",)
    fields = (
        "organization",
        "title",
        "description",
        "type",
        "priority",
        "status",
        "held_from",
        "reporter",
        "assignee",
        "change",
        "created",
        "updated",
    )
    inlines = [CommentInline, TicketLogInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Tickets are raised through the portal, the staff UI or the API (services).
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f for f in self.fields if f not in ("priority", "assignee")]

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> Any:
        from .selectors import parse_ref

        pk = parse_ref(search_term, "SUP") if search_term.upper().startswith("SUP-") else None
        if pk is not None:
            return queryset.filter(pk=pk), False
        return super().get_search_results(request, queryset, search_term)


class ChangeComponentInline(ReadOnlyInline):
    model = ChangeComponent
    fields = ("component", "target_version")
    readonly_fields = fields


class ScenarioInline(ReadOnlyInline):
    model = TestScenario
    fields = ("position", "kind", "description", "result", "result_by", "result_at", "note")
    readonly_fields = fields


class ChecklistInline(ReadOnlyInline):
    model = ChecklistItem
    fields = ("position", "label", "state", "reason", "by", "at")
    readonly_fields = fields


class ApprovalInline(ReadOnlyInline):
    model = Approval
    fields = ("round", "role", "decision", "by", "at", "comment", "dismissed_at")
    readonly_fields = fields


class ChangeLogInline(ReadOnlyInline):
    model = TransitionLog
    fk_name = "change"
    fields = ("at", "actor", "transition", "source", "target", "comment")
    readonly_fields = fields
    verbose_name_plural = "transition log"


@admin.register(Change)
class ChangeAdmin(TransitionActionsMixin, admin.ModelAdmin):
    """Read-only: sections are edited in the staff UI or the API, where every edit is
    recorded and dismisses approvals given to the old text."""

    list_display = (
        "key",
        "title",
        "organization",
        "environment",
        "performer",
        "status",
        "window_start",
        "updated",
    )
    list_filter = ("status", "organization", "environment", "performer")
    list_select_related = ("organization", "environment")
    search_fields = ("title", "summary")
    date_hierarchy = "created"
    inlines = [
        ChangeComponentInline,
        ScenarioInline,
        ChecklistInline,
        ApprovalInline,
        ChangeLogInline,
    ]
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "organization",
                    "environment",
                    "performer",
                    "author",
                    "reporter",
                    "status",
                    "resolution",
                    "approval_round",
                    "source_ticket",
                )
            },
        ),
        ("1. Summary", {"fields": SECTIONS[1][1]}),
        ("3. Impact and communication plan", {"fields": SECTIONS[3][1]}),
        (
            "5.-7. Changelog and procedures",
            {"fields": SECTIONS[5][1] + SECTIONS[6][1] + SECTIONS[7][1]},
        ),
        (
            "Deployment window",
            {
                "fields": (
                    "window_start",
                    "window_end",
                    "window_proposed_by",
                    "window_proposed_at",
                    "window_agreed_by",
                    "window_agreed_at",
                )
            },
        ),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f for _, opts in self.fieldsets for f in opts["fields"]]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> Any:
        from .selectors import parse_ref

        pk = parse_ref(search_term, "CHG") if search_term.upper().startswith("CHG-") else None
        if pk is not None:
            return queryset.filter(pk=pk), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(TransitionLog)
class TransitionLogAdmin(ReadOnlyAdmin):
    list_display = ("at", "subject", "transition", "source", "target", "actor")
    list_filter = ("transition", "target")
    list_select_related = ("ticket", "change", "actor")
    search_fields = ("comment",)
    date_hierarchy = "at"

    @admin.display(description="subject")
    def subject(self, obj: TransitionLog) -> str:
        return (obj.ticket or obj.change).key  # type: ignore[union-attr]


@admin.register(SectionEdit)
class SectionEditAdmin(ReadOnlyAdmin):
    list_display = ("at", "change", "section", "field", "actor")
    list_filter = ("section",)
    list_select_related = ("change", "actor")
    date_hierarchy = "at"


@admin.register(FreezeOverride)
class FreezeOverrideAdmin(ReadOnlyAdmin):
    list_display = ("at", "change", "freeze_title", "actor", "reason")
    list_select_related = ("change", "actor")
    date_hierarchy = "at"


# Freezes and calendar feeds (a module of their own, registered with the rest).
from . import admin_schedule  # noqa: E402, F401
