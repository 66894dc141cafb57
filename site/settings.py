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

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


# Writable state of the embedded default: database, uploaded files, secret key.
VAR_DIR = Path(env_str("SMALLIMAGE_VAR_DIR", str(BASE_DIR / "var")))


def _embedded_secret_key() -> str:
    """A key generated once and kept in var/, so sessions and links survive restarts."""
    path = VAR_DIR / "secret-key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY") or _embedded_secret_key()
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "template_partials",
    "django_tasks",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "accounts",
    "gallery",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
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

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / "db.sqlite3",
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
}
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
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# Uploaded files are private: MEDIA_ROOT is never served raw. Every file leaves
# through storage.url(name, expire=seconds), which here is a link signed by
# Django and streamed by gallery.views.file_serve.
MEDIA_ROOT = Path(env_str("SMALLIMAGE_MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {
        "BACKEND": "gallery.storage.SignedFileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT},
    },
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        ),
    },
}

EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "SmallImage <noreply@localhost>")

TASKS = {
    "default": {
        "BACKEND": env_str(
            "SMALLIMAGE_TASK_BACKEND", "django_tasks.backends.immediate.ImmediateBackend"
        ),
    }
}

# The token API (api/): knox tokens for programs, the browser session (with
# CSRF) for the docs page and scripts run from a signed-in browser.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "login": env_str("SMALLIMAGE_THROTTLE_LOGIN", "10/minute"),
        "upload": env_str("SMALLIMAGE_THROTTLE_UPLOAD", "120/minute"),
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
ACCOUNT_FORMS = {"login": "accounts.forms.LoginForm"}
SMALLIMAGE_SIGNUP_OPEN = env_bool("SMALLIMAGE_SIGNUP_OPEN", True)

# SmallImage itself.
SMALLIMAGE_DEFAULT_TIER = env_str("SMALLIMAGE_DEFAULT_TIER", "Basic")
SMALLIMAGE_MAX_UPLOAD_BYTES = env_int("SMALLIMAGE_MAX_UPLOAD_BYTES", 25 * 1000 * 1000)
SMALLIMAGE_MAX_IMAGE_PIXELS = env_int("SMALLIMAGE_MAX_IMAGE_PIXELS", 50 * 1000 * 1000)
SMALLIMAGE_EXPIRING_LINK_MIN_SECONDS = 300
SMALLIMAGE_EXPIRING_LINK_MAX_SECONDS = 30000
# Share links and the grid hand out signed URLs this long; share links
# redirect to a fresh one on every request.
SMALLIMAGE_SHARE_REDIRECT_SECONDS = env_int("SMALLIMAGE_SHARE_REDIRECT_SECONDS", 300)
SMALLIMAGE_DISPLAY_URL_SECONDS = env_int("SMALLIMAGE_DISPLAY_URL_SECONDS", 3600)
SMALLIMAGE_IMAGES_PER_PAGE = env_int("SMALLIMAGE_IMAGES_PER_PAGE", 24)

# Uploads up to the byte limit stay in memory; Django's own limit must not
# refuse a multi-file form before our own checks can explain themselves.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1000 * 1000
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1000 * 1000

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
}
