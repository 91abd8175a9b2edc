"""Tests: real PostgreSQL (DATABASE_URL) and Redis (REDIS_URL), never SQLite."""

from pathlib import Path
from tempfile import gettempdir

from .base import *  # noqa: F403
from .base import DATABASES, env

DATABASES["default"] = env.db(
    "DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/changeprocess"
)
# Each test runs in a transaction; a pool would hold connections across them for nothing.
DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True  # as base.py says
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tasks queued after a commit run in the test process (e-mail to the locmem outbox) rather
# than piling up in a shared Redis; tests/notifications/ start a real broker and worker.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105
# Serve static files from the finders: tests never run collectstatic.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# Attachments written by tests go to the temporary directory, never into the checkout.
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(Path(gettempdir()) / "changeprocess-test-media")))
