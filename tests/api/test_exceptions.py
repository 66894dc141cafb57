"""The API's one error path: every domain error answers with its status, body and Retry-After.

Each case raises the error from a bare APIView, so the answer comes through
REST_FRAMEWORK["EXCEPTION_HANDLER"] exactly as a real view's would.
"""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.permissions import AllowAny
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from accounts.errors import (
    InvalidCode,
    InvalidCredentials,
    SecondFactorNeeded,
    TooManyAttempts,
    TwoFactorSetupNeeded,
)
from api.exceptions import exception_handler
from gallery.errors import (
    DecoderBusy,
    InvalidImage,
    InvalidLink,
    RenditionNotAllowed,
    RenditionNotReady,
    StorageUnavailable,
    TooManyUploads,
)

pytestmark = pytest.mark.django_db  # the API tests' autouse fixture clears the (database) cache


def attempts_with_a_known_wait() -> TooManyAttempts:
    error = TooManyAttempts("Too many failed attempts.")
    error.retry_after = 30
    return error


CASES = [
    # Field-scoped errors: the body a serializer field error has.
    (InvalidImage("Not an image."), 400, {"file": ["Not an image."]}, None),
    (InvalidLink("Too long."), 400, {"expires_in": ["Too long."]}, None),
    (SecondFactorNeeded("Enter the code."), 400, {"code": ["Enter the code."]}, None),
    (InvalidCode("Incorrect code."), 400, {"code": ["Incorrect code."]}, None),
    # A 400 about the whole request: the body of a serializer's validate().
    (
        InvalidCredentials("Unable to sign in."),
        400,
        {"non_field_errors": ["Unable to sign in."]},
        None,
    ),
    # Refusals: {"detail": ...} like PermissionDenied, Throttled and friends.
    (RenditionNotAllowed("Not on your tier."), 403, {"detail": "Not on your tier."}, None),
    (TwoFactorSetupNeeded("Set up two-factor."), 403, {"detail": "Set up two-factor."}, None),
    (RenditionNotReady("Still making it."), 409, {"detail": "Still making it."}, None),
    (TooManyUploads("Too many uploads."), 429, {"detail": "Too many uploads."}, None),
    (
        TooManyAttempts("Too many failed attempts."),
        429,
        {"detail": "Too many failed attempts."},
        None,
    ),
    # A known wait becomes Retry-After; the message stays as the service wrote it.
    (attempts_with_a_known_wait(), 429, {"detail": "Too many failed attempts."}, "30"),
    (StorageUnavailable("Storage is down."), 503, {"detail": "Storage is down."}, None),
    (DecoderBusy("Busy, try in 7 s.", retry_after=7), 503, {"detail": "Busy, try in 7 s."}, "7"),
    # Django's ValidationError from a service: keyed by field, or non-field.
    (
        DjangoValidationError({"new_password": ["Too short.", "Too common."]}),
        400,
        {"new_password": ["Too short.", "Too common."]},
        None,
    ),
    (DjangoValidationError("Not like this."), 400, {"non_field_errors": ["Not like this."]}, None),
]


class Raising(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    error: Exception | None = None  # set by as_view(error=...)

    def get(self, request):
        assert self.error is not None, "as_view(error=...) names the error to raise"
        raise self.error


@pytest.mark.parametrize(
    ("error", "status", "body", "retry_after"),
    CASES,
    ids=[type(case[0]).__name__ for case in CASES],
)
def test_a_view_raising_a_domain_error_answers_with_its_status_and_message(
    error, status, body, retry_after
):
    view = Raising.as_view(error=error)
    response = view(APIRequestFactory().get("/"))
    response.render()
    assert response.status_code == status
    assert json.loads(response.content) == body
    assert response.get("Retry-After") == retry_after


def test_other_exceptions_are_left_to_fail_loudly():
    # None: Django answers 500 and logs the bug, rather than a made-up 4xx.
    assert exception_handler(ValueError("a bug"), {}) is None
