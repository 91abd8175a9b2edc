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
