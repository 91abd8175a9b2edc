"""Settings shared by every environment; the differences come from the environment.

Each environment module (local, test, production) imports everything from here and
overrides only what differs. Values a deployment must choose are read from environment
variables through django-environ.
"""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A .env file is a convenience for development; real deployments set the environment.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="insecure-development-key-change-me")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_fsm",
    "django_htmx",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "tickets",
    "approvals",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything reads the request: NUL characters, unpaired surrogates, JSON nested
    # too deep, bodies too large (changeprocess/guard.py).
    "changeprocess.guard.InputGuardMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tickets.middleware.UserTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "changeprocess.urls"
WSGI_APPLICATION = "changeprocess.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Widgets through their Jinja2 templates (changeprocess/forms.py).
FORM_RENDERER = "changeprocess.forms.WidgetRenderer"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # psycopg 3's connection pool (Django >= 5.1); persistent connections are off with it.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = env.bool("DATABASE_POOL", default=True)
    # `QuerySet.iterator()` reads through a client-side cursor. Its users on a request
    # are the forms' model choices (a few staff, environments or organisations), where a
    # server-side cursor cost three round trips (DECLARE, FETCH, CLOSE) instead of one;
    # nothing streams a large result (migration 0003's data step read all changes' ids).
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "tickets.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

LOGIN_URL = "/accounts/login/"
# "/" sends provider staff to their workspace and customer users to the portal.
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")

# Celery: Redis as broker; results are not stored because nothing reads them.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TIMEZONE = TIME_ZONE
# Sending tasks run for seconds: a worker process takes one at a time, so the others stay
# in the queue for whichever process is free.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE = {
    # Reminders are due to the minute; the sweep re-dispatches what a broker outage or a
    # dead worker left behind (notifications/sending.py).
    "notifications-reminders": {
        "task": "notifications.tasks.send_due_reminders",
        "schedule": env.float("NOTIFICATIONS_REMINDER_INTERVAL", default=60.0),
    },
    "notifications-sweep": {
        "task": "notifications.tasks.sweep",
        "schedule": env.float("NOTIFICATIONS_SWEEP_INTERVAL", default=60.0),
    },
    "webhooks-sweep": {
        "task": "notifications.tasks.sweep_webhooks",
        "schedule": env.float("WEBHOOKS_SWEEP_INTERVAL", default=60.0),
    },
    # Expired API tokens are refused as they are presented; this deletes the rest
    # (tickets/api/authentication.py).
    "tokens-purge": {"task": "tickets.tasks.purge_expired_tokens", "schedule": 3600.0},
}

# E-mail: console in development; SMTP (EMAIL_BACKEND=django.core.mail.backends.smtp.
# EmailBackend and EMAIL_HOST...) or the file backend (EMAIL_FILE_PATH) from the environment.
# production.py reads EMAIL_URL instead.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="changes@changeprocess.example")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(BASE_DIR / "sent-mail"))

# Deployment windows (tickets.services.window_problems): how far ahead one may start, and
# how long one may last.
CHANGE_WINDOW_MAX_DAYS_AHEAD = env.int("CHANGE_WINDOW_MAX_DAYS_AHEAD", default=730)
CHANGE_WINDOW_MAX_HOURS = env.int("CHANGE_WINDOW_MAX_HOURS", default=7 * 24)

# Attachments (tickets/models/attachments.py): stored through STORAGES["default"], the
# file system under MEDIA_ROOT unless production.py is told otherwise (docs/deploy.md).
# Nothing serves MEDIA_ROOT directly: every download goes through the visibility check.
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(BASE_DIR / "media")))
ATTACHMENTS_MAX_BYTES = env.int("ATTACHMENTS_MAX_BYTES", default=20 * 1024 * 1024)
ATTACHMENTS_MAX_PER_SUBJECT = env.int("ATTACHMENTS_MAX_PER_SUBJECT", default=100)

# E-mail in (tickets/services/inbound.py, `manage.py receive_email`): notifications about a
# ticket carry Reply-To: <local>+SUP-<n>@<domain> of this address, so that a reply finds its
# ticket whatever the mail client keeps of the headers. Empty: no Reply-To.
SUPPORT_REPLY_ADDRESS = env("SUPPORT_REPLY_ADDRESS", default="")
# Optional polling of an IMAP mailbox by Celery beat (off unless INBOUND_IMAP_HOST is set):
# imaps://, each unseen message handed to the same code as `receive_email`.
INBOUND_IMAP_HOST = env("INBOUND_IMAP_HOST", default="")
INBOUND_IMAP_PORT = env.int("INBOUND_IMAP_PORT", default=993)
INBOUND_IMAP_USER = env("INBOUND_IMAP_USER", default="")
INBOUND_IMAP_PASSWORD = env("INBOUND_IMAP_PASSWORD", default="")
INBOUND_IMAP_FOLDER = env("INBOUND_IMAP_FOLDER", default="INBOX")
INBOUND_IMAP_INTERVAL = env.float("INBOUND_IMAP_INTERVAL", default=60.0)
if INBOUND_IMAP_HOST:
    CELERY_BEAT_SCHEDULE["tickets-mailbox"] = {
        "task": "tickets.tasks.poll_mailbox",
        "schedule": INBOUND_IMAP_INTERVAL,
    }

# Communications (notifications/): see notifications/sending.py for what each one guards.
NOTIFICATIONS_REMINDER_LEAD = timedelta(
    minutes=env.int("NOTIFICATIONS_REMINDER_LEAD_MINUTES", default=24 * 60)
)
NOTIFICATIONS_BATCH_SIZE = env.int("NOTIFICATIONS_BATCH_SIZE", default=200)  # per task
# Tasks sending one communication at once. Sending waits on the mail server and the
# database far more than it computes: a worker with more pool processes than CPUs (4 on
# 2 CPUs, docs/benchmarks.md) sends about twice as fast.
NOTIFICATIONS_PARALLEL = env.int("NOTIFICATIONS_PARALLEL", default=4)
NOTIFICATIONS_MAX_ATTEMPTS = env.int("NOTIFICATIONS_MAX_ATTEMPTS", default=6)
NOTIFICATIONS_RETRY_BACKOFF = env.float("NOTIFICATIONS_RETRY_BACKOFF", default=60.0)  # s
NOTIFICATIONS_RETRY_BACKOFF_MAX = env.float("NOTIFICATIONS_RETRY_BACKOFF_MAX", default=1800.0)
NOTIFICATIONS_SENDING_LEASE = env.float("NOTIFICATIONS_SENDING_LEASE", default=600.0)  # s
NOTIFICATIONS_SWEEP_GRACE = env.float("NOTIFICATIONS_SWEEP_GRACE", default=120.0)  # s

# Webhooks (notifications/webhooks/addresses.py): receivers on loopback, private,
# link-local and other non-public addresses are refused unless this is true.
WEBHOOKS_ALLOW_PRIVATE_NETWORKS = env.bool("WEBHOOKS_ALLOW_PRIVATE_NETWORKS", default=False)
# Delivery (notifications/webhooks/delivery.py): seconds to wait for an answer; attempts
# per delivery, the first retry's delay (doubling, capped); failed attempts in a row that
# disable an endpoint; a claim's lease; deliveries per task.
WEBHOOKS_TIMEOUT = env.float("WEBHOOKS_TIMEOUT", default=10.0)
WEBHOOKS_MAX_ATTEMPTS = env.int("WEBHOOKS_MAX_ATTEMPTS", default=8)
WEBHOOKS_RETRY_BACKOFF = env.float("WEBHOOKS_RETRY_BACKOFF", default=30.0)
WEBHOOKS_RETRY_BACKOFF_MAX = env.float("WEBHOOKS_RETRY_BACKOFF_MAX", default=3600.0)
WEBHOOKS_DISABLE_AFTER = env.int("WEBHOOKS_DISABLE_AFTER", default=20)
WEBHOOKS_LEASE = env.float("WEBHOOKS_LEASE", default=120.0)
WEBHOOKS_BATCH_SIZE = env.int("WEBHOOKS_BATCH_SIZE", default=50)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# --- Cache: Redis (API throttling counters; production.py adds its own options) ---------
# Rendered rows of lists, in each process's own memory, keyed by all that a row shows
# (tickets/templatetags/fragments.py): never stale, so never shared or invalidated.
FRAGMENT_CACHE = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "fragments",
    "TIMEOUT": 3600,
    "OPTIONS": {"MAX_ENTRIES": 10_000},
}
CACHES = {
    "default": {
        "BACKEND": "changeprocess.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "changeprocess",
    },
    "fragments": FRAGMENT_CACHE,
}

# --- Client addresses (throttling, login lockout): changeprocess.guard.client_address ---
# How many proxies in front of the app append to X-Forwarded-For. 0: nothing in front,
# the TCP peer (REMOTE_ADDR) is the client and X-Forwarded-For, set by the client as it
# likes, is ignored. docs/deploy.md.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- REST API (tickets/api/, docs/api.md, the contract in API.md) ------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tickets.api.authentication.TokenAuthentication",
        # Browsers: the login session, with CSRF enforced on unsafe methods.
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["tickets.api.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "tickets.api.pagination.Pagination",
    "PAGE_SIZE": env.int("API_PAGE_SIZE", default=50),
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": [
        "tickets.api.throttling.AnonThrottle",
        "tickets.api.throttling.UserThrottle",
    ],
    # DRF's own reading of X-Forwarded-For; the throttles ask changeprocess.guard, which
    # reads the same setting.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("API_THROTTLE_ANON", default="60/minute"),
        "user": env("API_THROTTLE_USER", default="1200/minute"),
        # Password guessing through the token endpoint, per client address.
        "login": env("API_THROTTLE_LOGIN", default="20/minute"),
    },
    "EXCEPTION_HANDLER": "tickets.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "tickets.api.schema.AutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env.int("API_TOKEN_TTL_HOURS", default=24 * 30)),
    "AUTO_REFRESH": False,
    "TOKEN_LIMIT_PER_USER": None,
    "AUTH_HEADER_PREFIX": "Token",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "changeprocess API",
    "DESCRIPTION": (
        "Support tickets and change tickets between the provider and its enterprise "
        "customers. The contract is API.md; docs/api.md walks through both lifecycles."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "PREPROCESSING_HOOKS": ["tickets.api.schema.only_api_v1"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        # The webhooks' payloads (components) and requests (x-webhooks).
        "tickets.api.webhook_schema.describe_webhooks",
    ],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "TicketStatusEnum": "tickets.models.TicketStatus",
        "ChangeStatusEnum": "tickets.models.ChangeStatus",
        "TicketTypeEnum": "tickets.models.TicketType",
        "PriorityEnum": "tickets.models.Priority",
        # provider/customer: who performs a change, who a ticket or change waits on.
        "SideEnum": "tickets.models.Performer",
        "ResolutionEnum": "tickets.models.Resolution",
        "ScenarioKindEnum": "tickets.models.ScenarioKind",
        "ScenarioResultEnum": "tickets.models.ScenarioResult",
        "ChecklistStateEnum": "tickets.models.ChecklistState",
        "ApprovalRoleEnum": "approvals.models.ApprovalRole",
        "DecisionEnum": "approvals.models.Decision",
        "ProviderApprovalRoleEnum": "tickets.api.enums.PROVIDER_APPROVAL_ROLES",
        "TicketTransitionEnum": "tickets.api.enums.TICKET_TRANSITIONS",
        "ChangeTransitionEnum": "tickets.api.enums.CHANGE_TRANSITIONS",
        # change/freeze: what a calendar entry or a conflict is.
        "ScheduleKindEnum": "tickets.api.enums.SCHEDULE_KINDS",
        "TransitionParameterEnum": "tickets.api.enums.TRANSITION_PARAMETERS",
        "UserRoleEnum": "tickets.api.enums.USER_ROLES",
        "CommunicationKindEnum": "notifications.models.NotificationKind",
    },
    # Swagger UI and Redoc from drf-spectacular-sidecar's files, served as static files.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# The calendar feed (tickets/scheduling/ical.py): how far back and ahead it reaches, and
# the domain of its events' UIDs (keep it once users subscribe: a new one duplicates).
CALENDAR_FEED_PAST_DAYS = env.int("CALENDAR_FEED_PAST_DAYS", default=90)
CALENDAR_FEED_FUTURE_DAYS = env.int("CALENDAR_FEED_FUTURE_DAYS", default=400)
# A calendar client refreshes the whole feed every few minutes: the windows nearest to now.
CALENDAR_FEED_MAX_EVENTS = env.int("CALENDAR_FEED_MAX_EVENTS", default=2000)
CALENDAR_UID_DOMAIN = env("CALENDAR_UID_DOMAIN", default="changeprocess.invalid")
