"""/api/v1/ (API.md), the OpenAPI schema at /api/schema/ and its docs at /api/docs/."""

from __future__ import annotations

from django.urls import include, path, re_path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework.routers import SimpleRouter

from . import attachments, auth, gate, schedule, views, webhooks

router = SimpleRouter()
router.register("organizations", views.OrganizationViewSet, basename="api-organization")
router.register("components", views.ComponentViewSet, basename="api-component")
router.register("tickets", views.TicketViewSet, basename="api-ticket")
router.register("changes", views.ChangeViewSet, basename="api-change")

v1 = [
    path("auth/token/", auth.ObtainTokenView.as_view(), name="api-token"),
    path("auth/logout/", auth.LogoutView.as_view(), name="api-logout"),
    path("auth/tokens/", auth.TokenListView.as_view(), name="api-tokens"),
    path("auth/tokens/<str:token_key>/", auth.TokenDetailView.as_view(), name="api-token-detail"),
    path("me/", views.MeView.as_view(), name="api-me"),
    path(
        "tickets/<str:id>/attachments/",
        attachments.TicketAttachmentsView.as_view(),
        name="api-ticket-attachments",
    ),
    path(
        "changes/<str:id>/attachments/",
        attachments.ChangeAttachmentsView.as_view(),
        name="api-change-attachments",
    ),
    path("attachments/<str:id>/", attachments.AttachmentView.as_view(), name="api-attachment"),
    path(
        "attachments/<str:id>/download/",
        attachments.AttachmentDownloadView.as_view(),
        name="api-attachment-download",
    ),
    path("changes/<str:id>/gate/", gate.ChangeGateView.as_view(), name="api-change-gate"),
    path("calendar/", schedule.CalendarView.as_view(), name="api-calendar"),
    path("calendar/feed/", schedule.CalendarFeedView.as_view(), name="api-calendar-feed"),
    path(
        "calendar/feed/<str:token>.ics",
        schedule.feed_download,
        name="calendar-feed",
    ),
    path("freezes/", schedule.FreezeListView.as_view(), name="api-freezes"),
    path("freezes/<str:id>/", schedule.FreezeDetailView.as_view(), name="api-freeze"),
    path("webhooks/", webhooks.WebhookListView.as_view(), name="api-webhooks"),
    path("webhooks/<str:id>/", webhooks.WebhookDetailView.as_view(), name="api-webhook"),
    path(
        "webhooks/<str:id>/deliveries/",
        webhooks.WebhookDeliveriesView.as_view(),
        name="api-webhook-deliveries",
    ),
    path(
        "webhooks/<str:id>/deliveries/<str:did>/redeliver/",
        webhooks.WebhookRedeliverView.as_view(),
        name="api-webhook-redeliver",
    ),
    *router.urls,
]

urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file: no inline script for the CSP.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    re_path(r"", views.NotFoundView.as_view(), name="api-not-found"),
]
