"""The customer portal's URLs, mounted at `/portal/` (namespace `portal`).

Objects are addressed by their human key (`SUP-12`, `CHG-3`; a bare id works too). Every
URL that names an object answers 404 for a user outside its organisation, whatever the
method; action URLs take POST, and a GET on one leads back to its page.
"""

from django.urls import path

from . import portal

app_name = "portal"

urlpatterns = [
    path("", portal.home, name="home"),
    path("tickets/", portal.ticket_list, name="tickets"),
    path("tickets/new/", portal.ticket_new, name="ticket_new"),
    path("tickets/<str:ref>/", portal.ticket_detail, name="ticket"),
    path("tickets/<str:ref>/comment/", portal.ticket_comment, name="ticket_comment"),
    path(
        "tickets/<str:ref>/transitions/<slug:name>/",
        portal.ticket_transition,
        name="ticket_transition",
    ),
    path("changes/", portal.change_list, name="changes"),
    path("changes/<str:ref>/", portal.change_detail, name="change"),
    path(
        "changes/<str:ref>/transitions/<slug:name>/",
        portal.change_transition,
        name="change_transition",
    ),
    path("changes/<str:ref>/window/", portal.change_window, name="change_window"),
    path(
        "changes/<str:ref>/scenarios/<int:scenario>/result/",
        portal.change_scenario_result,
        name="change_scenario_result",
    ),
    path(
        "changes/<str:ref>/checklist/<int:item>/",
        portal.change_checklist_item,
        name="change_checklist_item",
    ),
    path(
        "changes/<str:ref>/tickets/<str:ticket>/<slug:name>/",
        portal.change_ticket_transition,
        name="change_ticket_transition",
    ),
    path("contacts/", portal.contacts, name="contacts"),
    path("contacts/add/", portal.contact_add, name="contact_add"),
    path("contacts/import/", portal.contacts_import, name="contacts_import"),
    path("contacts/<int:pk>/remove/", portal.contact_remove, name="contact_remove"),
    path("notifications/", portal.notifications, name="notifications"),
    path("notifications/read/", portal.notifications_read_all, name="notifications_read_all"),
    path("notifications/<int:pk>/read/", portal.notification_read, name="notification_read"),
]
