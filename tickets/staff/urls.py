"""The staff workspace (`/staff/`) and the account pages every user shares (`/accounts/`)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from .views import (
    account,
    attachments,
    calendar,
    changes,
    dashboard,
    editor,
    tickets,
    webhooks,
)

app_name = "staff"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("notices/read/", dashboard.notices_read, name="notices_read"),
    path("notices/<int:notice>/read/", dashboard.notice_read, name="notice_read"),
    path("tickets/", tickets.ticket_list, name="ticket_list"),
    path("tickets/new/", tickets.ticket_new, name="ticket_new"),
    path("tickets/<str:ref>/", tickets.ticket_detail, name="ticket_detail"),
    path("tickets/<str:ref>/edit/", tickets.ticket_edit, name="ticket_edit"),
    path("tickets/<str:ref>/comment/", tickets.ticket_comment, name="ticket_comment"),
    path("tickets/<str:ref>/assign/", tickets.ticket_assign, name="ticket_assign"),
    path("tickets/<str:ref>/attach/", tickets.ticket_attach, name="ticket_attach"),
    path(
        "tickets/<str:ref>/transitions/<slug:name>/",
        tickets.ticket_transition,
        name="ticket_transition",
    ),
    path("changes/", changes.change_list, name="change_list"),
    path("changes/board/", changes.change_board, name="change_board"),
    path("changes/new/", changes.change_new, name="change_new"),
    path("changes/<str:ref>/", changes.change_detail, name="change_detail"),
    path("changes/<str:ref>/edit/", editor.change_edit, name="change_edit"),
    path(
        "changes/<str:ref>/edit/ticket-candidates/",
        editor.change_ticket_candidates,
        name="change_ticket_candidates",
    ),
    path(
        "changes/<str:ref>/transitions/<slug:name>/",
        changes.change_transition,
        name="change_transition",
    ),
    path("changes/<str:ref>/window/", changes.change_window, name="change_window"),
    path(
        "changes/<str:ref>/checklist/<int:item>/",
        changes.change_checklist_item,
        name="change_checklist_item",
    ),
    path(
        "changes/<str:ref>/scenarios/<int:scenario>/result/",
        changes.change_scenario_result,
        name="change_scenario_result",
    ),
    path(
        "tickets/<str:ref>/attachments/",
        attachments.ticket_attachment_add,
        name="ticket_attachment_add",
    ),
    path(
        "changes/<str:ref>/attachments/",
        attachments.change_attachment_add,
        name="change_attachment_add",
    ),
    path(
        "attachments/<int:pk>/download/",
        attachments.attachment_download,
        name="attachment_download",
    ),
    path("attachments/<int:pk>/delete/", attachments.attachment_delete, name="attachment_delete"),
    path("workflows/", account.workflows, name="workflows"),
    path("webhooks/", webhooks.webhook_list, name="webhooks"),
    path("webhooks/new/", webhooks.webhook_create, name="webhook_create"),
    path("webhooks/<int:pk>/switch/", webhooks.webhook_switch, name="webhook_switch"),
    path("webhooks/<int:pk>/delete/", webhooks.webhook_delete, name="webhook_delete"),
    path("webhooks/<int:pk>/deliveries/", webhooks.webhook_deliveries, name="webhook_deliveries"),
    path(
        "webhooks/<int:pk>/deliveries/<int:did>/redeliver/",
        webhooks.webhook_redeliver,
        name="webhook_redeliver",
    ),
    path("calendar/", calendar.calendar, name="calendar"),
    path("calendar/feed/", calendar.calendar_feed, name="calendar_feed"),
    path("freezes/", calendar.freeze_list, name="freeze_list"),
    path("freezes/new/", calendar.freeze_new, name="freeze_new"),
    path("freezes/<int:pk>/", calendar.freeze_detail, name="freeze_detail"),
    path("freezes/<int:pk>/delete/", calendar.freeze_delete, name="freeze_delete"),
]

# Included at /accounts/ without a namespace: Django's auth views reverse these names.
account_urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("tokens/", account.api_tokens, name="api_tokens"),
]
