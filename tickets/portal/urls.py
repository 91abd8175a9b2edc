"""The customer portal's URLs, mounted at `/portal/` (namespace `portal`).

Objects are addressed by their human key (`SUP-12`, `CHG-3`; a bare id works too). Every
URL that names an object answers 404 for a user outside its organisation, whatever the
method; action URLs take POST, and a GET on one leads back to its page.
"""

from django.urls import path

from .views import attachments, calendar, changes, contacts, home, tickets, webhooks

app_name = "portal"

urlpatterns = [
    path("", home.home, name="home"),
    path("tickets/", tickets.ticket_list, name="tickets"),
    path("tickets/new/", tickets.ticket_new, name="ticket_new"),
    path("tickets/<str:ref>/", tickets.ticket_detail, name="ticket"),
    path("tickets/<str:ref>/comment/", tickets.ticket_comment, name="ticket_comment"),
    path(
        "tickets/<str:ref>/transitions/<slug:name>/",
        tickets.ticket_transition,
        name="ticket_transition",
    ),
    path("changes/", changes.change_list, name="changes"),
    path("changes/<str:ref>/", changes.change_detail, name="change"),
    path(
        "changes/<str:ref>/transitions/<slug:name>/",
        changes.change_transition,
        name="change_transition",
    ),
    path("changes/<str:ref>/window/", changes.change_window, name="change_window"),
    path(
        "changes/<str:ref>/scenarios/<int:scenario>/result/",
        changes.change_scenario_result,
        name="change_scenario_result",
    ),
    path(
        "changes/<str:ref>/checklist/<int:item>/",
        changes.change_checklist_item,
        name="change_checklist_item",
    ),
    path(
        "changes/<str:ref>/tickets/<str:ticket>/<slug:name>/",
        changes.change_ticket_transition,
        name="change_ticket_transition",
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
    path("calendar/", calendar.calendar, name="calendar"),
    path("calendar/feed/", calendar.calendar_feed, name="calendar_feed"),
    path("contacts/", contacts.contacts, name="contacts"),
    path("contacts/add/", contacts.contact_add, name="contact_add"),
    path("contacts/import/", contacts.contacts_import, name="contacts_import"),
    path("contacts/<int:pk>/remove/", contacts.contact_remove, name="contact_remove"),
    path("notifications/", home.notifications, name="notifications"),
    path("notifications/read/", home.notifications_read_all, name="notifications_read_all"),
    path("notifications/<int:pk>/read/", home.notification_read, name="notification_read"),
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
]
