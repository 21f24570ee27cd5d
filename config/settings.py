"""Stationkeeper settings, configured entirely from the environment (the security headers'
fixed policies are config/headers.py).

Defaults are safe for production (DEBUG off, secure cookies, HSTS) except where a value can only
come from the operator (the secret key, the allowed hosts). `make run` sets DJANGO_DEBUG=1 and
uses the embedded defaults: SQLite and Celery's filesystem broker under var/.
"""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config import headers

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV", default=True) and (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

# Where the embedded defaults keep their state: the SQLite file, the broker's folders, beat's file.
VAR_DIR = Path(env.str("STATIONKEEPER_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DJANGO_DEBUG", default=False)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "Set DJANGO_SECRET_KEY (or DJANGO_DEBUG=1 for local development)."
        )
    SECRET_KEY = "insecure-development-key-only-used-with-DJANGO_DEBUG"  # noqa: S105

ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# The public base URL, used where an absolute link leaves the request cycle (QR codes, SMS, e-mail).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "phonenumber_field",
    "stations",
    "partners",
    "parcels",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.NulPathMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "stations.tenancy.AdminScopeMiddleware",
    "stations.tenancy.StationMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default is shared by the web server, the worker and beat: WAL lets readers run
    # beside the one writer, and IMMEDIATE transactions take the write lock up front, so two
    # writers queue (up to the timeout) instead of failing half-way with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if env.bool("DATABASE_SERVER_SIDE_BINDING", default=False):
        # psycopg sends parameters apart from the statement and, from the `prepare_threshold`th
        # run of a statement on a connection, prepares it on the server (see README, Performance).
        DATABASES["default"].setdefault("OPTIONS", {})
        DATABASES["default"]["OPTIONS"]["server_side_binding"] = True
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = env.int(
            "DATABASE_PREPARE_THRESHOLD", default=5
        )
# Services own their transactions (see CONVENTIONS.md); a request is not one big transaction.
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": env.cache_url("CACHE_URL", default="locmemcache://"),
    # Fragments the same for many requests (a station's card on its buyers' pages), per process,
    # keyed by all they show, so never stale.
    "fragments": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "frag",
        "OPTIONS": {"MAX_ENTRIES": 5000},
    },
}
# With a shared cache (Redis in production), sessions are read from it and written through to
# the database: one query less per request, and neither a flush nor an outage (config/cache.py)
# logs anybody out. A per-process cache (the development default) would disagree after a logout.
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # One client per pool, not per call; and an unreachable Redis reads as an empty cache.
    CACHES["default"]["BACKEND"] = "config.cache.RedisCache"
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    # A Redis that is down or unreachable must cost a request milliseconds, not the OS's
    # connect timeout (minutes): every page reads the session and most count a rate limit.
    CACHES["default"].setdefault("OPTIONS", {})
    CACHES["default"]["OPTIONS"].setdefault("socket_connect_timeout", 0.5)
    CACHES["default"]["OPTIONS"].setdefault("socket_timeout", 1.0)

# --- Accounts -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "stations.User"
AUTHENTICATION_BACKENDS = [
    "stations.accounts.ModelBackend",
    "stations.accounts.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_REDIRECT_URL = "/"
LOGIN_URL = "account_login"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="optional")
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Stationkeeper] "
# Only a password really checked and found wrong counts towards the lockout (stations/accounts.py).
ACCOUNT_ADAPTER = "stations.accounts.AccountAdapter"
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
}

# --- E-mail -------------------------------------------------------------------------------------
# The console backend would print password-reset links into the logs: development only.
if not DEBUG and "EMAIL_URL" not in env:
    raise ImproperlyConfigured("Set EMAIL_URL, e.g. smtp+tls://user:password@host:587.")
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Stationkeeper <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Internationalisation -----------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("zh-hans", _("Simplified Chinese")),
    ("ms", _("Malay")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
# The switcher's cookie is sent like the session's (no script reads it).
LANGUAGE_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_HTTPONLY = True
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
PHONENUMBER_DEFAULT_REGION = env.str("PHONENUMBER_DEFAULT_REGION", default="SG")

# --- Static files -------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Production serves hashed, compressed files collected by `manage.py collectstatic`; development
# and the tests serve straight from the source folders, with nothing to collect.
STATIC_MANIFEST = env.bool("DJANGO_STATIC_MANIFEST", default=not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if STATIC_MANIFEST
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
WHITENOISE_AUTOREFRESH = not STATIC_MANIFEST

# --- Security (production defaults; DEBUG relaxes the ones that need HTTPS) ---------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Trusted proxies ----------------------------------------------------------------------------
# How many proxies of ours (load balancer, nginx, …) stand between the client and the app. Limits
# per address (the buyer link's probing limit, allauth's login limits, any DRF throttle by
# address) take the client's address from the X-Forwarded-For entry the first of them wrote
# (config/proxies.py); entries to its left came from the client and are ignored. 0: no proxy, the
# header is ignored and the connection's address is the client's.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT is a number of proxies: 0 or more.")
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0 if DEBUG else 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
# The preload flag only offers the domain to browsers' preload lists; submitting is separate.
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp) and Permissions-Policy (django-permissions-policy) on every
# response: what they allow is config/headers.py, the pages allowed more config/policies.py.
CONTENT_SECURITY_POLICY = {"DIRECTIVES": dict(headers.CSP_DIRECTIVES)}
CSP_REPORT_URI = env.str("DJANGO_CSP_REPORT_URI", default="")
if CSP_REPORT_URI:
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["report-uri"] = [CSP_REPORT_URI]
PERMISSIONS_POLICY: dict[str, list[str]] = {feature: [] for feature in headers.DENIED_FEATURES}

# --- Django REST framework ----------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["partners.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["partners.api.parsers.BoundedJSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["partners.authentication.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env.str("API_RATE_PER_KEY", default="1200/min")},
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "partners.api.exceptions.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Stationkeeper partner API",
    "DESCRIPTION": (
        "Announce parcels to pickup stations, follow them, and get signed webhooks. "
        "Authenticate with `Authorization: Api-Key <key>`. Errors are "
        '`{"code": …, "detail": …, "errors": {field: [messages]}}`: 400 for bad input, 404 for a '
        "parcel that is not yours, 409 for an action not allowed in the parcel's state."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "ParcelStatusEnum": "parcels.models.Parcel.Status",
        "DeliveryStatusEnum": "partners.models.WebhookDelivery.Status",
        "LanguageEnum": "parcels.models.Parcel.Language",
        "WebhookEventEnum": "partners.models.WEBHOOK_EVENTS",
        "EventKindEnum": "partners.api.serializers.EVENT_KINDS",
    },
    "SERVERS": [{"url": SITE_URL, "description": "This deployment."}],
    "CONTACT": {"name": "The network's operator", "url": SITE_URL},
    "TAGS": [
        {"name": "parcels", "description": "Announce parcels and follow them to the buyer."},
        {"name": "stations", "description": "Where parcels can go, and how full each is."},
        {"name": "webhooks", "description": "Signed notices of parcel events, and their log."},
        {"name": "invoices", "description": "What you owe the stations."},
    ],
    # Headers every operation shares (rate limits, Idempotency-Key on POSTs): partners/api/schema.py
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "partners.api.schema.add_shared_headers",
    ],
}
# Partners' webhook URLs must be https, except where a test or a local setup allows http.
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=DEBUG)
# ... and must not resolve to private or local addresses, except where a test or a local setup
# posts to a server on this machine.
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=DEBUG)

# --- Celery -------------------------------------------------------------------------------------
# The embedded default is kombu's filesystem transport under var/broker, so `make run` needs no
# server; production and the tests point CELERY_BROKER_URL at Redis.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://localhost//")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # A task not acknowledged within this window is redelivered (acks_late below); it must be
    # longer than the longest task, and nothing is ever scheduled further ahead than this.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 3600,
        # An unreachable broker fails a publish fast (config.celery.queue_task then gives up).
        "socket_connect_timeout": 1.0,
    }
# A task queued from a request gives up after one quick retry instead of holding the clerk's page
# for seconds; what was not queued is picked up by beat's sweeps (config.celery.queue_task).
CELERY_BROKER_CONNECTION_TIMEOUT = 1.0
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Without this, Celery's Django fix-up closes the database connection before and after every task,
# so each task paid for a new PostgreSQL connection (the simulated day's SMS went out at half the
# rate, README: Performance). Now a worker process keeps its connection as a web process does
# (config/celery.py: CONN_MAX_AGE, with health checks); the fix-up itself still recycles it every
# this many tasks.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=500)
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "send-due-notices": {"task": "parcels.tasks.send_due_notices", "schedule": 60.0},
    "sweep-overdue": {"task": "parcels.tasks.sweep_overdue", "schedule": 300.0},
    "deliver-due-webhooks": {"task": "partners.tasks.deliver_due_webhooks", "schedule": 30.0},
    "send-unmailed-station-emails": {"task": "stations.tasks.send_unmailed", "schedule": 600.0},
    "close-previous-month": {"task": "stations.tasks.close_previous_month", "schedule": 3600.0},
    "prune-idempotency-records": {
        "task": "partners.tasks.prune_idempotency_records",
        "schedule": 3600.0,
    },
}
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Buyer notices ------------------------------------------------------------------------------
SMS_BACKEND = env.str(
    "SMS_BACKEND",
    default="parcels.notices.FileSmsBackend" if DEBUG else "parcels.notices.HttpSmsBackend",
)
SMS_GATEWAY_URL = env.str("SMS_GATEWAY_URL", default="")
SMS_GATEWAY_TOKEN = env.str("SMS_GATEWAY_TOKEN", default="")
if SMS_BACKEND.endswith("HttpSmsBackend") and not SMS_GATEWAY_URL:
    raise ImproperlyConfigured("Set SMS_GATEWAY_URL (and SMS_GATEWAY_TOKEN), or SMS_BACKEND.")
NOTICE_REMINDER_DAYS_BEFORE = env.int("NOTICE_REMINDER_DAYS_BEFORE", default=2)
NOTICE_SEND_HOUR = env.int("NOTICE_SEND_HOUR", default=10)  # local time at the station

# --- Parcel sizes (stations/sizes.py): each class's largest edges in cm, shortest first, and g --
# S, M and L are the compartments of common parcel lockers; XL is what a counter's shelf takes.
PARCEL_SIZES = {"S": (8, 38, 64, 25_000), "M": (19, 38, 64, 25_000)}
PARCEL_SIZES |= {"L": (38, 41, 64, 25_000), "XL": (60, 80, 120, 30_000)}

# --- Logging ------------------------------------------------------------------------------------
# Nothing personal (names, phone numbers, e-mail addresses) is ever logged; log ids instead.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
