from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from accounts.forms import TierAdminForm
from accounts.models import Tier, User, validate_thumbnail_heights

pytestmark = pytest.mark.django_db


def test_builtin_tiers_exist():
    tiers = {
        tier.name: (tier.thumbnail_heights, tier.can_link_original, tier.can_make_expiring_links)
        for tier in Tier.objects.all()
    }
    assert tiers == {
        "Basic": ([200], False, False),
        "Premium": ([200, 400], True, False),
        "Enterprise": ([200, 400], True, True),
    }


@pytest.mark.parametrize("heights", [[], [1], [200, 400], [4000]])
def test_valid_heights(heights):
    validate_thumbnail_heights(heights)


@pytest.mark.parametrize(
    ("heights", "message"),
    [
        ([0], "between 1 and 4000"),
        ([4001], "between 1 and 4000"),
        ([-5, 200], "between 1 and 4000"),
        ([200, 200], "only once"),
        (["200"], "whole numbers"),
        ([True], "whole numbers"),
        ("200", "whole numbers"),
    ],
)
def test_invalid_heights(heights, message):
    with pytest.raises(ValidationError, match=message):
        validate_thumbnail_heights(heights)


def test_admin_form_parses_heights_and_sorts_them():
    form = TierAdminForm(data={"name": "Photographer", "thumbnail_heights": "800, 100 300"})
    assert form.is_valid(), form.errors
    tier = form.save()
    assert tier.thumbnail_heights == [100, 300, 800]
    assert TierAdminForm(instance=tier)["thumbnail_heights"].value() == "100, 300, 800"


@pytest.mark.parametrize("text", ["200, big", "0", "200, 200", "5000"])
def test_admin_form_explains_bad_heights(text):
    form = TierAdminForm(data={"name": "Bad", "thumbnail_heights": text})
    assert not form.is_valid()
    assert form.errors["thumbnail_heights"]


def test_users_made_from_code_start_on_the_default_tier(settings):
    assert User.objects.create_user("someone").tier.name == "Basic"
    settings.SMALLIMAGE_DEFAULT_TIER = "Premium"
    assert User.objects.create_superuser("boss", password="x").tier.name == "Premium"


def test_sign_up_gives_the_default_tier(client):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "newcomer",
            "email": "newcomer@example.com",
            "password1": "a quite long passphrase",
            "password2": "a quite long passphrase",
        },
    )
    assert response.status_code == 302
    assert User.objects.get(username="newcomer").tier.name == "Basic"


def test_sign_in_by_username_or_email(client, basic_user):
    for login in [basic_user.username, basic_user.email]:
        response = client.post(
            "/accounts/login/", {"login": login, "password": "correct horse battery staple"}
        )
        assert response.status_code == 302, login
        client.logout()


def test_demo_accounts_need_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        call_command("demo_accounts")
    assert not User.objects.exists()


def test_demo_accounts_one_per_tier_and_twice_is_fine(settings, capsys):
    settings.DEBUG = True
    call_command("demo_accounts")
    first = capsys.readouterr().out
    call_command("demo_accounts")
    second = capsys.readouterr().out
    users = {user.username: user for user in User.objects.select_related("tier")}
    assert {name: user.tier.name for name, user in users.items()} == {
        "basic": "Basic",
        "premium": "Premium",
        "enterprise": "Enterprise",
        "admin": "Enterprise",
    }
    assert users["admin"].is_superuser and not users["basic"].is_staff
    password = first.split("basic")[1].split()[1]
    assert users["basic"].check_password(password)
    assert password not in second and "unchanged" in second
