"""The product's URLs, and the bare view the pages are compared with."""

from django.urls import include, path

from benchmarks.bare import bare_tickets

urlpatterns = [
    path("bench/bare/", bare_tickets),
    path("", include("changeprocess.urls")),
]
