"""Development: `make run`. SQLite by default, e-mail to the console, Celery in-process."""

from .base import *  # noqa: F403
from .base import FRAGMENT_CACHE, env

DEBUG = env.bool("DEBUG", default=True)
# Without a broker running, tasks run in the web process so `make run` needs nothing else.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# `make run` needs no Redis: API throttling counters live in the process.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "fragments": FRAGMENT_CACHE,
}
