"""Sign-up does not tell who has an account (accounts.forms.SignupForm)."""

from __future__ import annotations

import html
import re
import threading
import time
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.db import connection, connections, transaction
from django.test import Client

from accounts.models import User
from accounts.services import email_address_lock
from tests.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a quite long passphrase"
ALREADY_EXISTS_SUBJECT = "Account Already Exists"


def sign_up(client: Client, *, username: str, email: str):
    return client.post(
        "/accounts/signup/",
        {
            "username": username,
            "email": email,
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
    )


def rendered_messages(page) -> list[str]:
    alerts = re.findall(
        r'<div class="alert[^"]*"[^>]*>\s*(.*?)\s*<button', page.content.decode(), re.S
    )
    return [html.unescape(alert) for alert in alerts]


def answer(client: Client, *, username: str, email: str) -> dict[str, Any]:
    """What a sign-up shows: status, redirect, and the messages on the page it leads to,
    with this attempt's username and address replaced so two attempts compare."""
    response = sign_up(client, username=username, email=email)
    location = response.get("Location")
    messages = rendered_messages(client.get(location)) if location else []
    if response.status_code == 200:
        messages = rendered_messages(response)
        errors = response.context["form"].errors
        messages += [f"{field}: {error}" for field, items in errors.items() for error in items]
    return {
        "status": response.status_code,
        "location": location,
        "messages": [
            m.replace(email.lower(), "EMAIL").replace(username, "USERNAME") for m in messages
        ],
    }


@pytest.fixture
def owner(builtin_tiers) -> User:
    """A user who signed up with owner@example.com and verified it."""
    user = UserFactory.create(username="owner", email="owner@example.com")
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    return user


def addresses_of(username: str) -> list[str]:
    user = User.objects.get(username=username)
    return [user.email, *EmailAddress.objects.filter(user=user).values_list("email", flat=True)]


@pytest.mark.parametrize("verification", ["optional", "none"])
def test_taken_address_answers_like_a_new_one(settings, owner, mailoutbox, verification):
    settings.ACCOUNT_EMAIL_VERIFICATION = verification

    fresh = answer(Client(), username="newcomer", email="newcomer@example.com")
    mailoutbox.clear()
    taken = answer(Client(), username="intruder", email="Owner@Example.com")

    assert fresh["status"] == 302
    assert taken == fresh
    if verification == "optional":
        assert fresh["messages"][0] == "Confirmation email sent to EMAIL."
    # The owner hears of it, and only the owner.
    assert [m.to for m in mailoutbox] == [["owner@example.com"]]
    assert mailoutbox[0].subject.endswith(ALREADY_EXISTS_SUBJECT)
    assert "/accounts/password/reset/" in mailoutbox[0].body
    # The newcomer got an account, without the owner's address; the owner's is as it was.
    assert addresses_of("intruder") == [""]
    assert addresses_of("newcomer") == ["newcomer@example.com", "newcomer@example.com"]
    assert EmailAddress.objects.get(email="owner@example.com").user == owner
    assert EmailAddress.objects.get(email="owner@example.com").verified
    owner.refresh_from_db()
    assert owner.email == "owner@example.com" and owner.check_password(PASSWORD)


def test_address_known_only_from_the_user_record_counts_as_taken(settings, builtin_tiers):
    """Accounts made in the admin or by createsuperuser have no EmailAddress row yet."""
    UserFactory.create(username="admin", email="admin@example.com")
    response = sign_up(Client(), username="intruder", email="admin@example.com")
    assert response.status_code == 302
    assert addresses_of("intruder") == [""]


def test_unverified_address_of_another_account_counts_as_taken(owner, mailoutbox):
    EmailAddress.objects.filter(user=owner).update(verified=False)
    sign_up(Client(), username="intruder", email="owner@example.com")
    assert addresses_of("intruder") == [""]
    assert [m.to for m in mailoutbox] == [["owner@example.com"]]


def test_the_new_account_works_and_can_add_its_own_address(owner, mailoutbox):
    client = Client()
    sign_up(client, username="intruder", email="owner@example.com")
    assert client.get("/").status_code == 200  # signed in
    added = client.post("/accounts/email/", {"action_add": "", "email": "mine@example.com"})
    assert added.status_code == 302
    assert "mine@example.com" in addresses_of("intruder")


def test_mandatory_verification_keeps_allauths_behaviour(settings, owner, mailoutbox):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"

    fresh = answer(Client(), username="newcomer", email="newcomer@example.com")
    fresh_mail = [(m.to, m.subject.split("] ")[-1]) for m in mailoutbox]
    mailoutbox.clear()
    taken = answer(Client(), username="intruder", email="owner@example.com")

    assert fresh["status"] == 302
    assert fresh["location"] == "/accounts/confirm-email/"
    assert taken == fresh
    assert fresh_mail == [(["newcomer@example.com"], "Please Confirm Your Email Address")]
    assert [(m.to, m.subject.split("] ")[-1]) for m in mailoutbox] == [
        (["owner@example.com"], ALREADY_EXISTS_SUBJECT)
    ]
    # allauth makes no account at all for a taken address.
    assert not User.objects.filter(username="intruder").exists()


def test_taken_username_is_still_reported(owner):
    response = sign_up(Client(), username="owner", email="someone@example.com")
    assert response.status_code == 200
    assert "username" in response.context["form"].errors


@pytest.mark.django_db(transaction=True)
def test_email_address_lock_needs_a_transaction():
    with pytest.raises(RuntimeError, match="atomic"):
        email_address_lock(email="someone@example.com")


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite runs writers one at a time")
def test_two_sign_ups_racing_for_one_new_address_do_not_both_get_it(builtin_tiers, mailoutbox):
    """The first sign-up holds the address, uncommitted, while the second one looks.

    The second sees the address free when its form is cleaned, then must wait
    for the first to commit and land on the taken path, not take it too.
    """
    result: dict[str, object] = {}

    def second_sign_up() -> None:
        try:
            result["status"] = sign_up(
                Client(), username="second", email="race@example.com"
            ).status_code
        finally:
            connections.close_all()

    with transaction.atomic():
        email_address_lock(email="race@example.com")
        first = UserFactory.create(username="first", email="race@example.com")
        EmailAddress.objects.create(user=first, email="race@example.com", primary=True)
        racer = threading.Thread(target=second_sign_up)
        racer.start()
        deadline = time.monotonic() + 20
        with connection.cursor() as cursor:
            while racer.is_alive() and time.monotonic() < deadline:
                cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
                if cursor.fetchone()[0]:
                    break  # the second sign-up is waiting for the address
                time.sleep(0.01)
    racer.join(timeout=20)

    assert result["status"] == 302
    assert list(
        EmailAddress.objects.filter(email="race@example.com").values_list(
            "user__username", flat=True
        )
    ) == ["first"]
    assert addresses_of("second") == [""]
    assert [m.to for m in mailoutbox] == [["race@example.com"]]
