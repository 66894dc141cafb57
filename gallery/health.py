"""A health probe for load balancers, Docker and compose."""

from __future__ import annotations

import logging

from django.core.files.storage import default_storage
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from gallery.storage import signed

logger = logging.getLogger(__name__)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        logger.exception("Health check: the database does not answer")
        return False
    return True


def _storage_ok() -> bool:
    try:
        signed(default_storage).health_check()
    except Exception:
        logger.exception("Health check: the file storage does not answer")
        return False
    return True


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the file storage answer, 503 otherwise."""
    checks = {
        "database": "ok" if _database_ok() else "error",
        "storage": "ok" if _storage_ok() else "error",
    }
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(checks, status=200 if healthy else 503)
