"""Links in emails are built on SMALLIMAGE_BASE_URL, never on the request's Host."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from accounts.checks import check_public_base_url
from settings import env_base_url
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

BASE_URL = "https://images.example.com"
EVIL = "evil.example"
NEW_PASSWORD = "another long passphrase"


@pytest.fixture
def hostile(settings) -> Client:
    """A client whose requests name evil.example in every header a host can come from,
    on an app that accepts any host and trusts X-Forwarded-Host (as behind a proxy)."""
    settings.ALLOWED_HOSTS = ["*"]
    settings.USE_X_FORWARDED_HOST = True
    settings.SMALLIMAGE_BASE_URL = BASE_URL
    return Client(
        headers={
            "host": f"{EVIL}:666",
            "x-forwarded-host": f"{EVIL}:666",
            "x-forwarded-port": "666",
        }
    )


def links_in(message) -> list[str]:
    """Every URL in the email, after checking evil.example appears nowhere in it."""
    texts = [message.subject, message.body, *(body for body, _ in message.alternatives)]
    for text in texts:
        assert EVIL not in text
        assert ":666" not in text
    links = [link for text in texts for link in re.findall(r"https?://[^\s\"'<>]+", text)]
    for link in links:
        assert link.startswith(f"{BASE_URL}/"), link
    return links


def path_of(link: str) -> str:
    parts = urlsplit(link)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def test_password_reset_link_is_on_the_base_url_and_works(hostile, basic_user, mailoutbox):
    response = hostile.post("/accounts/password/reset/", {"email": basic_user.email})
    assert response.status_code == 302
    [message] = mailoutbox
    [link] = links_in(message)
    assert message.subject == "[SmallImage] Password Reset Email"
    assert "Hello from SmallImage!" in message.body  # the product, not a host
    assert "images.example.com" in message.body  # the sign-off names the real site

    form_page = hostile.get(path_of(link), follow=True)
    assert form_page.status_code == 200
    action = form_page.redirect_chain[-1][0] if form_page.redirect_chain else path_of(link)
    done = hostile.post(action, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done.status_code == 302
    basic_user.refresh_from_db()
    assert basic_user.check_password(NEW_PASSWORD)


def test_sign_up_verification_link_is_on_the_base_url_and_works(hostile, builtin_tiers, mailoutbox):
    response = hostile.post(
        "/accounts/signup/",
        {
            "username": "newcomer",
            "email": "newcomer@example.com",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    [message] = mailoutbox
    [link] = links_in(message)

    confirm = hostile.post(path_of(link))
    assert confirm.status_code == 302
    assert EmailAddress.objects.get(email="newcomer@example.com").verified


def test_resent_verification_link_is_on_the_base_url(hostile, basic_user, mailoutbox):
    EmailAddress.objects.create(user=basic_user, email=basic_user.email, primary=True)
    hostile.force_login(basic_user)
    response = hostile.post("/accounts/email/", {"action_send": "", "email": basic_user.email})
    assert response.status_code == 302
    [message] = mailoutbox
    assert len(links_in(message)) == 1


def test_account_already_exists_links_are_on_the_base_url(hostile, basic_user, mailoutbox):
    hostile.post(
        "/accounts/signup/",
        {
            "username": "intruder",
            "email": basic_user.email,
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )
    [message] = mailoutbox
    assert message.to == [basic_user.email]
    assert f"{BASE_URL}/accounts/password/reset/" in links_in(message)


def test_unknown_account_link_is_on_the_base_url(hostile, mailoutbox):
    hostile.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    [message] = mailoutbox
    assert links_in(message) == [f"{BASE_URL}/accounts/signup/"]


def test_notifications_name_the_real_site(hostile, basic_user, settings, mailoutbox):
    settings.ACCOUNT_EMAIL_NOTIFICATIONS = True
    EmailAddress.objects.create(user=basic_user, email=basic_user.email, primary=True)
    hostile.force_login(basic_user)
    hostile.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    [message] = mailoutbox
    links_in(message)
    assert "images.example.com" in message.body


def test_a_configured_subject_prefix_is_kept(hostile, basic_user, settings, mailoutbox):
    settings.ACCOUNT_EMAIL_SUBJECT_PREFIX = "SmallImage: "
    hostile.post("/accounts/password/reset/", {"email": basic_user.email})
    assert mailoutbox[0].subject == "SmallImage: Password Reset Email"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("https://Images.Example.com/", "https://images.example.com"),
        ("  https://images.example.com:8443  ", "https://images.example.com:8443"),
        ("http://[::1]:8000", "http://[::1]:8000"),
    ],
)
def test_base_url_setting_accepts_an_origin(monkeypatch, value, expected):
    monkeypatch.setenv("SMALLIMAGE_BASE_URL", value)
    assert env_base_url("SMALLIMAGE_BASE_URL", "http://unused") == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "images.example.com",
        "ftp://images.example.com",
        "https://",
        "https:///path",
        "https://images.example.com/smallimage",
        "https://images.example.com/?next=/",
        "https://images.example.com?",
        "https://images.example.com#top",
        "https://user:secret@images.example.com",
        "https://images.example.com:99999",
        "https://images.example.com:0",
        "https://images.example.com:port",
        "https://[::1",
    ],
)
def test_base_url_setting_refuses_anything_else(monkeypatch, value):
    monkeypatch.setenv("SMALLIMAGE_BASE_URL", value)
    with pytest.raises(ImproperlyConfigured, match="SMALLIMAGE_BASE_URL must be"):
        env_base_url("SMALLIMAGE_BASE_URL", "http://unused")


def test_deploy_check_wants_the_base_url_set(settings):
    settings.DEBUG = False
    settings.SMALLIMAGE_BASE_URL = "http://127.0.0.1:8000"
    assert [warning.id for warning in check_public_base_url(None)] == ["accounts.W001"]
    settings.SESSION_COOKIE_SECURE = True
    settings.SMALLIMAGE_BASE_URL = "http://images.example.com"
    assert [warning.id for warning in check_public_base_url(None)] == ["accounts.W002"]
    settings.SMALLIMAGE_BASE_URL = BASE_URL
    assert check_public_base_url(None) == []
    settings.DEBUG = True
    settings.SMALLIMAGE_BASE_URL = "http://127.0.0.1:8000"
    assert check_public_base_url(None) == []
