from __future__ import annotations

import re

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another long passphrase"


def test_password_change_requires_the_current_password(client, basic_user):
    client.force_login(basic_user)
    page = client.get("/accounts/password/change/")
    assert page.status_code == 200
    assert b"form-control" in page.content  # styled by crispy-forms

    wrong = client.post(
        "/accounts/password/change/",
        {"oldpassword": "not it", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert wrong.status_code == 200
    basic_user.refresh_from_db()
    assert basic_user.check_password(PASSWORD)

    right = client.post(
        "/accounts/password/change/",
        {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert right.status_code == 302
    basic_user.refresh_from_db()
    assert basic_user.check_password(NEW_PASSWORD)


def test_password_reset_by_email(client, basic_user, mailoutbox):
    response = client.post("/accounts/password/reset/", {"email": basic_user.email})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    link = re.search(
        r"http://127\.0\.0\.1:8000(/accounts/password/reset/key/\S+)", mailoutbox[0].body
    )
    assert link, mailoutbox[0].body
    form_page = client.get(link.group(1), follow=True)
    action = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link.group(1)
    done = client.post(action, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done.status_code == 302
    basic_user.refresh_from_db()
    assert basic_user.check_password(NEW_PASSWORD)


def test_sign_out(client, basic_user):
    client.force_login(basic_user)
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302
