from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def limits(request: HttpRequest) -> dict[str, dict[str, int]]:
    """Limits the templates state to users (the services enforce them)."""
    return {
        "limits": {
            "expiring_link_min_seconds": settings.SMALLIMAGE_EXPIRING_LINK_MIN_SECONDS,
            "expiring_link_max_seconds": settings.SMALLIMAGE_EXPIRING_LINK_MAX_SECONDS,
        }
    }
