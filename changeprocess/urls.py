from django.contrib import admin
from django.urls import include, path

from changeprocess import health
from tickets.staff.urls import account_urlpatterns
from tickets.staff.views.common import home

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/", include("tickets.api.urls")),
    path("portal/", include("tickets.portal.urls")),
    path("accounts/", include(account_urlpatterns)),
    path("staff/", include("tickets.staff.urls")),
    # Provider staff land on their workspace, customer users on the portal.
    path("", home, name="home"),
]

# What Django answers itself: JSON in the API's error shape under /api/, pages elsewhere.
handler400 = "changeprocess.guard.bad_request"
handler403 = "changeprocess.guard.permission_denied"
handler500 = "changeprocess.guard.server_error"
