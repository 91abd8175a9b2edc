"""Production settings plus the bare view's URL: what `benchmarks/http_pages.py` serves.

Only the benchmark uses this module; nothing in the product imports it."""

from changeprocess.settings.production import *  # noqa: F403

ROOT_URLCONF = "benchmarks.urls"
