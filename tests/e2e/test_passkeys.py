"""Passkeys (WebAuthn), in a real Chromium with a virtual authenticator, against the live app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from playwright.sync_api import CDPSession, Page, expect

from tests.e2e.test_mfa import CSP_WATCH, confirm_password, sign_out, type_password
from tests.factories import UserFactory

pytestmark = pytest.mark.e2e

# A platform authenticator that stores passkeys (resident keys) and has checked
# the user's PIN or fingerprint: what a phone or a laptop's Touch ID is.
AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}


@dataclass(frozen=True)
class VirtualAuthenticator:
    cdp: CDPSession
    authenticator_id: str

    def credentials(self) -> list[dict[str, Any]]:
        """The passkeys it holds, as DevTools' WebAuthn panel lists them."""
        answer = self.cdp.send(
            "WebAuthn.getCredentials", {"authenticatorId": self.authenticator_id}
        )
        return answer["credentials"]


def with_authenticator(page: Page) -> VirtualAuthenticator:
    """Give `page` a virtual authenticator, as Chrome DevTools' WebAuthn panel does."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
    return VirtualAuthenticator(cdp=cdp, authenticator_id=added["authenticatorId"])


def signed_in(page: Page) -> None:
    expect(page.get_by_role("heading", name="Your images")).to_be_visible()


def test_add_a_passkey_then_sign_in_with_it(new_context):
    user = UserFactory.create(username="keyholder")
    context = new_context()
    context.add_init_script(CSP_WATCH)
    page = context.new_page()
    authenticator = with_authenticator(page)
    type_password(page, user)
    signed_in(page)

    # From the account page to the two-factor page, and on to add a key: which
    # first asks for the password again.
    page.get_by_role("link", name="keyholder").click()
    page.get_by_role("link", name="Two-factor authentication").click()
    expect(page.get_by_text("No security keys have been added.")).to_be_visible()
    page.locator("section").filter(has_text="Security Keys").get_by_role("link", name="Add").click()
    confirm_password(page)
    expect(page.get_by_role("heading", name="Add Security Key")).to_be_visible()
    page.get_by_label("Name").fill("Laptop")
    # Passwordless: stored on the authenticator, so that it can sign in alone.
    page.get_by_label("Passwordless").check()
    page.get_by_role("button", name="Add").click()

    # The first key comes with recovery codes, for when it is lost.
    expect(page.get_by_role("heading", name="Recovery Codes")).to_be_visible()
    codes = page.locator("#recovery_codes").input_value().split()
    assert len(codes) == 10
    [credential] = authenticator.credentials()
    assert credential["isResidentCredential"] is True
    assert credential["rpId"] == "localhost"  # the live server's host
    key = Authenticator.objects.get(user=user, type=Authenticator.Type.WEBAUTHN)
    assert key.wrap().name == "Laptop"
    assert key.wrap().is_passwordless is True

    # The key is listed with the account's other pages around it; it can be renamed.
    page.get_by_role("link", name="Two-factor authentication").click()
    expect(page.get_by_text("You have added 1 security key.")).to_be_visible()
    page.get_by_role("link", name="Manage").click()
    expect(page.get_by_role("heading", name="Security Keys")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="Laptop")
    expect(row).to_contain_text("Passkey")
    expect(row).to_contain_text("Not used.")
    row.get_by_role("link", name="Edit").click()
    page.get_by_label("Name").fill("Work laptop")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("row").filter(has_text="Work laptop")).to_be_visible()
    assert page.evaluate("window.violations") == [], "adding and managing a key"
    sign_out(page)

    # The password is not enough now: the key is asked for, as the second factor.
    type_password(page, user)
    expect(page.get_by_role("heading", name="Two-Factor Authentication")).to_be_visible()
    expect(page.get_by_role("heading", name="Your images")).to_have_count(0)
    page.get_by_role("button", name="Use a security key").click()
    signed_in(page)
    assert page.evaluate("window.violations") == [], "the key as second factor"
    sign_out(page)

    # And the passkey alone, from the sign-in page: no username, no password.
    page.goto("/accounts/login/")
    page.get_by_role("button", name="Sign in with a passkey").click()
    signed_in(page)
    expect(page.get_by_role("link", name="keyholder")).to_be_visible()
    assert page.evaluate("window.violations") == [], "signing in with the passkey"
    key.refresh_from_db()
    assert key.last_used_at is not None

    # Removing it asks to confirm access again; the key itself will do.
    page.goto("/accounts/2fa/webauthn/")
    page.get_by_role("row").filter(has_text="Work laptop").get_by_role(
        "link", name="Remove"
    ).click()
    expect(page.get_by_role("heading", name="Confirm Access")).to_be_visible()
    page.get_by_role("link", name="Use a security key").click()
    page.get_by_role("button", name="Use a security key").click()
    expect(page.get_by_text("Are you sure you want to remove this security key?")).to_be_visible()
    page.get_by_role("button", name="Remove").click()
    expect(page.get_by_text("No security keys have been added.")).to_be_visible()
    assert not Authenticator.objects.filter(user=user, type=Authenticator.Type.WEBAUTHN).exists()
    assert page.evaluate("window.violations") == [], "removing the key"


def test_a_passkey_the_site_does_not_know_signs_nobody_in(new_context):
    """A passkey for this site whose account removed it: refused in so many words."""
    user = UserFactory.create(username="forgetful")
    page = new_context().new_page()
    authenticator = with_authenticator(page)
    type_password(page, user)
    signed_in(page)
    page.goto("/accounts/2fa/webauthn/add/")
    confirm_password(page)
    page.get_by_label("Passwordless").check()
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_role("heading", name="Recovery Codes")).to_be_visible()
    assert len(authenticator.credentials()) == 1
    Authenticator.objects.filter(user=user, type=Authenticator.Type.WEBAUTHN).delete()
    sign_out(page)

    page.goto("/accounts/login/")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.locator("#messages")).to_contain_text("Incorrect code.")
    expect(page.get_by_role("heading", name="Sign In")).to_be_visible()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
