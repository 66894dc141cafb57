from __future__ import annotations

import pytest
from django.test import Client
from knox.models import AuthToken

from accounts.models import User
from accounts.services import user_create
from tests.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/login/"


@pytest.mark.parametrize("field", ["username", "email"])
def test_login_by_username_or_email_gives_a_token(api, basic_user, field):
    response = api.post(LOGIN, {"login": getattr(basic_user, field), "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["username"] == basic_user.username
    assert body["user"]["tier"]["name"] == "Basic"
    assert body["expiry"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert api.get("/api/v1/me/").status_code == 200


def test_tokens_are_stored_hashed(api, basic_user):
    token = api.post(LOGIN, {"login": basic_user.username, "password": PASSWORD}).json()["token"]
    stored = AuthToken.objects.get(user=basic_user)
    assert token not in (stored.digest, stored.token_key)
    assert stored.digest != token and len(stored.digest) == 128  # sha512 hex


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"login": "nobody", "password": "x"}, "non_field_errors"),
        ({"password": "x"}, "login"),
        ({"login": "someone"}, "password"),
    ],
)
def test_bad_login_names_the_problem(api, basic_user, data, field):
    response = api.post(LOGIN, data)
    assert response.status_code == 400
    assert field in response.json()


def test_wrong_password_is_refused(api, basic_user):
    response = api.post(LOGIN, {"login": basic_user.username, "password": "wrong"})
    assert response.status_code == 400
    assert "Unable to sign in" in response.json()["non_field_errors"][0]


def test_login_is_throttled_with_a_clear_429(api, basic_user, settings):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    limit = int(rates["login"].split("/")[0])
    for _ in range(limit):
        api.post(LOGIN, {"login": basic_user.username, "password": "wrong"})
    response = api.post(LOGIN, {"login": basic_user.username, "password": PASSWORD})
    assert response.status_code == 429
    assert "throttled" in response.json()["detail"]


def test_per_user_token_limit(api, basic_user, settings):
    limit = settings.REST_KNOX["TOKEN_LIMIT_PER_USER"]
    for _ in range(limit):
        AuthToken.objects.create(basic_user)
    response = api.post(LOGIN, {"login": basic_user.username, "password": PASSWORD})
    assert response.status_code == 403


def test_logout_kills_only_that_token(api_as, basic_user, token_for):
    first = token_for(basic_user)
    second = token_for(basic_user)
    api = api_as(basic_user)
    api.credentials(HTTP_AUTHORIZATION=f"Token {first}")
    assert api.post("/api/v1/auth/logout/").status_code == 204
    assert api.get("/api/v1/me/").status_code == 401
    api.credentials(HTTP_AUTHORIZATION=f"Token {second}")
    assert api.get("/api/v1/me/").status_code == 200


def test_logout_all_kills_every_token(api, basic_user, token_for):
    tokens = [token_for(basic_user) for _ in range(3)]
    other_user_token = token_for(UserFactory.create())
    api.credentials(HTTP_AUTHORIZATION=f"Token {tokens[0]}")
    assert api.post("/api/v1/auth/logout-all/").status_code == 204
    for token in tokens:
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        assert api.get("/api/v1/me/").status_code == 401
    api.credentials(HTTP_AUTHORIZATION=f"Token {other_user_token}")
    assert api.get("/api/v1/me/").status_code == 200


def test_anonymous_gets_401_with_token_challenge(api):
    response = api.get("/api/v1/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_me_reports_what_the_tier_allows(api_as, enterprise_user, basic_user):
    assert api_as(enterprise_user).get("/api/v1/me/").json()["tier"] == {
        "name": "Enterprise",
        "thumbnail_heights": [200, 400],
        "can_link_original": True,
        "can_make_expiring_links": True,
        "expiring_link_min_seconds": 300,
        "expiring_link_max_seconds": 30000,
    }
    tier = api_as(basic_user).get("/api/v1/me/").json()["tier"]
    assert tier["can_link_original"] is False
    assert tier["expiring_link_min_seconds"] is None


def test_tier_change_shows_in_the_next_response(api_as, basic_user, tier):
    api = api_as(basic_user)
    assert api.get("/api/v1/me/").json()["tier"]["name"] == "Basic"
    basic_user.tier = tier("Premium")
    basic_user.save()
    assert api.get("/api/v1/me/").json()["tier"]["name"] == "Premium"


class TestPasswordChange:
    URL = "/api/v1/me/password/"

    def test_needs_the_current_password(self, api_as, basic_user):
        response = api_as(basic_user).post(
            self.URL, {"current_password": "wrong", "new_password": "a brand new passphrase"}
        )
        assert response.status_code == 400
        assert "current_password" in response.json()
        basic_user.refresh_from_db()
        assert basic_user.check_password(PASSWORD)

    def test_weak_new_password_is_refused(self, api_as, basic_user):
        response = api_as(basic_user).post(
            self.URL, {"current_password": PASSWORD, "new_password": "123"}
        )
        assert response.status_code == 400
        assert "new_password" in response.json()

    def test_changes_own_password_and_revokes_other_tokens(self, api, basic_user, token_for):
        current, other = token_for(basic_user), token_for(basic_user)
        api.credentials(HTTP_AUTHORIZATION=f"Token {current}")
        response = api.post(
            self.URL, {"current_password": PASSWORD, "new_password": "a brand new passphrase"}
        )
        assert response.status_code == 204
        basic_user.refresh_from_db()
        assert basic_user.check_password("a brand new passphrase")
        assert api.get("/api/v1/me/").status_code == 200
        api.credentials(HTTP_AUTHORIZATION=f"Token {other}")
        assert api.get("/api/v1/me/").status_code == 401

    def test_cannot_name_another_user(self, api_as, basic_user):
        victim = UserFactory.create()
        api_as(basic_user).post(
            self.URL,
            {
                "current_password": PASSWORD,
                "new_password": "a brand new passphrase",
                "username": victim.username,
                "user": victim.pk,
            },
        )
        victim.refresh_from_db()
        assert victim.check_password(PASSWORD)


class TestSessionAuth:
    def test_browser_session_works_with_csrf(self, basic_user):
        client = Client(enforce_csrf_checks=True)
        client.force_login(basic_user)
        assert client.get("/api/v1/me/").status_code == 200
        refused = client.post(
            "/api/v1/me/password/",
            {"current_password": PASSWORD, "new_password": "a brand new passphrase"},
            content_type="application/json",
        )
        assert refused.status_code == 403
        assert "CSRF" in refused.json()["detail"]
        client.get("/")  # sets the CSRF cookie
        token = client.cookies["csrftoken"].value
        accepted = client.post(
            "/api/v1/me/password/",
            {"current_password": PASSWORD, "new_password": "a brand new passphrase"},
            content_type="application/json",
            HTTP_X_CSRFTOKEN=token,
        )
        assert accepted.status_code == 204


class TestUserCreate:
    URL = "/api/v1/users/"

    def test_staff_creates_a_user_on_a_tier(self, api_as, user_manager):
        staff = user_manager
        response = api_as(staff).post(
            self.URL,
            {
                "username": "scripted",
                "email": "s@example.com",
                "password": "a long passphrase",
                "tier": "Enterprise",
            },
        )
        assert response.status_code == 201
        assert response.json()["tier"]["name"] == "Enterprise"
        assert "password" not in response.json()
        login = api_as(staff).post(
            LOGIN, {"login": "s@example.com", "password": "a long passphrase"}
        )
        assert login.status_code == 200

    def test_default_tier_when_none_given(self, api_as, user_manager):
        response = api_as(user_manager).post(
            self.URL, {"username": "plain", "password": "a long passphrase"}
        )
        assert response.status_code == 201
        assert response.json()["tier"]["name"] == "Basic"

    def test_non_staff_is_forbidden(self, api_as, basic_user):
        response = api_as(basic_user).post(
            self.URL, {"username": "x", "password": "a long passphrase"}
        )
        assert response.status_code == 403

    def test_staff_without_the_permission_is_forbidden(self, api_as):
        """The admin refuses staff without "Can add user"; so does the API."""
        response = api_as(UserFactory.create(is_staff=True)).post(
            self.URL, {"username": "x", "password": "a long passphrase"}
        )
        assert response.status_code == 403
        assert "Can add user" in response.json()["detail"]
        assert not User.objects.filter(username="x").exists()

    def test_the_permission_without_staff_is_forbidden(self, api_as, basic_user):
        from django.contrib.auth.models import Permission

        basic_user.user_permissions.add(Permission.objects.get(codename="add_user"))
        response = api_as(basic_user).post(
            self.URL, {"username": "x", "password": "a long passphrase"}
        )
        assert response.status_code == 403

    @pytest.mark.parametrize(
        ("data", "field"),
        [
            ({"username": "taken", "password": "a long passphrase"}, "username"),
            (
                {"username": "new", "email": "taken@example.com", "password": "a long passphrase"},
                "email",
            ),
            ({"username": "new", "password": "short"}, "password"),
            ({"username": "new", "password": "a long passphrase", "tier": "Gold"}, "tier"),
            ({"username": "bad name!", "password": "a long passphrase"}, "username"),
        ],
    )
    def test_bad_input_names_the_field(self, api_as, user_manager, data, field):
        user_create(username="taken", email="taken@example.com", password=PASSWORD)
        response = api_as(user_manager).post(self.URL, data)
        assert response.status_code == 400
        assert field in response.json()
