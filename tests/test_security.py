"""Security headers, and rate limits that hold across processes."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from gallery.storage import signed
from tests.conftest import PASSWORD
from tests.factories import ImageFactory

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/api/v1/me/", "/api/docs/", "/healthz"])
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)
    policy = response["Content-Security-Policy"]
    assert "script-src 'self';" in policy
    assert (
        "unsafe-eval" not in policy
        and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    )
    assert "frame-ancestors 'none'" in policy
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
def test_pages_have_no_inline_script(client, basic_user):
    image = ImageFactory.create(owner=basic_user)
    client.force_login(basic_user)
    for path in ["/", f"/images/{image.public_id}/", "/accounts/password/change/"]:
        html = client.get(path).content.decode()
        for tag in html.split("<script")[1:]:
            assert tag.lstrip().startswith("src=") or " src=" in tag.split(">")[0], path


NOT_STORED = "private, no-store"


@pytest.mark.django_db
def test_signed_in_pages_are_not_stored(client, basic_user):
    image = ImageFactory.create(owner=basic_user)
    client.force_login(basic_user)
    for path in ["/", f"/images/{image.public_id}/", "/accounts/email/", "/api/docs/"]:
        assert client.get(path)["Cache-Control"] == NOT_STORED, path


@pytest.mark.django_db
def test_api_answers_are_not_stored(basic_user):
    """The login answer holds a token, the others signed links: with a token or without."""
    api = APIClient()
    login = api.post("/api/v1/auth/login/", {"login": basic_user.username, "password": PASSWORD})
    assert login.status_code == 200 and login["Cache-Control"] == NOT_STORED
    assert api.get("/api/v1/me/")["Cache-Control"] == NOT_STORED  # 401
    api.credentials(HTTP_AUTHORIZATION=f"Token {login.json()['token']}")
    for path in ["/api/v1/me/", "/api/v1/images/"]:
        response = api.get(path)
        assert response.status_code == 200 and response["Cache-Control"] == NOT_STORED, path


@pytest.mark.django_db
def test_a_view_keeps_its_own_caching(client, basic_user):
    """Image files stay cacheable for the life of their link, for their owner too."""
    thumbnail = ImageFactory.create(owner=basic_user).renditions.get(thumbnail_height=200)
    client.force_login(basic_user)
    served = client.get(signed(thumbnail.file.storage).url(thumbnail.file_name, expire=600))
    assert served.status_code == 200
    cache_control = served["Cache-Control"].replace(" ", "").split(",")
    assert "private" in cache_control and "no-store" not in cache_control
    assert any(directive.startswith("max-age=") for directive in cache_control)
    assert "no-cache" in client.get("/healthz")["Cache-Control"]


@pytest.mark.django_db
def test_anonymous_pages_keep_their_own_caching(client):
    """Nothing private in them: left alone, or as allauth marks its forms."""
    assert "Cache-Control" not in client.get("/accounts/password/reset/")
    assert "no-store" in client.get("/accounts/login/")["Cache-Control"]


def run_in_another_process(code: str) -> dict[str, Any]:
    """Run Python in a fresh process on the same test database; its JSON output."""
    settings_dict = connection.settings_dict
    url = (
        f"postgres://{settings_dict['USER']}@/{settings_dict['NAME']}"
        f"?host={settings_dict['HOST']}&port={settings_dict['PORT']}"
    )
    # DEBUG only spares it collected static files; rate limits do not care.
    # The same host name as the test client, which ALLOWED_HOSTS must accept.
    environment = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_DEBUG": "1",
        "DJANGO_ALLOWED_HOSTS": "testserver",
    }
    script = (
        "import sys, json; sys.path[:0] = ['.', 'site']; import django, os; "
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'settings'); django.setup(); "
        "from django.test import Client; client = Client(); " + code
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


pytestmark_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="another process needs a database server"
)


@pytestmark_postgres
@pytest.mark.django_db(transaction=True)
def test_api_login_throttle_counts_across_processes(client, basic_user, settings):
    limit = int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["login"].split("/")[0])
    for _ in range(limit):
        client.post("/api/v1/auth/login/", {"login": basic_user.username, "password": "wrong"})
    other = run_in_another_process(
        "r = client.post('/api/v1/auth/login/', {'login': 'x', 'password': 'y'}); "
        "print(json.dumps({'status': r.status_code}))"
    )
    assert other["status"] == 429


@pytestmark_postgres
@pytest.mark.django_db(transaction=True)
def test_sign_in_rate_limit_counts_across_processes(client, basic_user):
    for _ in range(5):
        client.post("/accounts/login/", {"login": basic_user.username, "password": "wrong"})
    other = run_in_another_process(
        f"r = client.post('/accounts/login/', {{'login': '{basic_user.username}', "
        f"'password': '{PASSWORD}'}}); "
        "print(json.dumps({'status': r.status_code, 'limited': b'Too many' in r.content}))"
    )
    assert other["status"] == 200  # the sign-in page, showing the refusal
    assert other["limited"], other


# Forwarded headers: the client address, never a header the client wrote.

API_LOGIN = "/api/v1/auth/login/"
PROXY = "10.0.0.2"  # REMOTE_ADDR of every request that came through the proxy


def api_login_limit(settings) -> int:
    return int(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["login"].split("/")[0])


_guesses = itertools.count(1)


def guess(client, **headers) -> int:
    """A wrong password for a new name each time, so only the per-address limit counts."""
    login = f"nobody{next(_guesses)}"
    return client.post(API_LOGIN, {"login": login, "password": "guess"}, **headers).status_code


@pytest.fixture
def behind_one_proxy(settings):
    """The settings DJANGO_PROXY_COUNT=1 makes."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1


@pytest.mark.django_db
def test_without_a_proxy_forwarded_headers_buy_no_guesses(client, settings):
    from django.core.cache import cache

    cache.clear()
    limit = api_login_limit(settings)
    for n in range(limit):
        assert guess(client, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}") == 400
    assert guess(client, HTTP_X_FORWARDED_FOR="198.51.100.1") == 429


@pytest.mark.django_db
def test_behind_a_proxy_each_client_has_its_own_allowance(client, settings, behind_one_proxy):
    from django.core.cache import cache

    cache.clear()
    limit = api_login_limit(settings)
    for _ in range(limit):
        assert guess(client, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.5") == 400
    # The same client, lying about what came before the proxy's entry.
    spoofed = "198.51.100.77, 203.0.113.5"
    assert guess(client, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=spoofed) == 429
    # Another client through the same proxy is not locked out.
    assert guess(client, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.6") == 400


@pytest.mark.django_db
def test_sign_in_page_limits_per_client_behind_a_proxy(client, basic_user, behind_one_proxy):
    """allauth's per-address limit (10 failures a minute) uses the client's address too."""
    from django.core.cache import cache

    cache.clear()
    for n in range(10):
        client.post(
            "/accounts/login/",
            {"login": f"nobody{n}", "password": "guess"},
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR="203.0.113.5",
        )
    locked = client.post(
        "/accounts/login/",
        {"login": basic_user.username, "password": PASSWORD},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="203.0.113.5",
    )
    assert b"Too many failed login attempts" in locked.content
    other = client.post(
        "/accounts/login/",
        {"login": basic_user.username, "password": PASSWORD},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="203.0.113.6",
    )
    assert other.status_code == 302


@pytest.mark.parametrize(
    ("environment", "count"),
    [
        ({}, 0),
        ({"DJANGO_PROXY_COUNT": "2"}, 2),
        ({"DJANGO_BEHIND_PROXY": "1"}, 1),
    ],
)
def test_one_setting_says_how_many_proxies_stand_in_front(tmp_path, environment, count):
    code = (
        "import json, sys; sys.path[:0] = ['.', 'site']; import settings as s; print(json.dumps("
        "[s.REST_FRAMEWORK['NUM_PROXIES'], s.ALLAUTH_TRUSTED_PROXY_COUNT, "
        "hasattr(s, 'SECURE_PROXY_SSL_HEADER')]))"
    )
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DJANGO_PROXY_COUNT", "DJANGO_BEHIND_PROXY"}
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_DEBUG": "1", "SMALLIMAGE_VAR_DIR": str(tmp_path), **environment},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout) == [count, count, count > 0]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/auth/login/", "/api/v1/me/password/"])
def test_deeply_nested_json_is_a_400(client, basic_user, path):
    client.force_login(basic_user)
    body = "[" * 50_000 + "]" * 50_000
    response = client.post(path, body, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]
