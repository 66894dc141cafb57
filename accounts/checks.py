from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Tags, Warning, register

# settings.py's default: the address `make run` serves on.
EMBEDDED_BASE_URL = "http://127.0.0.1:8000"


@register(Tags.security, deploy=True)
def check_public_base_url(app_configs: Any, **kwargs: Any) -> list[Warning]:
    """Emailed links go to SMALLIMAGE_BASE_URL: in production it must be the real address."""
    if settings.DEBUG:
        return []
    if settings.SMALLIMAGE_BASE_URL == EMBEDDED_BASE_URL:
        return [
            Warning(
                f"SMALLIMAGE_BASE_URL is {EMBEDDED_BASE_URL}, the `make run` default: "
                "password-reset and email-verification links would point there.",
                hint="Set SMALLIMAGE_BASE_URL to the address people use, "
                "e.g. https://images.example.com.",
                id="accounts.W001",
            )
        ]
    if settings.SESSION_COOKIE_SECURE and urlsplit(settings.SMALLIMAGE_BASE_URL).scheme != "https":
        return [
            Warning(
                "SMALLIMAGE_BASE_URL is plain http:// while the site is served over HTTPS: "
                "emailed links would send keys unencrypted.",
                hint="Use the https:// address.",
                id="accounts.W002",
            )
        ]
    return []
