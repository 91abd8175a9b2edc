"""Operators' view of communications: what was sent to whom, what failed and why, and a
way to send failed deliveries again once the cause is fixed (through the service)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from tickets.errors import DomainError

from .models import Delivery, Notification, WebhookDelivery, WebhookEndpoint
from .services import deliveries_retry


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "subject", "change", "ticket", "created"]
    list_filter = ["kind"]
    search_fields = ["subject"]
    list_select_related = ["change", "ticket"]
    raw_id_fields = ["change", "ticket", "actor"]
    date_hierarchy = "created"
    readonly_fields = [f.name for f in Notification._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "notification", "recipient", "state", "attempts", "sent_at", "last_error"]
    list_filter = ["state", "notification__kind"]
    search_fields = ["recipient"]
    list_select_related = ["notification"]
    raw_id_fields = ["notification", "user", "contact"]
    readonly_fields = [f.name for f in Delivery._meta.fields]
    actions = ["retry"]
    # Counting 10,000 rows per page view is not worth it.
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Send the selected failed deliveries again")
    def retry(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        try:
            count = deliveries_retry(by=request.user, deliveries=queryset)  # type: ignore[arg-type]
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        self.message_user(request, f"{count} deliveries queued again.", messages.SUCCESS)


# Webhooks: operators look (and may remove an endpoint); subscribing and changing go
# through the API's services, which check the URL and make the secret.


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["id", "url", "organization", "owner", "active", "consecutive_failures"]
    list_filter = ["active"]
    search_fields = ["url"]
    list_select_related = ["organization", "owner"]
    # Not the secret: it was shown once, to whoever subscribed.
    readonly_fields = [
        "url",
        "events",
        "organization",
        "owner",
        "active",
        "created",
        "consecutive_failures",
        "disabled_at",
        "disabled_reason",
    ]
    fields = list(readonly_fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "endpoint", "object_key", "state", "attempts", "status_code", "created"]
    list_filter = ["state"]
    search_fields = ["object_key"]
    list_select_related = ["endpoint", "event"]
    raw_id_fields = ["endpoint", "event"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
