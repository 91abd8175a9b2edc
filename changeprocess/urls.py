from django.contrib import admin
from django.urls import include, path

from changeprocess import health
from tickets import views as staff_views
from tickets.urls import account_urlpatterns

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/", include("tickets.api.urls")),
    path("portal/", include("tickets.portal_urls")),
    path("accounts/", include(account_urlpatterns)),
    path("staff/", include("tickets.urls")),
    # Provider staff land on their workspace, customer users on the portal.
    path("", staff_views.home, name="home"),
]
