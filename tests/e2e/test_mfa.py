"""Two-factor sign-in, in a real Chromium against the live app."""

from __future__ import annotations

import time

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from playwright.sync_api import Page, expect

from accounts.models import User
from tests.conftest import PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.e2e

CSP_WATCH = (
    "window.violations = [];"
    "document.addEventListener('securitypolicyviolation',"
    " (e) => window.violations.push(`${e.violatedDirective} ${e.blockedURI}`));"
)


def totp_code(secret: str) -> str:
    """What an authenticator app shows now, with time left to type it in."""
    if 30 - time.time() % 30 < 3:
        time.sleep(3)  # the live server runs on the real clock: skip the period's edge
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def type_password(page: Page, user: User) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username or email").fill(user.username)
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In", exact=True).click()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()


def enter_code(page: Page, code: str) -> None:
    expect(page.get_by_role("heading", name="Two-Factor Authentication")).to_be_visible()
    page.locator("#id_code").fill(code)
    page.get_by_role("button", name="Sign In", exact=True).click()


def confirm_password(page: Page) -> None:
    expect(page.get_by_role("heading", name="Confirm Access")).to_be_visible()
    page.locator("#id_password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()


def test_set_up_an_authenticator_app_then_sign_in_with_it(new_context):
    user = UserFactory.create(username="careful")
    context = new_context()
    context.add_init_script(CSP_WATCH)
    page = context.new_page()
    type_password(page, user)
    expect(page.get_by_role("heading", name="Your images")).to_be_visible()

    # From the account page (the user's name in the navbar) to the setup page.
    page.get_by_role("link", name="careful").click()
    page.get_by_role("link", name="Two-factor authentication").click()
    expect(page.get_by_text("An authenticator app is not active.")).to_be_visible()
    page.get_by_role("link", name="Activate").click()
    confirm_password(page)
    expect(page.get_by_role("heading", name="Activate Authenticator App")).to_be_visible()
    qr = page.locator("img.mfa-qr")
    expect(qr).to_be_visible()
    assert qr.get_attribute("src").startswith("data:image/svg+xml;base64,")
    assert qr.evaluate("(img) => img.naturalWidth") > 0  # the QR code was drawn
    secret = page.locator("#authenticator_secret").input_value()

    page.locator("#id_code").fill("000000" if totp_code(secret) != "000000" else "111111")
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_text("Incorrect code.")).to_be_visible()
    page.locator("#id_code").fill(totp_code(secret))
    page.get_by_role("button", name="Activate").click()

    # The recovery codes are shown at once, and can be downloaded as a file.
    expect(page.get_by_role("heading", name="Recovery Codes")).to_be_visible()
    codes = page.locator("#recovery_codes").input_value().split()
    assert len(codes) == 10
    with page.expect_download() as download:
        page.get_by_role("link", name="Download codes").click()
    assert download.value.suggested_filename.endswith(".txt")
    assert page.evaluate("window.violations") == [], "setup pages"
    sign_out(page)

    # Signing in now asks for the code; a wrong one is refused in so many words.
    type_password(page, user)
    enter_code(page, "999999" if totp_code(secret) != "999999" else "888888")
    expect(page.locator("#main")).to_contain_text("Incorrect code.")
    expect(page.get_by_role("heading", name="Your images")).to_have_count(0)
    enter_code(page, totp_code(secret))
    expect(page.get_by_role("heading", name="Your images")).to_be_visible()
    assert page.evaluate("window.violations") == [], "sign-in with a code"
    sign_out(page)

    # A recovery code works once.
    type_password(page, user)
    enter_code(page, codes[0])
    expect(page.get_by_role("heading", name="Your images")).to_be_visible()
    sign_out(page)
    type_password(page, user)
    enter_code(page, codes[0])
    expect(page.locator("#main")).to_contain_text("Incorrect code.")
    enter_code(page, codes[1])
    expect(page.get_by_role("heading", name="Your images")).to_be_visible()


def test_staff_must_set_up_two_factor_when_the_site_says_so(new_context, settings):
    settings.SMALLIMAGE_REQUIRE_STAFF_MFA = True
    staff = UserFactory.create(username="boss", is_staff=True, is_superuser=True)
    page = new_context().new_page()
    type_password(page, staff)
    # On the way to setup, which first asks for the password again.
    expect(page.locator("#messages")).to_contain_text("Staff accounts need two-factor")
    confirm_password(page)
    expect(page.get_by_role("heading", name="Activate Authenticator App")).to_be_visible()

    page.goto("/admin/")
    expect(page.get_by_role("heading", name="Activate Authenticator App")).to_be_visible()
    page.goto("/")
    expect(page.get_by_role("heading", name="Activate Authenticator App")).to_be_visible()

    secret = page.locator("#authenticator_secret").input_value()
    page.locator("#id_code").fill(totp_code(secret))
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_role("heading", name="Recovery Codes")).to_be_visible()
    page.goto("/admin/")
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()


def test_staff_need_no_two_factor_when_the_site_does_not_ask(new_context, settings):
    settings.SMALLIMAGE_REQUIRE_STAFF_MFA = False
    staff = UserFactory.create(is_staff=True, is_superuser=True)
    page = new_context().new_page()
    type_password(page, staff)
    expect(page.get_by_role("heading", name="Your images")).to_be_visible()
    page.goto("/admin/")
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()


def test_the_admin_signs_in_through_allauth(new_context):
    member = UserFactory.create()
    page = new_context().new_page()
    page.goto("/admin/")
    expect(page).to_have_url("/accounts/login/?next=%2Fadmin%2F")
    expect(page.get_by_role("heading", name="Sign In")).to_be_visible()

    type_password(page, member)
    expect(page.get_by_role("heading", name="Your images")).to_be_visible()
    response = page.goto("/admin/")
    assert response.status == 403
    expect(page.get_by_role("heading", name="You cannot do that")).to_be_visible()
