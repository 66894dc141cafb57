"""Passkeys (WebAuthn): who may see and change a key, and the API's sign-in for passkey accounts.

The WebAuthn ceremonies themselves need a browser: tests/e2e/test_passkeys.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.webauthn.internal.auth import WebAuthn
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.test import Client
from django.urls import reverse
from fido2.cose import ES256
from fido2.rpid import verify_rp_id
from fido2.webauthn import (
    Aaguid,
    AttestationObject,
    AttestedCredentialData,
    AuthenticationExtensionsClientOutputs,
    AuthenticatorAttestationResponse,
    AuthenticatorData,
    CollectedClientData,
    RegistrationResponse,
)

from accounts import services
from accounts.models import User
from tests.accounts.test_mfa import api_login, sign_in, signed_in_by_password
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def registration(*, rp_id: str = "testserver") -> dict[str, Any]:
    """What a browser posts when an authenticator has made a passkey for `rp_id`.

    Made here with fido2's own types and a fresh P-256 key, attestation "none",
    as most passkeys send it; a browser makes real ones in tests/e2e/test_passkeys.py.
    """
    private_key = ec.generate_private_key(ec.SECP256R1())
    credential_id = os.urandom(32)
    flags = AuthenticatorData.FLAG
    auth_data = AuthenticatorData.create(
        hashlib.sha256(rp_id.encode()).digest(),
        flags.UP | flags.UV | flags.AT,
        0,
        AttestedCredentialData.create(
            Aaguid.NONE, credential_id, ES256.from_cryptography_key(private_key.public_key())
        ),
    )
    response = RegistrationResponse(
        raw_id=credential_id,
        response=AuthenticatorAttestationResponse(
            client_data=CollectedClientData.create(
                "webauthn.create", os.urandom(16), f"https://{rp_id}"
            ),
            attestation_object=AttestationObject.create("none", auth_data, {}),
        ),
        client_extension_results=AuthenticationExtensionsClientOutputs({"credProps": {"rk": True}}),
    )
    return json.loads(json.dumps(dict(response)))


def with_passkey(user: User, *, name: str = "Laptop") -> tuple[Authenticator, list[str]]:
    """A passkey, stored as allauth stores one, and the recovery codes that come with it."""
    key = WebAuthn.add(user, name, registration()).instance
    codes = RecoveryCodes.activate(user).generate_codes()
    return key, codes


# ---- the settings -----------------------------------------------------------------


def test_passkeys_are_offered_and_the_origin_is_always_checked():
    assert "webauthn" in settings.MFA_SUPPORTED_TYPES
    assert settings.MFA_PASSKEY_LOGIN_ENABLED is True
    # allauth's switch would accept any origin at all (see site/settings.py).
    assert settings.MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN is False


@pytest.mark.parametrize(
    ("rp_id", "origin", "usable"),
    [
        ("localhost", "http://localhost:8000", True),  # `make run`, opened as localhost
        ("127.0.0.1", "http://127.0.0.1:8000", False),  # ... opened as 127.0.0.1
        ("images.example.com", "https://images.example.com", True),
        ("images.example.com", "http://images.example.com", False),
        ("images.example.com", "https://evil.example.net", False),
    ],
)
def test_what_fido2_accepts_as_a_secure_origin(rp_id, origin, usable):
    """What site/settings.py's comment says of fido2, checked against the installed version."""
    assert verify_rp_id(rp_id, origin) is usable


# ---- a passkey is a second factor ----------------------------------------------------


def test_a_passkey_turns_on_two_factor_sign_in(basic_user):
    with_passkey(basic_user)
    assert services.mfa_enabled(user=basic_user) is True
    client = Client()
    assert sign_in(client, basic_user) == reverse("mfa_authenticate")
    page = client.get(reverse("mfa_authenticate")).content.decode()
    assert 'id="mfa_webauthn_authenticate"' in page
    assert client.get(reverse("gallery:image_list")).status_code == 302  # not signed in yet


def test_the_sign_in_page_offers_a_passkey_with_its_scripts_from_this_site(client):
    page = client.get(reverse("account_login")).content.decode()
    assert 'id="passkey_login"' in page
    assert f'action="{reverse("mfa_login_webauthn")}"' in page
    # Under the CSP: script files of this site, and JSON data blocks, no inline code.
    assert '<script src="/static/mfa/js/webauthn.js"></script>' in page
    assert 'data-allauth-onload="allauth.webauthn.forms.loginForm" type="application/json"' in page


# ---- the account pages ---------------------------------------------------------------


def test_the_list_of_keys_names_them_in_the_account_layout(basic_user, login):
    with_passkey(basic_user, name="Work laptop")
    response = login(basic_user).get(reverse("mfa_list_webauthn"))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'aria-label="Account"' in body  # the account pages' nav
    assert "Work laptop" in body
    assert re.search(r'<span class="badge text-bg-primary ms-1">\s*Passkey\s*</span>', body)
    assert 'class="table align-middle"' in body


@pytest.mark.parametrize("name", ["mfa_edit_webauthn", "mfa_remove_webauthn"])
def test_another_users_key_is_missing(basic_user, name):
    key, _ = with_passkey(basic_user)
    intruder = signed_in_by_password(UserFactory.create())
    url = reverse(name, kwargs={"pk": key.pk})
    assert intruder.get(url).status_code == 404
    assert intruder.post(url, {"name": "mine now"}).status_code == 404
    key.refresh_from_db()
    assert key.wrap().name == "Laptop"


def test_changing_a_key_asks_the_owner_to_confirm_access_first(basic_user, login):
    key, _ = with_passkey(basic_user)
    url = reverse("mfa_edit_webauthn", kwargs={"pk": key.pk})
    # Signed in a while ago (no sign-in recorded in the session): asked again first.
    asked = login(basic_user).get(url)
    assert asked.status_code == 302
    assert asked["Location"].startswith(reverse("account_reauthenticate"))


# ---- The API login: passkeys cannot be used there, recovery codes can -----------------


def test_api_login_of_a_passkey_account_asks_for_a_code(basic_user):
    with_passkey(basic_user)
    response = api_login(basic_user)
    assert response.status_code == 400
    message = response.json()["code"][0]
    assert "two-factor sign-in" in message
    assert "recovery code" in message
    assert not basic_user.auth_token_set.exists()


def test_api_login_of_a_passkey_account_takes_a_recovery_code_once(basic_user):
    _, codes = with_passkey(basic_user)
    assert api_login(basic_user, code="123456").json() == {"code": ["Incorrect code."]}
    assert api_login(basic_user, code=codes[0]).status_code == 200
    assert basic_user.auth_token_set.count() == 1
    used = api_login(basic_user, code=codes[0])
    assert used.status_code == 400
    assert used.json() == {"code": ["Incorrect code."]}
