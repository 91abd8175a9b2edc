from django.contrib import admin

from tickets.admin import ReadOnlyAdmin

from .models import Approval


@admin.register(Approval)
class ApprovalAdmin(ReadOnlyAdmin):
    """Approvals are given through the change's transitions, never edited."""

    list_display = ("change", "round", "role", "decision", "by", "at", "dismissed_at")
    list_filter = ("role", "decision", "change__organization")
    list_select_related = ("change", "by")
    search_fields = ("comment", "change__title")
