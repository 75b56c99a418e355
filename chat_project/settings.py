"""Django settings for the chat API.

Every deploy-specific value comes from the environment; a `.env` file in the
project root is read first (python-dotenv) so local development needs no
exported variables. `.env.example` documents each variable.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent

# Real environment variables win over the .env file.
load_dotenv(BASE_DIR / ".env", override=False)


def env_bool(name: str, default: bool) -> bool:
    """Read a yes/no variable; anything but a recognised spelling is an error."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no, on/off), got {raw!r}.")


def env_int(name: str, default: int) -> int:
    """Read a positive whole number."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}.") from None
    if value <= 0:
        raise ImproperlyConfigured(f"{name} must be positive, got {value}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", default=False)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        # Refuse to run in production with a key anybody can read in this file.
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it in the environment or in .env "
            "(see .env.example), or set DJANGO_DEBUG=1 for local development."
        )
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "corsheaders",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "threads",
    "accounts",
    "safety",
    "webclient",
    "webhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Right after SecurityMiddleware: static files skip the rest of the stack.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before CommonMiddleware, so that its answers carry the CORS headers too.
    "corsheaders.middleware.CorsMiddleware",
    "threads.middleware.ApiSecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Failed admin logins, per address and per username (accounts/admin_login.py).
    "accounts.admin_login.AdminLoginThrottleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "chat_project.urls"
CSRF_FAILURE_VIEW = "threads.exceptions.json_csrf_failure"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

WSGI_APPLICATION = "chat_project.wsgi.application"
ASGI_APPLICATION = "chat_project.asgi.application"

# SQLite in the project directory unless DATABASE_URL says otherwise, so a new
# checkout needs nothing installed. Example: postgres://postgres@127.0.0.1:5432/chat
DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent requests on SQLite: take the write lock when a transaction
    # starts (IMMEDIATE), so a read-then-write transaction never fails to
    # upgrade its lock; wait up to 20 s for it instead of failing with
    # "database is locked"; and let readers run beside the writer (WAL).
    # Our subclass of Django's backend waits for the write lock in shorter
    # steps than SQLite does (chat_project/sqlite_backend/base.py).
    DATABASES["default"]["ENGINE"] = "chat_project.sqlite_backend"
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    if os.environ.get("CHAT_SERVER_INTERFACE") == "wsgi":
        # gunicorn's sync workers (chat_project/wsgi.py): one thread per
        # process, so its connection is kept instead of opened, set up and
        # closed on every request (docs/benchmarks.md). Not under ASGI, where
        # each request runs in a new thread and would leave one behind.
        DATABASES["default"]["CONN_MAX_AGE"] = 600
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A connection pool per server process (psycopg_pool). Under ASGI every
    # request runs in a thread of its own, so Django's persistent connections
    # (CONN_MAX_AGE) would open a new connection per request and leak the old.
    # `timeout` bounds the wait for a free connection, and so how long the
    # health check takes to answer 503 when the database is down.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # The hot statements run through chat_project.prepared.prepared_cursor,
    # prepared on the server after five runs; Django's own cursors bind on
    # the client, which psycopg never prepares (Django's default, None,
    # would turn preparing off for every cursor).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": 1,
        "max_size": env_int("DATABASE_POOL_MAX_SIZE", 10),
        "timeout": env_int("DATABASE_POOL_TIMEOUT", 5),
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# `manage.py collectstatic` gathers the admin's files here; WhiteNoise serves
# them from the app server, compressed and with hashed names cached forever.
STATIC_ROOT = os.environ.get("DJANGO_STATIC_ROOT") or BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # WhiteNoise's compressed manifest storage; also rewrites the web client's module imports.
    "staticfiles": {"BACKEND": "webclient.storage.StaticFilesStorage"},
}

# The web client's credential: a session cookie no script can read and no
# other site's request carries on a POST, plus CSRF tokens for writes.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# Production runs behind a proxy that terminates TLS and sets
# X-Forwarded-Proto (README, "Production"). The proxy must overwrite that
# header from clients, or a client could claim HTTPS.
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Plain-HTTP requests that reach the app are redirected to HTTPS, except
    # the health check, which load balancers probe over plain HTTP.
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^api/health/$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    # Whether every subdomain serves HTTPS, and whether to ask browsers to
    # preload the domain, are decisions about the domain, not this app: off
    # unless the deployer opts in, and their deploy-check warnings silenced.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
    SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.JWTAuthentication",
        # The web client at / (same origin): Django's session cookie, with
        # DRF's CSRF check on writes. Second, so a bearer token is tried first.
        "webclient.auth.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
    ],
    "DEFAULT_RENDERER_CLASSES": ["threads.renderers.PresenceJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["threads.parsers.StrictJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "threads.pagination.StrictLimitOffsetPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "threads.exceptions.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "threads.schema.ChatAutoSchema",
    # Each throttled view names its own classes (threads/throttling.py).
    "DEFAULT_THROTTLE_CLASSES": [],
    # The client address is REMOTE_ADDR, never a client-supplied
    # X-Forwarded-For; behind a proxy, uvicorn sets REMOTE_ADDR from the
    # header of the proxies in FORWARDED_ALLOW_IPS only (scripts/serve.sh).
    "NUM_PROXIES": 0,
    # Answers are JSON; no ?format= switches the renderer (an unknown one was a 404).
    "URL_FORMAT_OVERRIDE": None,
}

# Requests allowed per client address (token, registration) or per user
# (the rest), as "<number>/<second|minute|hour|day>". Over the rate, the
# answer is 429 with Retry-After.
CHAT_THROTTLE_RATES = {
    "token": os.environ.get("CHAT_THROTTLE_TOKEN", "20/minute"),
    "register": os.environ.get("CHAT_THROTTLE_REGISTER", "10/hour"),
    "message_send": os.environ.get("CHAT_THROTTLE_MESSAGE_SEND", "120/minute"),
    "message_edit": os.environ.get("CHAT_THROTTLE_MESSAGE_EDIT", "30/minute"),
    "delete": os.environ.get("CHAT_THROTTLE_DELETE", "30/minute"),
    "mark_read": os.environ.get("CHAT_THROTTLE_MARK_READ", "120/minute"),
    "thread_create": os.environ.get("CHAT_THROTTLE_THREAD_CREATE", "30/hour"),
    "group_change": os.environ.get("CHAT_THROTTLE_GROUP_CHANGE", "60/minute"),
    "safety": os.environ.get("CHAT_THROTTLE_SAFETY", "60/minute"),  # block, unblock, mute, unmute, report
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Chat API",
    "DESCRIPTION": (
        "Chat in threads, one-to-one (direct) or in groups with an owner, admins and members: send messages, "
        "see what is unread and mark it read. "
        "Authenticate with `POST /api/token/` and send `Authorization: Bearer <access>`. "
        "Real-time events: WebSocket at `/ws/` (see the README)."
    ),
    "VERSION": "1.0.0",
    # 3.1: its schemas are plain JSON Schema, which the contract test validates responses with.
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
    "ENUM_NAME_OVERRIDES": {},
}

# Browser clients on other origins (comma-separated, e.g.
# https://app.example.com); none by default. Only the API is shared, and no
# cookies: clients authenticate with bearer tokens.
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False

# Biggest request body Django reads (form or JSON); larger is a 413. A batch
# send is at most CHAT_MESSAGE_BATCH_MAX messages of CHAT_MESSAGE_MAX_LENGTH
# characters (100 x 5,000 by default): 3 MB holds that in plain JSON.
DATA_UPLOAD_MAX_MEMORY_SIZE = 3 * 1024 * 1024

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_TOKEN_LIFETIME_MINUTES", 15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_TOKEN_LIFETIME_DAYS", 7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "AUTH_HEADER_TYPES": ("Bearer",),
    # accounts/tokens.py: tokens carry the login time (auth_time) through
    # rotations; rotation has one winner among concurrent refreshes of one token.
    "TOKEN_OBTAIN_SERIALIZER": "accounts.tokens.TokenObtainPairSerializer",
    "TOKEN_REFRESH_SERIALIZER": "accounts.tokens.TokenRefreshSerializer",
    "TOKEN_VERIFY_SERIALIZER": "accounts.tokens.TokenVerifySerializer",
    # Tokens carry a hash of the user's password hash, checked on every use:
    # a password change ends every token issued before it at once.
    "CHECK_REVOKE_TOKEN": True,
}
# However often a session is refreshed, the user logs in again this long
# after logging in with a password.
JWT_REFRESH_MAX_LIFETIME = timedelta(days=env_int("JWT_REFRESH_MAX_LIFETIME_DAYS", 30))

# The admin's login form: after this many failed logins, per client address
# or per username, further attempts get a 429 for the lockout's minutes
# (counted from the first failure). `manage.py admin_login_unlock` clears them.
ADMIN_LOGIN_MAX_FAILURES_PER_USERNAME = env_int("ADMIN_LOGIN_MAX_FAILURES_PER_USERNAME", 5)
ADMIN_LOGIN_MAX_FAILURES_PER_ADDRESS = env_int("ADMIN_LOGIN_MAX_FAILURES_PER_ADDRESS", 20)
ADMIN_LOGIN_LOCKOUT_MINUTES = env_int("ADMIN_LOGIN_LOCKOUT_MINUTES", 15)

# Real-time events (threads/events.py). In memory by default: one server
# process, nothing to install. With REDIS_URL set, events go through Redis, so
# every server process delivers to its own clients whatever process wrote.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "threads.channel_layers.ChatRedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
    }
    # Throttle counts shared by every server process. Short socket timeouts:
    # with Redis down the counters fail open (threads/throttling.py) at once.
    CACHES = {
        "default": {
            "BACKEND": "chat_project.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "threads.channel_layers.ChatInMemoryChannelLayer"}}

# Seconds a client is told to wait (Retry-After) when the database or Redis
# cannot be reached and the answer is a 503 (chat_project/outages.py).
CHAT_OUTAGE_RETRY_AFTER_SECONDS = env_int("CHAT_OUTAGE_RETRY_AFTER_SECONDS", 5)

# WebSocket: seconds a new connection has to authenticate, and the shortest
# gap between two typing notices a client may send on for one thread.
CHAT_WS_AUTH_TIMEOUT = 10
CHAT_TYPING_INTERVAL = 2.0

# Presence (threads/presence.py): a socket's entry expires CHAT_PRESENCE_TTL
# seconds after its process's last heartbeat (every CHAT_PRESENCE_HEARTBEAT
# seconds), so a dead process's users are offline within the TTL; at most one
# presence event per user every CHAT_PRESENCE_EVENT_INTERVAL seconds.
CHAT_PRESENCE_TTL = float(os.environ.get("CHAT_PRESENCE_TTL", "45"))
CHAT_PRESENCE_HEARTBEAT = float(os.environ.get("CHAT_PRESENCE_HEARTBEAT", "15"))
CHAT_PRESENCE_EVENT_INTERVAL = float(os.environ.get("CHAT_PRESENCE_EVENT_INTERVAL", "10"))
if not 0 < CHAT_PRESENCE_HEARTBEAT < CHAT_PRESENCE_TTL or CHAT_PRESENCE_EVENT_INTERVAL < 0:
    raise ImproperlyConfigured("Presence needs 0 < CHAT_PRESENCE_HEARTBEAT < CHAT_PRESENCE_TTL.")

# Chat rules.
CHAT_MESSAGE_MAX_LENGTH = env_int("CHAT_MESSAGE_MAX_LENGTH", 5000)
# One request sends at most this many messages ({"messages": [...]}) and
# marks at most CHAT_MARK_READ_MAX_IDS messages read by id.
CHAT_MESSAGE_BATCH_MAX = 100
CHAT_MARK_READ_MAX_IDS = 500
# The most members a group thread may have, its owner included.
CHAT_GROUP_MAX_MEMBERS = env_int("CHAT_GROUP_MAX_MEMBERS", 100)
# How many members a group's representation previews (the full list is /members/).
CHAT_GROUP_PREVIEW_MEMBERS = 5
# How many of a thread's newest messages its admin page shows inline.
CHAT_ADMIN_INLINE_MESSAGES = 20

# Webhooks (webhooks/, README "Webhooks"). Production sends only to https://
# URLs on public addresses; CHAT_WEBHOOK_ALLOW_INSECURE also allows http:// and
# private or loopback addresses (development, tests).
CHAT_WEBHOOK_ALLOW_INSECURE = env_bool("CHAT_WEBHOOK_ALLOW_INSECURE", default=False)
# Seconds an attempt may take (connect, and each read) before it counts as failed.
CHAT_WEBHOOK_TIMEOUT_SECONDS = 10
# Seconds to wait before each retry; the last one repeats (every 2 hours).
CHAT_WEBHOOK_RETRY_DELAYS = [5, 30, 120, 600, 1200, 2400, 4800, 7200]
# A delivery retries for this long after its first attempt, then gives up;
# an endpoint whose every attempt failed for this long is disabled.
CHAT_WEBHOOK_RETRY_FOR = timedelta(days=3)
CHAT_WEBHOOK_DISABLE_AFTER = timedelta(days=3)
# Seconds a worker holds a delivery it took; if the worker dies, another one
# takes the delivery again after this. Longer than an attempt can take.
CHAT_WEBHOOK_LEASE_SECONDS = env_int("CHAT_WEBHOOK_LEASE_SECONDS", 60)
# Days delivered, failed and cancelled deliveries are kept (for the admin),
# then deleted by the worker.
CHAT_WEBHOOK_KEEP_DAYS = env_int("CHAT_WEBHOOK_KEEP_DAYS", 30)
# How often (seconds) each process checks whether the endpoints changed (webhooks/endpoints.py).
CHAT_WEBHOOK_ENDPOINTS_CHECK_SECONDS = 1.0
