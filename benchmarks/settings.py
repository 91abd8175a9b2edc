"""Production settings plus the bare view's URL: what `benchmarks/http_pages.py` serves.

Only the benchmark uses this module; nothing in the product imports it."""

import os

from changeprocess.settings.production import *  # noqa: F403

ROOT_URLCONF = "benchmarks.urls"

# --cold: no rendered row or form is kept (tickets/templatetags/fragments.py), so that every
# request draws all of them, as if everything on the page had just changed.
if os.environ.get("BENCH_KEEP_FRAGMENTS") == "0":
    CACHES["fragments"] = {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}  # noqa: F405
