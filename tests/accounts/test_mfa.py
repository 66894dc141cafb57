"""Two-factor sign-in: the services the API uses, staff who must set it up, the admin's sign-in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from django.core.cache import cache
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts import services
from accounts.middleware import is_allowed_without_mfa
from accounts.models import User
from gallery.storage import signed
from tests.conftest import PASSWORD
from tests.factories import ImageFactory, UserFactory

pytestmark = pytest.mark.django_db

# Inside one 30-second TOTP period, so that a code stays the current one.
NOW = datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)
SETUP_URL = "/accounts/2fa/totp/activate/"


@pytest.fixture(autouse=True)
def _frozen_clock() -> Iterator[None]:
    """TOTP codes depend on the time: hold it still, and start with no remembered codes."""
    cache.clear()
    with time_machine.travel(NOW, tick=False):
        yield
    cache.clear()


def totp_code(secret: str, *, steps: int = 0) -> str:
    """The code an authenticator app shows now (or `steps` periods away)."""
    return format_hotp_value(hotp_value(secret, int(NOW.timestamp()) // 30 + steps))


def with_totp(user: User) -> tuple[str, list[str]]:
    """Turn on an authenticator app and recovery codes for `user`; the secret and the codes."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    codes = RecoveryCodes.activate(user).generate_codes()
    return secret, codes


# ---- accounts.services: what the API's sign-in calls -------------------------


def test_mfa_is_enabled_by_an_authenticator_app_only(basic_user):
    assert services.mfa_enabled(user=basic_user) is False
    RecoveryCodes.activate(basic_user)
    assert services.mfa_enabled(user=basic_user) is False
    TOTP.activate(basic_user, generate_totp_secret())
    assert services.mfa_enabled(user=basic_user) is True


def test_the_current_totp_code_is_accepted_once(basic_user):
    secret, _ = with_totp(basic_user)
    code = totp_code(secret)
    assert services.mfa_code_verify(user=basic_user, code=code) is True
    # Replaying the code just seen (over a shoulder, from a log) is refused.
    assert services.mfa_code_verify(user=basic_user, code=code) is False
    assert Authenticator.objects.get(user=basic_user, type="totp").last_used_at is not None


def test_codes_of_other_periods_and_other_secrets_are_refused(basic_user):
    secret, _ = with_totp(basic_user)
    assert services.mfa_code_verify(user=basic_user, code=totp_code(secret, steps=-1)) is False
    assert services.mfa_code_verify(user=basic_user, code=totp_code(secret, steps=2)) is False
    other = totp_code(generate_totp_secret())
    if other != totp_code(secret):
        assert services.mfa_code_verify(user=basic_user, code=other) is False


@pytest.mark.parametrize("code", ["", "   ", "abcdef", "1" * 200, "１２３４５６"])  # noqa: RUF001  (fullwidth digits on purpose)
def test_junk_is_refused(basic_user, code):
    with_totp(basic_user)
    assert services.mfa_code_verify(user=basic_user, code=code) is False


def test_a_recovery_code_works_once(basic_user):
    _, codes = with_totp(basic_user)
    assert services.mfa_code_verify(user=basic_user, code=codes[3]) is True
    assert services.mfa_code_verify(user=basic_user, code=codes[3]) is False
    assert services.mfa_code_verify(user=basic_user, code=codes[4]) is True
    recovery = Authenticator.objects.get(user=basic_user, type="recovery_codes").wrap()
    assert len(recovery.get_unused_codes()) == len(codes) - 2


def test_codes_mean_nothing_for_a_user_without_mfa(basic_user):
    other = UserFactory.create()
    secret, codes = with_totp(other)
    assert services.mfa_code_verify(user=basic_user, code=totp_code(secret)) is False
    assert services.mfa_code_verify(user=basic_user, code=codes[0]) is False


# ---- the HTML sign-in asks for the code ----------------------------------------


def sign_in(client: Client, user: User, next_url: str = "") -> str:
    """Post the password form; where it sends the browser."""
    data = {"login": user.username, "password": PASSWORD}
    if next_url:
        data["next"] = next_url
    response = client.post(reverse("account_login"), data)
    assert response.status_code == 302
    return response["Location"]


def test_sign_in_asks_for_the_code_and_refuses_a_wrong_one(basic_user):
    secret, _ = with_totp(basic_user)
    client = Client()
    assert sign_in(client, basic_user) == reverse("mfa_authenticate")
    assert client.get(reverse("gallery:image_list")).status_code == 302  # not signed in yet

    wrong = client.post(reverse("mfa_authenticate"), {"code": totp_code(secret, steps=3)})
    assert wrong.status_code == 200
    assert "Incorrect code." in wrong.content.decode()

    right = client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    assert right.status_code == 302
    assert client.get(reverse("gallery:image_list")).status_code == 200


def signed_in_by_password(user: User) -> Client:
    """A client that has just typed the password again, as allauth's setup pages want."""
    client = Client()
    sign_in(client, user)
    response = client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert response.status_code == 302
    return client


def test_the_account_pages_link_to_two_factor_setup(basic_user):
    client = signed_in_by_password(basic_user)
    page = client.get(reverse("account_change_password")).content.decode()
    assert f'href="{reverse("mfa_index")}"' in page
    setup = client.get(SETUP_URL)
    assert setup.status_code == 200
    body = setup.content.decode()
    # The QR code is drawn here, as an image in the page: nothing leaves for a CDN.
    assert 'src="data:image/svg+xml;base64,' in body
    assert 'id="authenticator_secret"' in body


# ---- SMALLIMAGE_REQUIRE_STAFF_MFA ------------------------------------------------


@pytest.fixture
def staff(builtin_tiers) -> User:
    """A staff member (superuser) with no second factor yet."""
    return UserFactory.create(is_staff=True, is_superuser=True)


@pytest.fixture
def share_and_file_urls(premium_user) -> list[str]:
    """A share link and a signed file link: keys by themselves."""
    rendition = ImageFactory.create(owner=premium_user).renditions.get(thumbnail_height=200)
    return [
        reverse("gallery:share", args=[rendition.share_token]),
        signed(rendition.file.storage).url(rendition.file_name, expire=600),
    ]


@pytest.mark.parametrize("path", ["/", "/admin/", "/admin/accounts/user/"])
def test_staff_without_mfa_are_sent_to_set_it_up(settings, staff, login, path):
    settings.SMALLIMAGE_REQUIRE_STAFF_MFA = True
    response = login(staff).get(path)
    assert response.status_code == 302
    assert response["Location"] == SETUP_URL


def test_the_api_refuses_staff_without_mfa_with_a_403(settings, staff, login):
    """In a browser session or with a token made before the rule was switched on."""
    from knox.models import AuthToken
    from rest_framework.test import APIClient

    token = AuthToken.objects.create(staff)[1]
    settings.SMALLIMAGE_REQUIRE_STAFF_MFA = True
    session = login(staff).get("/api/v1/me/")
    assert session.status_code == 403
    assert "two-factor" in session.json()["detail"]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/v1/me/").status_code == 403
    created = api.post("/api/v1/users/", {"username": "x", "password": "a long passphrase"})
    assert created.status_code == 403
    assert not User.objects.filter(username="x").exists()
    settings.SMALLIMAGE_REQUIRE_STAFF_MFA = False
    assert api.get("/api/v1/me/").status_code == 200


def test_the_api_login_refuses_staff_without_mfa(settings, staff):
    from rest_framework.test import APIClient

    settings.SMALLIMAGE_REQUIRE_STAFF_MFA = True
    response = APIClient().post(
        "/api/v1/auth/login/", {"login": staff.username, "password": PASSWORD}
    )
    assert response.status_code == 403
    assert "two-factor" in response.json()["detail"]
    assert not staff.auth_token_set.exists()
    with_totp(staff)
    wrong_password = APIClient().post(
        "/api/v1/auth/login/", {"login": staff.username, "password": "wrong"}
    )
    assert wrong_password.status_code == 400


def test_htmx_requests_of_staff_without_mfa_redirect_the_whole_page(settings, staff, login):
    settings.SMALLIMAGE_REQUIRE_STAFF_MFA = True
    response = login(staff).get("/", HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == SETUP_URL


def test_staff_without_mfa_may_still_set_it_up_sign_out_and_open_links(
    settings, staff, share_and_file_urls
):
    settings.SMALLIMAGE_REQUIRE_STAFF_MFA = True
    client = signed_in_by_password(staff)
    setup = client.get("/", follow=True)
    assert setup.redirect_chain == [(SETUP_URL, 302)]
    assert setup.status_code == 200
    assert "Staff accounts need two-factor authentication" in setup.content.decode()
    for name in ["mfa_index", "account_change_password", "account_email", "account_logout"]:
        assert client.get(reverse(name)).status_code == 200, name
    # WhiteNoise serves static files before any of this runs; under runserver, Django does.
    assert is_allowed_without_mfa(RequestFactory().get(f"{settings.STATIC_URL}css/app.css"))
    share, file = share_and_file_urls
    assert client.get(share).status_code == 302
    assert client.get(file).status_code == 200
    assert client.post(reverse("account_logout")).status_code == 302


def test_staff_with_mfa_and_members_without_it_go_anywhere(settings, staff, basic_user, login):
    settings.SMALLIMAGE_REQUIRE_STAFF_MFA = True
    with_totp(staff)
    assert login(staff).get("/admin/").status_code == 200
    assert login(staff).get("/").status_code == 200
    assert login(basic_user).get("/").status_code == 200


def test_without_the_setting_staff_need_no_mfa(settings, staff, login):
    settings.SMALLIMAGE_REQUIRE_STAFF_MFA = False
    assert login(staff).get("/admin/").status_code == 200
    assert login(staff).get("/").status_code == 200


def test_the_setting_is_off_by_default():
    from django.conf import settings

    assert settings.SMALLIMAGE_REQUIRE_STAFF_MFA is False


# ---- the admin signs in through allauth ------------------------------------------


def test_the_admin_sends_visitors_to_the_allauth_sign_in(client):
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1] == ("/accounts/login/?next=%2Fadmin%2F", 302)
    assert response.status_code == 200


def test_the_admin_refuses_members_with_403(basic_user, login):
    response = login(basic_user).get("/admin/", follow=True)
    assert response.status_code == 403


def test_the_admin_sign_in_asks_staff_for_their_second_factor(staff):
    secret, _ = with_totp(staff)
    client = Client()
    assert sign_in(client, staff, next_url="/admin/") == reverse("mfa_authenticate")
    assert client.get("/admin/").status_code == 302
    response = client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


# ---- The API login: a password alone does not sign in an account with TOTP --------

API_LOGIN = "/api/v1/auth/login/"


def api_login(user: User, **extra: str):
    from rest_framework.test import APIClient

    return APIClient().post(API_LOGIN, {"login": user.username, "password": PASSWORD, **extra})


def test_api_login_asks_for_the_second_factor(basic_user):
    with_totp(basic_user)
    response = api_login(basic_user)
    assert response.status_code == 400
    assert "two-factor sign-in" in response.json()["code"][0]
    assert not basic_user.auth_token_set.exists()


def test_api_login_refuses_a_wrong_code(basic_user):
    secret, _ = with_totp(basic_user)
    response = api_login(basic_user, code=totp_code(secret, steps=5))
    assert response.status_code == 400
    assert response.json()["code"] == ["Incorrect code."]


def test_api_login_with_the_code_or_a_recovery_code(basic_user):
    secret, recovery = with_totp(basic_user)
    assert api_login(basic_user, code=totp_code(secret)).status_code == 200
    assert api_login(basic_user, code=recovery[0]).status_code == 200
    assert api_login(basic_user, code=recovery[0]).status_code == 400  # used up


def test_a_wrong_password_says_nothing_about_two_factor(basic_user):
    with_totp(basic_user)
    response = api_login(basic_user, password="wrong")
    assert response.status_code == 400
    assert "code" not in response.json()


def test_api_code_guesses_share_the_sign_in_pages_limit(basic_user):
    """allauth's code form allows 5 wrong codes per account in 5 minutes: wrong codes
    typed on the page leave the API none, and the other way round."""
    secret, _ = with_totp(basic_user)
    page = Client()
    signed = page.post("/accounts/login/", {"login": basic_user.username, "password": PASSWORD})
    assert signed["Location"] == reverse("mfa_authenticate")
    for step in range(2, 7):
        wrong = page.post(reverse("mfa_authenticate"), {"code": totp_code(secret, steps=step)})
        assert wrong.status_code == 200
    locked = api_login(basic_user, code=totp_code(secret))
    assert locked.status_code == 429
    assert "Too many" in locked.json()["detail"]


def test_api_code_guesses_lock_the_sign_in_pages_code_form(basic_user):
    secret, _ = with_totp(basic_user)
    for step in range(2, 7):
        assert api_login(basic_user, code=totp_code(secret, steps=step)).status_code == 400
    page = Client()
    page.post("/accounts/login/", {"login": basic_user.username, "password": PASSWORD})
    refused = page.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    assert b"Too many failed login attempts" in refused.content
    assert "_auth_user_id" not in page.session


def test_accounts_without_two_factor_need_no_code(basic_user):
    assert api_login(basic_user).status_code == 200


def test_the_two_factor_page_says_when_an_email_must_be_verified_first(login, builtin_tiers):
    from allauth.account.models import EmailAddress

    user = UserFactory.create()
    address = EmailAddress.objects.create(user=user, email=user.email, verified=False)
    page = login(user).get(reverse("mfa_index")).content.decode()
    assert "needs a verified email address first" in page
    assert reverse("account_email") in page
    address.verified = True
    address.save()
    assert (
        "needs a verified email address"
        not in login(user).get(reverse("mfa_index")).content.decode()
    )


def test_the_code_prompt_says_recovery_codes_go_in_the_same_box(client, basic_user):
    with_totp(basic_user)
    client.post("/accounts/login/", {"login": basic_user.username, "password": PASSWORD})
    page = client.get(reverse("mfa_authenticate")).content.decode()
    assert "or one of your recovery codes" in page
