"""The API against its own OpenAPI schema: schemathesis generates the requests."""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from knox.models import AuthToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)
from wsgi import application

from accounts.models import Tier
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture
def staff_user(db):
    """An Enterprise staff user, so that every endpoint can answer more than 401/403."""
    return UserFactory.create(tier=Tier.objects.get(name="Enterprise"), is_staff=True)


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Like Django's test client: a request must not close the test's database connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _served_schema() -> dict[str, Any]:
    """The schema exactly as /api/schema/ serves it, as plain JSON data."""
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated))


schema = schemathesis.openapi.from_dict(_served_schema())
schema.app = application


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api_never_errors_and_matches_its_schema(case, staff_user):
    # A fresh token per request: generated calls include logout and logout-all.
    token = AuthToken.objects.create(staff_user)[1]
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)


def test_schema_documents_every_endpoint(client, db):
    paths = client.get("/api/schema/?format=json").json()["paths"]
    assert set(paths) == {
        "/api/v1/auth/login/",
        "/api/v1/auth/logout/",
        "/api/v1/auth/logout-all/",
        "/api/v1/me/",
        "/api/v1/me/password/",
        "/api/v1/images/",
        "/api/v1/images/{public_id}/",
        "/api/v1/images/{public_id}/links/",
        "/api/v1/users/",
    }


def test_swagger_ui_is_served_from_vendored_files(client, db):
    html = client.get("/api/docs/").content.decode()
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
