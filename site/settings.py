"""SmallImage settings: one module, driven by the environment.

Every production difference is an environment variable with a safe embedded
default, so a bare ``make run`` needs none of them. ``site/`` is on sys.path
(it cannot be a package: the standard library owns the name ``site``).
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


TRUE_SPELLINGS = {"1", "true", "yes", "on"}
FALSE_SPELLINGS = {"0", "false", "no", "off"}


def env_bool(name: str, default: bool = False) -> bool:
    """Only the documented spellings: a typo must not quietly switch a protection off."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value not in TRUE_SPELLINGS | FALSE_SPELLINGS:
        raise ImproperlyConfigured(
            f"{name} must be 1/0, true/false, yes/no or on/off, not {value!r}"
        )
    return value in TRUE_SPELLINGS


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


# Writable state of the embedded default: database, uploaded files, secret key.
# Private to the app's user: var/ 0700, files 0600 (an existing var/, such as a
# mounted volume, keeps the mode its owner gave it).
VAR_DIR = Path(env_str("SMALLIMAGE_VAR_DIR", str(BASE_DIR / "var")))


def _embedded_secret_key() -> str:
    """A key generated once and kept in var/, so sessions and links survive restarts."""
    path = VAR_DIR / "secret-key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


# The value .env.example ships with: a copied file must not sign real sessions.
PLACEHOLDER_SECRET_KEYS = {"django-insecure-change-me-to-a-long-random-value"}


def _secret_key() -> str:
    """DJANGO_SECRET_KEY; without DEBUG only a long random one (Django's own W009 rule)."""
    key = env_str("DJANGO_SECRET_KEY")
    if DEBUG:
        return key or _embedded_secret_key()
    problems = {
        "is not set": not key,
        "is the placeholder from .env.example": key in PLACEHOLDER_SECRET_KEYS,
        "starts with django-insecure-": key.startswith("django-insecure-"),
        "is shorter than 50 characters or repetitive": len(key) < 50 or len(set(key)) < 5,
    }
    if problem := next((problem for problem, found in problems.items() if found), None):
        raise ImproperlyConfigured(
            f"DJANGO_SECRET_KEY {problem} (DJANGO_DEBUG is off); make one with: "
            'python -c "import secrets; print(secrets.token_urlsafe(50))"'
        )
    return key


# Classes that django-stubs makes generic (ModelAdmin[Tier], ModelForm[Tier]) can then
# be subscripted at run time too. django_tasks calls it as well; we need not lean on that.
django_stubs_ext.monkeypatch()

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # First, so that its changepassword command (which also ends API tokens)
    # replaces django.contrib.auth's.
    "accounts",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    # allauth's list of security keys says "last used 3 days ago" with it.
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "template_partials",
    "django_tasks",
    "django_tasks_db",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "gallery",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Outside WhiteNoise, which answers static files itself: they get the CSP too.
    "gallery.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Innermost, so that its redirects still get the security headers.
    "accounts.middleware.StaffMFARequiredMiddleware",
]

ROOT_URLCONF = "urls"
WSGI_APPLICATION = "wsgi.application"

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
                "gallery.context_processors.limits",
            ],
        },
    },
]


POSTGRES_SCHEMES = {"postgres", "postgresql"}


def _database_from_url(url: str) -> dict[str, Any]:
    """DATABASE_URL through dj-database-url, PostgreSQL only.

    Messages name the scheme at most, never the URL: it may carry a password.
    """
    try:
        scheme = urlsplit(url).scheme
        if scheme not in POSTGRES_SCHEMES:
            raise ImproperlyConfigured(
                "DATABASE_URL must be a postgres:// or postgresql:// URL, not "
                + (f"{scheme}://" if scheme else "one without a scheme")
            )
        # A plain dict, not the parser's TypedDict: HOST and PORT move in from
        # OPTIONS below, by names in variables.
        database: dict[str, Any] = dict(
            dj_database_url.parse(
                url, conn_max_age=env_int("DJANGO_CONN_MAX_AGE", 60), conn_health_checks=True
            )
        )
    except ValueError:
        # Not the parser's own message: urllib's may quote the netloc, password and all.
        raise ImproperlyConfigured(
            "DATABASE_URL is not a valid URL; percent-encode the special characters "
            "of its user name and password (urllib.parse.quote)"
        ) from None
    # libpq's ?host=/socket/dir&port=N (what tests/postgres.py builds): dj-database-url
    # leaves query parameters in OPTIONS, which psycopg2 would still obey, but HOST
    # and PORT would then read empty to whatever reports or reuses them (Django's
    # dbshell, the child processes tests point at the same server).
    options = database.get("OPTIONS", {})
    for option, setting in (("host", "HOST"), ("port", "PORT")):
        if option in options:
            database[setting] = options.pop(option)
    if not options:
        database.pop("OPTIONS", None)
    return {**database, "HOST": str(database["HOST"]), "PORT": str(database["PORT"])}


def _database_from_environment() -> dict[str, Any]:
    """PostgreSQL from DATABASE_URL or POSTGRES_*; otherwise the embedded SQLite file."""
    url = env_str("DATABASE_URL")
    if url:
        return _database_from_url(url)
    if env_str("POSTGRES_DB"):
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": env_str("POSTGRES_DB"),
            "USER": env_str("POSTGRES_USER", "postgres"),
            "PASSWORD": env_str("POSTGRES_PASSWORD"),
            "HOST": env_str("POSTGRES_HOST", "localhost"),
            "PORT": env_str("POSTGRES_PORT", "5432"),
            "CONN_MAX_AGE": env_int("DJANGO_CONN_MAX_AGE", 60),
            "CONN_HEALTH_CHECKS": True,
        }
    VAR_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
    database = VAR_DIR / "db.sqlite3"
    # SQLite would create the file 0644 (less the umask), and gives its -wal, -shm
    # and -journal files the database file's own mode; an empty file is a new
    # database to it. So one private file made here keeps all four private. Not
    # os.umask(0o077): that is process-wide, and collectstatic (run as root at
    # image build, read by another user) would write unreadable static files.
    if not database.exists():
        database.touch(mode=0o600)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": database,
        # IMMEDIATE avoids "database is locked" when two requests upgrade a
        # read transaction to a write at once; WAL lets readers go on meanwhile.
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
        # A file, not shared-cache memory: concurrent requests in browser tests
        # then wait for each other as they do in the running app.
        "TEST": {"NAME": VAR_DIR / "test-db.sqlite3"},
    }


DATABASES = {"default": _database_from_environment()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "gallery:image_list"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]

# Uploaded files are private: MEDIA_ROOT is never served raw. Every file leaves
# through storage.url(name, expire=seconds), which here is a link signed by
# Django and streamed by gallery.views.file_serve.
MEDIA_ROOT = Path(env_str("SMALLIMAGE_MEDIA_ROOT", str(VAR_DIR / "media")))


def _cloudfront_key() -> str | None:
    """The CloudFront private key (PEM), given inline or as a file path."""
    if path := env_str("AWS_CLOUDFRONT_KEY_FILE"):
        return Path(path).read_text()
    # Inline keys often arrive with their newlines escaped.
    return env_str("AWS_CLOUDFRONT_KEY").replace("\\n", "\n") or None


if env_str("AWS_STORAGE_BUCKET_NAME"):
    # Production: a private bucket; links are S3 presigned URLs, or CloudFront
    # signed URLs when a CloudFront domain and key pair are configured.
    DEFAULT_STORAGE: dict[str, Any] = {
        "BACKEND": "gallery.storage.PrivateS3Storage",
        "OPTIONS": {
            "bucket_name": env_str("AWS_STORAGE_BUCKET_NAME"),
            "access_key": env_str("AWS_ACCESS_KEY_ID") or None,
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY") or None,
            "region_name": env_str("AWS_S3_REGION_NAME") or None,
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,
            "public_endpoint_url": env_str("AWS_S3_PUBLIC_ENDPOINT_URL") or None,
            "addressing_style": env_str("AWS_S3_ADDRESSING_STYLE") or None,
            "signature_version": env_str("AWS_S3_SIGNATURE_VERSION", "s3v4"),
            "custom_domain": env_str("AWS_S3_CUSTOM_DOMAIN") or None,
            "cloudfront_key_id": env_str("AWS_CLOUDFRONT_KEY_ID") or None,
            "cloudfront_key": _cloudfront_key(),
        },
    }
else:
    # Private files and folders, set on this storage rather than through
    # FILE_UPLOAD_PERMISSIONS, which collectstatic also applies (see the database).
    DEFAULT_STORAGE = {
        "BACKEND": "gallery.storage.SignedFileSystemStorage",
        "OPTIONS": {
            "location": MEDIA_ROOT,
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    }


def _media_origins() -> list[str]:
    """Where the browser loads images from besides this site (for the CSP)."""
    options = DEFAULT_STORAGE["OPTIONS"]
    if options.get("custom_domain"):
        return [f"https://{options['custom_domain']}"]
    endpoint = options.get("public_endpoint_url") or options.get("endpoint_url")
    if endpoint:
        parts = urlsplit(endpoint)
        return [f"{parts.scheme}://{parts.netloc}"]
    if "bucket_name" in options:
        return ["https://*.amazonaws.com"]
    return []


SMALLIMAGE_MEDIA_ORIGINS = _media_origins()

STORAGES = {
    "default": DEFAULT_STORAGE,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        ),
    },
}

# Rate limits (allauth's and the API's throttles) count in this cache, so it
# must be shared by every process: the database by default, or any backend
# Django supports through DJANGO_CACHE_BACKEND / DJANGO_CACHE_LOCATION.
CACHES = {
    "default": {
        "BACKEND": env_str("DJANGO_CACHE_BACKEND", "django.core.cache.backends.db.DatabaseCache"),
        "LOCATION": env_str("DJANGO_CACHE_LOCATION", "smallimage_cache"),
    }
}

EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
# For DJANGO_EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend.
EMAIL_HOST = env_str("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("DJANGO_EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("DJANGO_EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("DJANGO_EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("DJANGO_EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "SmallImage <noreply@localhost>")

# Thumbnails render through Django's Tasks API: at once, in the request, by
# default; "database" queues them for `manage.py db_worker` (production).
TASK_BACKENDS = {
    "immediate": "django_tasks.backends.immediate.ImmediateBackend",
    "database": "django_tasks_db.DatabaseBackend",
}
TASKS = {"default": {"BACKEND": TASK_BACKENDS[env_str("SMALLIMAGE_TASKS", "immediate")]}}

# The token API (api/): knox tokens for programs, the browser session (with
# CSRF) for the docs page and scripts run from a signed-in browser.
REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "api.permissions.TwoFactorSetUpWhereRequired",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Domain errors (GalleryError, AccountError) and Django's ValidationError answer here.
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "login": env_str("SMALLIMAGE_THROTTLE_LOGIN", "10/minute"),
        "links": env_str("SMALLIMAGE_THROTTLE_LINKS", "300/minute"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env_int("SMALLIMAGE_TOKEN_TTL_HOURS", 24 * 7)),
    "TOKEN_LIMIT_PER_USER": env_int("SMALLIMAGE_TOKEN_LIMIT_PER_USER", 20),
    "AUTO_REFRESH": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "SmallImage API",
    "DESCRIPTION": (
        "Upload images, list them with the links your tier allows, and make expiring links. "
        "Authenticate with `Authorization: Token <token>` from `POST /api/v1/auth/login/`."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from static/vendor, never from a CDN.
    "SWAGGER_UI_DIST": f"/{STATIC_URL}vendor/swagger-ui",
    "SWAGGER_UI_FAVICON_HREF": f"/{STATIC_URL}vendor/swagger-ui/favicon-32x32.png",
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# django-allauth: sign in by username or email; email optional to verify.
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env_str("SMALLIMAGE_EMAIL_VERIFICATION", "optional")
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_REDIRECT_URL = "/"
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
# Sign-up answers the same whether or not the address has an account (see
# accounts.forms.SignupForm).
ACCOUNT_FORMS = {
    "login": "accounts.forms.LoginForm",
    "signup": "accounts.forms.SignupForm",
    "change_password": "accounts.forms.ChangePasswordForm",
}
SMALLIMAGE_SIGNUP_OPEN = env_bool("SMALLIMAGE_SIGNUP_OPEN", True)
# Two-factor sign-in: an authenticator app (TOTP), passkeys or security keys
# (WebAuthn), and one-time recovery codes for a lost phone or key. Staff may be
# made to set it up before anything else.
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
# "Sign in with a passkey" on the sign-in page, for keys added as passwordless:
# allauth asks the key for user verification (PIN or biometrics) there, so the
# key alone is two factors, and limits attempts to 10 a minute per IP address.
MFA_PASSKEY_LOGIN_ENABLED = True
# WebAuthn needs a secure context. Browsers and python-fido2 (fido2/rpid.py)
# count http://localhost as one, so passkeys work on `make run`'s server when
# it is opened as http://localhost:8000. Opened as http://127.0.0.1:8000, the
# RP ID (allauth takes it from the request's host) is the IP address
# "127.0.0.1": Chromium itself refuses it ("SecurityError: This is an invalid
# domain.") before the server is asked, and fido2 would refuse the http://
# origin too. allauth's MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN would not relax
# fido2's check but replace it with one that accepts any origin, and still
# would not get past the browser: it stays off, DEBUG or not. Production is
# https://, where fido2 checks that the origin belongs to the RP ID.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = False
MFA_TOTP_ISSUER = "SmallImage"
MFA_RECOVERY_CODE_COUNT = 10
SMALLIMAGE_REQUIRE_STAFF_MFA = env_bool("SMALLIMAGE_REQUIRE_STAFF_MFA", False)


def _per_user(rate: str, name: str) -> str:
    """A rate written as DRF's "120/minute", as allauth's "120/m/user"."""
    amount, _, period = rate.partition("/")
    if not amount.isdigit() or period[:1] not in {"s", "m", "h", "d"}:
        raise ImproperlyConfigured(
            f"{name} must look like 120/minute (per second/minute/hour/day)."
        )
    return f"{amount}/{period[0]}/user"


# Uploads per account, counted per file and shared by the upload page and the
# API (one limit for both doors), with allauth's rate-limit machinery: its
# counters live in the shared cache and are updated under a lock.
ACCOUNT_RATE_LIMITS = {
    "upload": _per_user(
        env_str("SMALLIMAGE_THROTTLE_UPLOAD", "120/minute"), "SMALLIMAGE_THROTTLE_UPLOAD"
    ),
}


def env_base_url(name: str, default: str) -> str:
    """An origin such as https://images.example.com, without the trailing slash.

    Refuses anything else (a path, a query, a missing host), naming the
    variable: links in emails are built on it, so a typo must not start.
    """
    value = env_str(name, default).strip()
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        parts, port_ok = None, False
    if (
        parts is None
        or not port_ok
        or parts.scheme not in {"http", "https"}
        or not parts.hostname
        or parts.username is not None
        or parts.password is not None
        or parts.path not in {"", "/"}
        or parts.query
        or parts.fragment
        or value.endswith(("?", "#"))
    ):
        raise ImproperlyConfigured(
            f"{name} must be an http:// or https:// address with a host and nothing "
            f"after it but an optional '/', e.g. https://images.example.com (got {value!r})"
        )
    return f"{parts.scheme}://{parts.netloc.lower()}"


# The address people reach SmallImage at. Links in emails (password reset,
# email verification) are built on it, never on the request's Host header,
# which whoever sends the request chooses. The default is `make run`'s.
SMALLIMAGE_BASE_URL = env_base_url("SMALLIMAGE_BASE_URL", "http://127.0.0.1:8000")

# SmallImage itself.
SMALLIMAGE_DEFAULT_TIER = env_str("SMALLIMAGE_DEFAULT_TIER", "Basic")
SMALLIMAGE_MAX_UPLOAD_BYTES = env_int("SMALLIMAGE_MAX_UPLOAD_BYTES", 25 * 1000 * 1000)
SMALLIMAGE_MAX_IMAGE_PIXELS = env_int("SMALLIMAGE_MAX_IMAGE_PIXELS", 50 * 1000 * 1000)
# Memory that image decodes may hold at once, per process (web worker or
# db_worker), estimated from each image's header; an upload waits up to the
# wait for room, then is refused with 503 and Retry-After. 256 MB lets one
# 50 MP RGBA PNG (200 MB decoded) or ~7 12 MP PNGs decode at once; an image
# larger than the budget still decodes, alone. See bench/memory.py.
SMALLIMAGE_DECODE_BUDGET_BYTES = env_int("SMALLIMAGE_DECODE_BUDGET_BYTES", 256 * 1024 * 1024)
SMALLIMAGE_DECODE_WAIT_SECONDS = env_int("SMALLIMAGE_DECODE_WAIT_SECONDS", 10)
# Originals lose their GPS position (EXIF GPS, XMP, IPTC) unless this is on.
SMALLIMAGE_KEEP_LOCATION = env_bool("SMALLIMAGE_KEEP_LOCATION", False)
SMALLIMAGE_EXPIRING_LINK_MIN_SECONDS = 300
SMALLIMAGE_EXPIRING_LINK_MAX_SECONDS = 30000
# Share links and the grid hand out signed URLs this long; share links
# redirect to a fresh one on every request.
SMALLIMAGE_SHARE_REDIRECT_SECONDS = env_int("SMALLIMAGE_SHARE_REDIRECT_SECONDS", 300)
SMALLIMAGE_DISPLAY_URL_SECONDS = env_int("SMALLIMAGE_DISPLAY_URL_SECONDS", 3600)
SMALLIMAGE_IMAGES_PER_PAGE = env_int("SMALLIMAGE_IMAGES_PER_PAGE", 24)
# Files one upload request may carry (the page's form; the API takes one).
SMALLIMAGE_MAX_FILES_PER_UPLOAD = env_int("SMALLIMAGE_MAX_FILES_PER_UPLOAD", 20)

# While Django reads a request, a file up to 5 MB stays in memory and a larger
# one (up to SMALLIMAGE_MAX_UPLOAD_BYTES, 25 MB by default) goes to a temporary
# file, so a form of many large files is not held in memory whole. The data
# limit counts the form's other fields, not its files: Django does not refuse a
# multi-file form before our own checks can explain themselves.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1000 * 1000
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1000 * 1000

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Behind HTTPS (production): secure cookies, redirects and HSTS. Off for the
# embedded default, which serves plain HTTP on 127.0.0.1.
HTTPS = env_bool("DJANGO_HTTPS", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 60 * 60 * 24 * 365) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
# Preload is opt-in: browsers keep a listed domain HTTPS-only long after it
# leaves the list. Django's deploy check warns when it is off; that is deliberate.
SECURE_HSTS_PRELOAD = HTTPS and env_bool("DJANGO_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = ["security.W021"]
# How many reverse proxies stand in front of the app, each appending the address
# it saw to X-Forwarded-For. The client is the address that many entries from
# the right: anything further left was written by the client and is ignored.
# With none (the embedded default), forwarded headers are ignored altogether and
# REMOTE_ADDR is the client. DJANGO_BEHIND_PROXY=1 is the older spelling of 1.
PROXY_COUNT = env_int("DJANGO_PROXY_COUNT", 1 if env_bool("DJANGO_BEHIND_PROXY", False) else 0)
if PROXY_COUNT < 0:
    raise ImproperlyConfigured("DJANGO_PROXY_COUNT must be 0 or more.")
if PROXY_COUNT:
    # The proxy in front terminates TLS and says so in this header.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
# Every per-IP limit (DRF's throttles, allauth's rate limits) finds the client
# the same way.
REST_FRAMEWORK["NUM_PROXIES"] = PROXY_COUNT
ALLAUTH_TRUSTED_PROXY_COUNT = PROXY_COUNT
# /healthz answers plain HTTP probes from inside the container network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
}
