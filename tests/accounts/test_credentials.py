"""Credentials: one failed-attempt limit per account at every door, and every password
set or deactivation ends the account's other tokens and sessions."""

from __future__ import annotations

import io
import re

import pytest
from django.core.cache import cache
from django.test import Client
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import User
from gallery.storage import signed
from tests.conftest import PASSWORD
from tests.factories import ImageFactory, UserFactory

pytestmark = pytest.mark.django_db

API_LOGIN = "/api/v1/auth/login/"
API_PASSWORD = "/api/v1/me/password/"
WEB_LOGIN = "/accounts/login/"
NEW_PASSWORD = "a brand new passphrase"
# allauth's default: 5 failures per account in 5 minutes.
ACCOUNT_ATTEMPTS = 5


@pytest.fixture(autouse=True)
def _fresh_limits():
    """Rate-limit counters live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


class SignInClient(Client):
    """A client that has tried to sign in: whether it was refused, and for the limit."""

    refused: bool
    limited: bool


def web_sign_in(login: str, password: str, address: str) -> SignInClient:
    client = SignInClient(REMOTE_ADDR=address)
    response = client.post(WEB_LOGIN, {"login": login, "password": password})
    client.refused = response.status_code != 302
    client.limited = b"Too many failed login attempts" in response.content
    return client


def api_sign_in(login: str, password: str, address: str):
    return APIClient(REMOTE_ADDR=address).post(API_LOGIN, {"login": login, "password": password})


def token_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def addresses():
    """A new client address for every attempt: the per-account limit must not care."""
    return (f"198.51.100.{n}" for n in range(1, 255))


class TestOneLimitPerAccount:
    def test_web_failures_lock_the_api_login(self, basic_user):
        address = addresses()
        for _ in range(ACCOUNT_ATTEMPTS):
            assert web_sign_in(basic_user.username, "wrong", next(address)).refused
        # The right password, by the other name, at the other door.
        response = api_sign_in(basic_user.email, PASSWORD, next(address))
        assert response.status_code == 429
        assert "Too many failed login attempts" in response.json()["detail"]

    def test_api_failures_lock_the_web_sign_in(self, basic_user):
        address = addresses()
        for _ in range(ACCOUNT_ATTEMPTS):
            assert api_sign_in(basic_user.email, "wrong", next(address)).status_code == 400
        client = web_sign_in(basic_user.username, PASSWORD, next(address))
        assert client.refused and client.limited
        assert "_auth_user_id" not in client.session

    def test_username_and_email_share_the_count(self, basic_user):
        address = addresses()
        for login in [basic_user.username, basic_user.email.upper()] * 2 + [basic_user.username]:
            api_sign_in(login, "wrong", next(address))
        assert api_sign_in(basic_user.username, PASSWORD, next(address)).status_code == 429

    def test_a_varying_host_port_gives_no_fresh_count(self, basic_user, settings):
        """ALLOWED_HOSTS ignores the port, which allauth's own key included."""
        for port in range(1, ACCOUNT_ATTEMPTS + 1):
            APIClient(HTTP_HOST=f"localhost:{port}").post(
                API_LOGIN, {"login": basic_user.username, "password": "wrong"}
            )
        response = APIClient(HTTP_HOST="localhost:99").post(
            API_LOGIN, {"login": basic_user.username, "password": PASSWORD}
        )
        assert response.status_code == 429

    def test_other_accounts_are_not_locked(self, basic_user):
        address = addresses()
        for _ in range(ACCOUNT_ATTEMPTS):
            api_sign_in(basic_user.username, "wrong", next(address))
        other = UserFactory.create()
        assert api_sign_in(other.username, PASSWORD, next(address)).status_code == 200

    def test_current_password_guesses_count_as_failed_sign_ins(self, basic_user):
        api = token_client(AuthToken.objects.create(basic_user)[1])
        for _ in range(ACCOUNT_ATTEMPTS):
            response = api.post(
                API_PASSWORD, {"current_password": "guess", "new_password": NEW_PASSWORD}
            )
            assert response.status_code == 400
        locked = api.post(
            API_PASSWORD, {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
        )
        assert locked.status_code == 429
        basic_user.refresh_from_db()
        assert basic_user.check_password(PASSWORD)
        # ...and the same account's sign-in is locked too.
        assert api_sign_in(basic_user.username, PASSWORD, "192.0.2.7").status_code == 429

    def test_web_password_change_guesses_count_as_failed_sign_ins(self, basic_user):
        page = Client()
        page.force_login(basic_user)
        for _ in range(ACCOUNT_ATTEMPTS):
            response = page.post(
                "/accounts/password/change/",
                {"oldpassword": "guess", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
            )
            assert response.status_code == 200
        assert api_sign_in(basic_user.username, PASSWORD, "192.0.2.8").status_code == 429
        locked = page.post(
            "/accounts/password/change/",
            {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        )
        # Refused: by the shared limit, or first by allauth's own 5 a minute per user.
        assert locked.status_code in (200, 429)
        basic_user.refresh_from_db()
        assert basic_user.check_password(PASSWORD)

    def test_the_admin_has_no_password_change_of_its_own(self, client):
        staff = UserFactory.create(is_staff=True, is_superuser=True)
        client.force_login(staff)
        response = client.post(
            "/admin/password_change/",
            {"old_password": "guess", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        )
        assert response.status_code == 302
        assert response["Location"] == "/accounts/password/change/"
        staff.refresh_from_db()
        assert staff.check_password(PASSWORD)

    @pytest.mark.parametrize("squatter_first", [True, False])
    def test_a_second_account_holding_the_address_gives_no_extra_guesses(
        self, builtin_tiers, squatter_first
    ):
        """allauth lets any account add someone's address, unverified; the email
        backend then tries the password on both accounts, so both are counted,
        whichever allauth happens to list first."""
        from allauth.account.models import EmailAddress

        squatter = UserFactory.create(email="") if squatter_first else None
        victim = UserFactory.create()
        squatter = squatter or UserFactory.create(email="")
        EmailAddress.objects.create(user=victim, email=victim.email, verified=False)
        EmailAddress.objects.create(user=squatter, email=victim.email, verified=False)
        address = addresses()
        for login in [victim.email, victim.username] * 2 + [victim.email]:
            api_sign_in(login, "wrong", next(address))
        assert api_sign_in(victim.username, PASSWORD, next(address)).status_code == 429

    def test_the_admin_login_is_the_sign_in_page(self, client, basic_user):
        """The admin has no password form of its own to guess at."""
        staff = UserFactory.create(is_staff=True, is_superuser=True)
        response = client.post("/admin/login/", {"username": staff.username, "password": PASSWORD})
        assert response.status_code == 302
        assert response["Location"].startswith(WEB_LOGIN)
        assert "_auth_user_id" not in client.session


def reset_link(body: str) -> str:
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+)", body)
    assert link, body
    return link.group(1)


def reset_password(client: Client, email: str, mailoutbox) -> None:
    assert client.post("/accounts/password/reset/", {"email": email}).status_code == 302
    link = reset_link(mailoutbox[-1].body)
    page = client.get(link, follow=True)
    action = page.redirect_chain[-1][0] if page.redirect_chain else link
    done = client.post(action, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done.status_code == 302


def change_on_the_web(user: User) -> None:
    client = Client()
    client.force_login(user)
    response = client.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302


def change_in_the_admin(user: User) -> None:
    client = Client()
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    response = client.post(
        f"/admin/accounts/user/{user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]


def change_through_the_api(user: User) -> None:
    token = AuthToken.objects.create(user)[1]
    response = token_client(token).post(
        API_PASSWORD, {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 204
    # The token that made the change goes on working.
    assert token_client(token).get("/api/v1/me/").status_code == 200


def reset_by_email(user: User, mailoutbox) -> None:
    reset_password(Client(), user.email, mailoutbox)


def set_a_first_password(user: User) -> None:
    """An account without a usable password sets one (allauth's "set password")."""
    user.set_unusable_password()
    user.save()
    client = Client()
    client.force_login(user)
    response = client.post(
        "/accounts/password/set/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302


def change_on_the_command_line(user: User, monkeypatch) -> None:
    from django.core.management import call_command

    monkeypatch.setattr("getpass.getpass", lambda prompt="": NEW_PASSWORD)
    call_command("changepassword", user.username, stdout=io.StringIO())


def reset_demo_passwords(user: User, settings) -> None:
    from django.core.management import call_command

    settings.DEBUG = True
    user.username = "basic"
    user.save()
    call_command("demo_accounts", "--reset-passwords", stdout=io.StringIO())
    settings.DEBUG = False
    user.refresh_from_db()
    user.set_password(NEW_PASSWORD)  # the command prints a random one
    user.save()


PASSWORD_SETS = {
    "web change": lambda user, mailoutbox: change_on_the_web(user),
    "reset by email": reset_by_email,
    "admin change": lambda user, mailoutbox: change_in_the_admin(user),
    "api change": lambda user, mailoutbox: change_through_the_api(user),
    "first password": lambda user, mailoutbox: set_a_first_password(user),
    "manage.py changepassword": None,
    "manage.py demo_accounts --reset-passwords": None,
}


@pytest.mark.parametrize("door", PASSWORD_SETS)
def test_every_password_set_ends_every_other_credential(
    basic_user, mailoutbox, monkeypatch, settings, door
):
    old_token = AuthToken.objects.create(basic_user)[1]
    old_session = Client()
    old_session.force_login(basic_user)
    assert old_session.get("/").status_code == 200

    if door == "manage.py changepassword":
        change_on_the_command_line(basic_user, monkeypatch)
    elif door == "manage.py demo_accounts --reset-passwords":
        reset_demo_passwords(basic_user, settings)
    else:
        set_password = PASSWORD_SETS[door]
        assert set_password is not None
        set_password(basic_user, mailoutbox)

    basic_user.refresh_from_db()
    assert basic_user.check_password(NEW_PASSWORD)
    assert token_client(old_token).get("/api/v1/me/").status_code == 401
    assert old_session.get("/").status_code == 302  # sent to sign in


def test_a_squatted_account_is_the_victims_after_a_reset(db, builtin_tiers, mailoutbox):
    """The pre-account takeover: the attacker's token must die with the victim's reset."""
    attacker = Client()
    response = attacker.post(
        "/accounts/signup/",
        {
            "username": "victim",
            "email": "victim@example.com",
            "password1": "attacker's passphrase",
            "password2": "attacker's passphrase",
        },
    )
    assert response.status_code == 302
    squatter = api_sign_in("victim@example.com", "attacker's passphrase", "203.0.113.9")
    assert squatter.status_code == 200
    token = squatter.json()["token"]

    reset_password(Client(), "victim@example.com", mailoutbox)
    victim = User.objects.get(email="victim@example.com")
    assert token_client(token).get("/api/v1/me/").status_code == 401
    assert attacker.get("/").status_code == 302
    assert not AuthToken.objects.filter(user=victim).exists()


class TestDeactivation:
    @pytest.fixture
    def shared(self, premium_user):
        """A premium user's image, its share link and an expiring file link."""
        thumbnail = ImageFactory.create(owner=premium_user).renditions.get(thumbnail_height=200)
        share = f"/s/{thumbnail.share_token}"
        file_link = signed(thumbnail.file.storage).url(thumbnail.file_name, expire=600)
        return share, file_link

    def deactivate_in_the_admin(self, user: User) -> None:
        admin = Client()
        admin.force_login(UserFactory.create(is_staff=True, is_superuser=True))
        page = admin.get(f"/admin/accounts/user/{user.pk}/change/")
        form = page.context["adminform"].form
        data = {
            name: value
            for name, value in form.initial.items()
            if value is not None and name not in {"is_active", "groups", "user_permissions"}
        }
        data["tier"] = user.tier_id
        data["date_joined_0"], data["date_joined_1"] = user.date_joined.strftime(
            "%Y-%m-%d %H:%M:%S"
        ).split()
        data.pop("date_joined", None)
        data.pop("last_login", None)
        response = admin.post(f"/admin/accounts/user/{user.pk}/change/", data)
        assert response.status_code == 302, response.context["adminform"].form.errors

    def test_ends_tokens_sessions_and_links(self, premium_user, shared):
        share, file_link = shared
        token = AuthToken.objects.create(premium_user)[1]
        session = Client()
        session.force_login(premium_user)
        anyone = Client()
        assert anyone.get(share).status_code == 302
        assert anyone.get(file_link).status_code == 200

        self.deactivate_in_the_admin(premium_user)

        premium_user.refresh_from_db()
        assert not premium_user.is_active
        assert not AuthToken.objects.filter(user=premium_user).exists()
        assert token_client(token).get("/api/v1/me/").status_code == 401
        assert session.get("/").status_code == 302
        assert anyone.get(share).status_code == 404
        assert anyone.get(file_link).status_code == 404

    def test_reactivation_brings_the_links_back(self, premium_user, shared):
        share, file_link = shared
        premium_user.is_active = False
        premium_user.save()
        assert Client().get(share).status_code == 404
        premium_user.is_active = True
        premium_user.save()
        assert Client().get(share).status_code == 302
        assert Client().get(file_link).status_code == 200
