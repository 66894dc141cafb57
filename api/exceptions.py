"""The API's one error path: domain errors and Django's ValidationError become DRF answers.

Services raise ``GalleryError``/``AccountError`` carrying their HTTP status (and the
field they are about, and when to retry); views let them through, and this handler,
set as ``REST_FRAMEWORK["EXCEPTION_HANDLER"]``, gives them the bodies DRF gives its own
errors, so a client sees one shape whichever layer refused:

- an error naming a field: ``{field: [message]}`` (400), as a serializer field error;
- another 400: ``{"non_field_errors": [message]}``, as a serializer's ``validate()``;
- any other status (403, 409, 429, 503): ``{"detail": message}``, as ``PermissionDenied``
  or ``Throttled``, with Retry-After where the error knows the wait.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from accounts.errors import AccountError
from gallery.errors import GalleryError

DomainError = GalleryError | AccountError


class DomainRefusal(APIException):
    """A domain error as DRF answers it; ``wait`` becomes the Retry-After header."""

    def __init__(self, error: DomainError) -> None:
        message = str(error)
        detail: str | dict[str, list[str]]
        if error.field is not None:
            detail = {error.field: [message]}
        elif error.status_code == status.HTTP_400_BAD_REQUEST:
            detail = {api_settings.NON_FIELD_ERRORS_KEY: [message]}
        else:
            detail = message
        super().__init__(detail=detail)
        self.status_code = error.status_code
        # DRF's handler sends Retry-After for a truthy ``wait`` (Throttled's own
        # __init__ would also append "Expected available in N seconds.").
        self.wait = error.retry_after


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, after turning our domain errors and Django's ValidationError into DRF's."""
    if isinstance(exc, DomainError):
        exc = DomainRefusal(exc)
    elif isinstance(exc, DjangoValidationError):
        # The services validate with Django (passwords, usernames): the same
        # {field: [messages]} body a serializer would give.
        exc = ValidationError(as_serializer_error(exc))
    return drf_exception_handler(exc, context)
