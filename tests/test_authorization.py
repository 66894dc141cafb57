"""Who may reach what: every URL of the site and the API, for every kind of visitor.

The URL conf is walked, so a URL added without expectations here fails the suite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from knox.models import AuthToken

from accounts.models import Tier, User
from gallery.models import Image
from gallery.storage import signed
from tests.factories import ImageFactory, UserFactory

pytestmark = pytest.mark.django_db

# "staff" is a superuser; "bare_staff" may enter the admin but holds no permission.
ROLES = ["anonymous", "other", "basic", "premium", "enterprise", "staff", "bare_staff"]
OWNERS = {"basic", "premium", "enterprise"}


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


def signed_in(anonymous: int, status: int) -> dict[str, int]:
    return {**everyone(status), "anonymous": anonymous}


def owners_only(anonymous: int, owner: int | dict[str, int]) -> dict[str, int]:
    """Another user's image, even for staff, is as missing as a deleted one."""
    per_owner = owner if isinstance(owner, dict) else dict.fromkeys(OWNERS, owner)
    return {"anonymous": anonymous, "other": 404, "staff": 404, "bare_staff": 404, **per_owner}


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    expected: dict[str, int]
    data: dict[str, Any] = field(default_factory=dict)
    api: bool = False


LOGIN = 302  # an HTML page sends the anonymous visitor to sign in
LINK = {"rendition": "200", "expires_in": 600}

CASES = [
    Case("healthz", "get", everyone(200)),
    Case("gallery:image_list", "get", signed_in(LOGIN, 200)),
    Case("gallery:image_upload", "post", signed_in(LOGIN, 302)),
    Case("gallery:image_detail", "get", owners_only(LOGIN, 200)),
    Case("gallery:image_card", "get", owners_only(LOGIN, 200)),
    Case("gallery:image_retry", "post", owners_only(LOGIN, 302)),
    Case("gallery:image_delete", "get", owners_only(LOGIN, 200)),
    Case(
        "gallery:link_create",
        "post",
        owners_only(LOGIN, {"basic": 403, "premium": 403, "enterprise": 200}),
        LINK,
    ),
    # Share links and signed file links need no account: the token is the key.
    # The original's share link works only where the owner's tier allows originals.
    Case(
        "gallery:share",
        "get",
        {
            "anonymous": 302,
            "other": 302,
            "staff": 302,
            "bare_staff": 302,
            "basic": 404,
            "premium": 302,
            "enterprise": 302,
        },
    ),
    Case("gallery:file", "get", everyone(200)),
    Case("api:login", "post", everyone(400), api=True),
    Case("api:logout", "post", signed_in(401, 204), api=True),
    Case("api:logout_all", "post", signed_in(401, 204), api=True),
    Case("api:me", "get", signed_in(401, 200), api=True),
    Case("api:password_change", "post", signed_in(401, 400), api=True),
    Case("api:image_list", "get", signed_in(401, 200), api=True),
    Case("api:image_list", "post", signed_in(401, 400), api=True),
    Case("api:image_detail", "get", owners_only(401, 200), api=True),
    # Owners deleting their own images is tested with the API; here, nobody else can.
    Case(
        "api:image_detail",
        "delete",
        {"anonymous": 401, "other": 404, "staff": 404, "bare_staff": 404},
        api=True,
    ),
    Case(
        "api:link_create",
        "post",
        owners_only(401, {"basic": 403, "premium": 403, "enterprise": 201}),
        LINK,
        api=True,
    ),
    # Creating users takes the "Can add user" permission, not merely staff status.
    Case("api:user_create", "post", {**signed_in(401, 403), "staff": 400}, api=True),
    Case("api:schema", "get", everyone(200), api=True),
    Case("api:docs", "get", everyone(200), api=True),
    # django-allauth: entrance pages for visitors, account pages for members.
    Case("account_login", "get", signed_in(200, 302)),
    Case("account_signup", "get", signed_in(200, 302)),
    Case("account_logout", "get", signed_in(302, 200)),
    Case("account_change_password", "get", signed_in(LOGIN, 200)),
    Case("account_set_password", "get", signed_in(LOGIN, 302)),
    Case("account_email", "get", signed_in(LOGIN, 200)),
    Case("account_reset_password", "get", everyone(200)),
    Case("account_reset_password_done", "get", everyone(200)),
    Case("account_reset_password_from_key_done", "get", everyone(200)),
    Case("account_inactive", "get", everyone(200)),
    Case("account_email_verification_sent", "get", everyone(200)),
    Case("account_reauthenticate", "get", signed_in(LOGIN, 200)),
    Case("account_confirm_login_code", "get", everyone(302)),
    Case("account_confirm_email", "get", everyone(200)),
    Case("account_reset_password_from_key", "get", everyone(200)),
    # allauth.mfa, for members. Nobody here has set it up: setting it up asks for
    # the password again (302), and what needs it first is missing (404).
    Case("mfa_index", "get", signed_in(LOGIN, 200)),
    Case("mfa_authenticate", "get", everyone(302)),  # only in the middle of a sign-in
    Case("mfa_reauthenticate", "get", signed_in(LOGIN, 302)),
    Case("mfa_activate_totp", "get", signed_in(LOGIN, 302)),
    Case("mfa_deactivate_totp", "get", signed_in(LOGIN, 404)),
    Case("mfa_view_recovery_codes", "get", signed_in(LOGIN, 404)),
    Case("mfa_generate_recovery_codes", "get", signed_in(LOGIN, 302)),
    Case("mfa_download_recovery_codes", "get", signed_in(LOGIN, 404)),
    # Passkeys and security keys. A key is the user's own: with the password
    # confirmed, another user's is missing (tests/accounts/test_passkeys.py).
    Case("mfa_list_webauthn", "get", signed_in(LOGIN, 200)),
    Case("mfa_add_webauthn", "get", signed_in(LOGIN, 302)),
    Case("mfa_reauthenticate_webauthn", "get", signed_in(LOGIN, 302)),  # no key to use
    Case("mfa_edit_webauthn", "get", signed_in(LOGIN, 302)),
    Case("mfa_remove_webauthn", "get", signed_in(LOGIN, 302)),
    # Only the sign-in page's script asks it (for JSON); others are sent back there.
    Case("mfa_login_webauthn", "get", everyone(302)),
]

# A security key's number that is nobody's.
NO_SUCH_KEY = 999_999


def url_names() -> set[str]:
    """Every named URL of the URL conf, with its namespace."""

    def walk(patterns, namespace: str = ""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                yield from walk(pattern.url_patterns, inner)
            elif isinstance(pattern, URLPattern) and pattern.name:
                yield f"{namespace}{pattern.name}"

    return set(walk(get_resolver().url_patterns))


def test_every_url_has_expectations():
    names = url_names()
    own = {name for name in names if not name.startswith("admin:")}
    assert own == {case.name for case in CASES}, "add the new URL to CASES"


@dataclass
class World:
    users: dict[str, User]
    images: dict[str, Image]
    file_url: str

    def url(self, case: Case, role: str) -> str:
        owner = role if role in OWNERS else "basic"
        image = self.images[owner]
        if case.name == "gallery:share":
            # The owner's own original; premium's for visitors who own nothing.
            target = role if role in OWNERS else "premium"
            token = self.images[target].renditions.get(thumbnail_height=None).share_token
            return reverse(case.name, args=[token])
        if case.name == "gallery:file":
            return self.file_url
        if case.name in {"account_confirm_email", "account_reset_password_from_key"}:
            key = "not-a-real-key" if case.name == "account_confirm_email" else None
            if key:
                return reverse(case.name, args=[key])
            return reverse(case.name, kwargs={"uidb36": "0", "key": "not-a-key"})
        if case.name in {"mfa_edit_webauthn", "mfa_remove_webauthn"}:
            return reverse(case.name, kwargs={"pk": NO_SUCH_KEY})
        try:
            return reverse(case.name, args=[image.public_id])
        except NoReverseMatch:
            return reverse(case.name)

    def client(self, case: Case, role: str) -> Client:
        client = Client()
        if role == "anonymous":
            return client
        user = self.users[role]
        if case.api and not case.name.startswith("api:schema") and case.name != "api:docs":
            token = AuthToken.objects.create(user)[1]
            return Client(headers={"authorization": f"Token {token}"})
        client.force_login(user)
        return client


@pytest.fixture
def world(builtin_tiers) -> World:
    """One user per role, each owner with an image as an upload leaves it."""
    tiers = {tier.name.lower(): tier for tier in Tier.objects.all()}
    users = {role: UserFactory.create(tier=tiers[role]) for role in OWNERS}
    users["other"] = UserFactory.create(tier=tiers["enterprise"])
    users["staff"] = UserFactory.create(tier=tiers["enterprise"], is_staff=True, is_superuser=True)
    users["bare_staff"] = UserFactory.create(tier=tiers["basic"], is_staff=True)
    # Who may reach a file, not what is in it: placeholder files, no pipeline.
    owned = {role: ImageFactory.create(owner=users[role]) for role in OWNERS}
    thumbnail = owned["basic"].renditions.get(thumbnail_height=200)
    file_url = signed(thumbnail.file.storage).url(thumbnail.file_name, expire=600)
    return World(users=users, images=owned, file_url=file_url)


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.method.upper()} {case.name}")
def test_who_may_reach_what(world, case):
    got = {}
    for role in case.expected:
        cache.clear()  # rate limits are not what this test is about
        client = world.client(case, role)
        url = world.url(case, role)
        kwargs = {"content_type": "application/json"} if case.api and case.data else {}
        response = getattr(client, case.method)(url, case.data, **kwargs)
        got[role] = response.status_code
    assert got == case.expected


@pytest.mark.parametrize(
    "name",
    [
        "admin:index",
        "admin:accounts_tier_changelist",
        "admin:accounts_user_changelist",
        "admin:gallery_image_changelist",
        "admin:accounts_user_add",
    ],
)
def test_admin_is_for_staff_only(world, name):
    url = reverse(name)
    assert Client().get(url).status_code == 302
    for role in ["other", "basic", "enterprise"]:
        client = Client()
        client.force_login(world.users[role])
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], role
        # The admin's login is allauth's (secure_admin_login): no second form, a 403.
        assert client.get(response["Location"]).status_code == 403, role
    staff = Client()
    staff.force_login(world.users["staff"])
    assert staff.get(url).status_code == 200


def test_admin_object_pages_are_for_staff_only(world):
    image = world.images["premium"]
    url = reverse("admin:gallery_image_change", args=[image.pk])
    member = Client()
    member.force_login(world.users["premium"])
    assert member.get(url).status_code == 302
    staff = Client()
    staff.force_login(world.users["staff"])
    assert staff.get(url).status_code == 200
