"""Production: the containers of docker-compose.yml (see docs/deploy.md).

The secret key, the host names and the database and Redis addresses have no defaults
here: a missing one stops the process at start with a message naming it, instead of
running against SQLite or a guessable key. .env.example explains every variable read
below.
"""

import os
from datetime import timedelta
from pathlib import Path

from csp.constants import NONCE, NONE, SELF
from django.conf import global_settings
from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import (
    BASE_DIR,
    DATABASES,
    DEFAULT_FROM_EMAIL,
    FRAGMENT_CACHE,
    INSTALLED_APPS,
    MIDDLEWARE,
    REDIS_URL,
    env,
)

_REQUIRED = ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "REDIS_URL")
_missing = [name for name in _REQUIRED if not os.environ.get(name)]
if _missing:
    raise ImproperlyConfigured(
        "Production settings need these environment variables: "
        f"{', '.join(_missing)} (see .env.example)."
    )

DEBUG = False

# --- Database: PostgreSQL through psycopg 3's pool, one pool per process ----------------
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL in production.")
_db_options = DATABASES["default"].setdefault("OPTIONS", {})
_db_options["connect_timeout"] = env.int("DATABASE_CONNECT_TIMEOUT", default=5)
if _db_options.get("pool"):  # DATABASE_POOL=false in base.py turns the pool off
    # Each gunicorn worker and each Celery worker process holds its own pool, so
    # PostgreSQL sees up to (processes x max_size) connections; keep that under
    # max_connections (100 by default).
    _db_options["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=1),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=4),
        # Seconds a request waits for a free connection before failing.
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
    }
# Pooled connections die when PostgreSQL restarts; with the pool, Django turns this into
# psycopg's check of each connection on checkout.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# --- Redis: Celery broker (base.py), cache, login-failure counters, API throttling ------
CACHES = {
    "default": {
        "BACKEND": "changeprocess.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "changeprocess",
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    },
    "fragments": FRAGMENT_CACHE,
}

# Sessions are read from Redis (written through to the database, so a Redis restart logs
# nobody out): no session query per request.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- HTTPS, behind a TLS-terminating reverse proxy --------------------------------------
# Only safe when the proxy overwrites X-Forwarded-Proto on every request (docs/deploy.md).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Container health checks speak plain HTTP to the container; HealthProbeMiddleware answers
# them before SecurityMiddleware runs, this keeps them exempt should it ever be removed.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
# Pages take the CSRF token from the template ({% csrf_token %}), never from the cookie.
CSRF_COOKIE_HTTPONLY = True

# --- Apps and middleware only production runs -------------------------------------------
INSTALLED_APPS = [*INSTALLED_APPS, "csp", "axes"]
MIDDLEWARE = [
    # First: probes must not depend on the Host header, HTTPS or sessions.
    "changeprocess.health.HealthProbeMiddleware",
    *MIDDLEWARE,
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes requires: it turns a lockout raised by authenticate() into a 429.
    "axes.middleware.AxesMiddleware",
]

# --- Content-Security-Policy (django-csp 4): same-origin only, no inline code -----------
# Except what carries the request's nonce: only the API docs (templates/drf_spectacular/)
# ask for one, and the header names it only on the pages that did.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "base-uri": [SELF],
        "object-src": [NONE],
        "frame-ancestors": [NONE],
    },
}

# --- Login throttling (django-axes 8), counters in the Redis cache ----------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    *globals().get("AUTHENTICATION_BACKENDS", global_settings.AUTHENTICATION_BACKENDS),
]
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_RESET_ON_SUCCESS = True
# "username+ip_address" locks that pair only: one customer's office behind a shared NAT
# address is not locked out by a colleague's typos, and nobody can lock out a user from
# elsewhere by guessing against their name.
AXES_LOCKOUT_PARAMETERS = [
    item.split("+") if "+" in item else item
    for item in env.list("AXES_LOCKOUT_PARAMETERS", default=["username+ip_address"])
]
# The client's address as the throttles see it: REMOTE_ADDR, or the entry of
# X-Forwarded-For that the first of TRUSTED_PROXY_COUNT trusted proxies wrote (base.py).
AXES_CLIENT_IP_CALLABLE = "changeprocess.guard.client_address"
# 429 with a JSON body under /api/, a page elsewhere.
AXES_LOCKOUT_CALLABLE = "changeprocess.guard.lockout_response"

# --- Static files: hashed names collected into the image, served by WhiteNoise ----------
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
# Attachments: the file system under MEDIA_ROOT (a volume), or any storage backend named
# by STORAGE_BACKEND with its STORAGE_OPTIONS as JSON, e.g. django-storages' S3 backend
# (installed separately; docs/deploy.md).
STORAGES = {
    "default": {
        "BACKEND": env("STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage"),
        "OPTIONS": env.json("STORAGE_OPTIONS", default={}),
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- E-mail over SMTP -------------------------------------------------------------------
# smtp+tls://user:password@host:587 (STARTTLS) or smtp+ssl://user:password@host:465.
_email = env.email_url("EMAIL_URL", default="smtp://localhost:25")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email["EMAIL_HOST"]
EMAIL_PORT = _email["EMAIL_PORT"]
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"] or ""
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"] or ""
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = 10
SERVER_EMAIL = env("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)

# --- Logs: one JSON object per line on stdout -------------------------------------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": True,  # ISO 8601 in UTC
        },
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
        },
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # gunicorn attaches its own plain-text handlers; these replace them.
        "gunicorn.error": {"handlers": ["stdout"], "level": LOG_LEVEL, "propagate": False},
        "gunicorn.access": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
    },
}
