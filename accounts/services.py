from __future__ import annotations

import hashlib

from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress
from allauth.mfa.base.internal.flows import check_rate_limit as check_mfa_rate_limit
from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from knox.models import AuthToken

from accounts.errors import (
    InvalidCode,
    InvalidCredentials,
    SecondFactorNeeded,
    TooManyAttempts,
    TwoFactorSetupNeeded,
)
from accounts.models import Tier, User


@transaction.atomic
def user_create(
    *,
    username: str,
    email: str,
    password: str,
    tier: Tier | None = None,
    is_staff: bool = False,
    is_superuser: bool = False,
) -> User:
    """An account on `tier` (the default tier if None) whose email counts as verified.

    Raises ValidationError keyed by field: username taken, email taken, weak password.
    """
    user = User(
        username=username,
        email=email,
        tier=tier or Tier.objects.default(),
        is_staff=is_staff or is_superuser,
        is_superuser=is_superuser,
    )
    errors: dict[str, list[str]] = {}
    try:
        user.full_clean(exclude=["password"])
    except ValidationError as error:
        errors.update(error.message_dict)
    if email and EmailAddress.objects.filter(email__iexact=email).exists():
        errors.setdefault("email", []).append("A user with this email address already exists.")
    try:
        password_validation.validate_password(password, user)
    except ValidationError as error:
        errors["password"] = error.messages
    if errors:
        raise ValidationError(errors)
    user.set_password(password)
    user.save()
    if email:
        EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return user


def user_authenticate(*, request: HttpRequest, login: str, password: str) -> User | None:
    """The active account that `login` (a username or an email) names, if `password` is its own.

    Counts against the same failed-attempt limits as the sign-in page (allauth's
    "login_failed": per client address and per account), so no door gives an
    attacker more guesses than another. Raises TooManyAttempts once they are used up.
    """
    credentials = {"username": login, "password": password}
    if "@" in login:
        credentials["email"] = login
    try:
        user = get_adapter(request).authenticate(request, **credentials)
    except ValidationError as error:
        # pre_authenticate's only refusal: the limit is reached.
        raise TooManyAttempts(error.messages[0]) from None
    if user is None or not user.is_active:
        return None
    return user


def current_password_check(*, request: HttpRequest, user: User, password: str) -> bool:
    """Whether `password` is the signed-in user's own, a wrong one counting as a failed sign-in.

    Every form that asks for the current password (the page's password change,
    the API's) checks it here. Raises TooManyAttempts once the account has no
    guesses left.
    """
    return user_authenticate(request=request, login=user.get_username(), password=password) == user


def password_change(
    *,
    request: HttpRequest,
    user: User,
    current_password: str,
    new_password: str,
    keep_token: AuthToken | None = None,
) -> None:
    """Change the user's own password; the current one must be given.

    Guessing the current password counts as failed sign-ins. Every other
    credential ends (see credentials_end); `keep_token`, the token of the
    request making the change, goes on working. Raises ValidationError keyed by
    field when the current password is wrong or the new one too weak, and
    TooManyAttempts when the account has no guesses left.
    """
    if not current_password_check(request=request, user=user, password=current_password):
        raise ValidationError({"current_password": ["Your current password is not correct."]})
    try:
        password_validation.validate_password(new_password, user)
    except ValidationError as error:
        raise ValidationError({"new_password": error.messages}) from None
    password_set(user=user, password=new_password, keep_token=keep_token)


def password_set(*, user: User, password: str, keep_token: AuthToken | None = None) -> None:
    """Give the user a new password and end every other credential (see credentials_end).

    The API and demo_accounts set passwords here. The doors that set one
    themselves end the other credentials with credentials_end directly: the
    admin's password form and manage.py changepassword (accounts.admin, the
    command), and allauth's change, reset and first password, which announce
    themselves by signal (accounts.apps).
    """
    user.set_password(password)
    user.save(update_fields=["password"])
    credentials_end(user=user, keep_token=keep_token)


def credentials_end(*, user: User, keep_token: AuthToken | None = None) -> int:
    """End every API token of the user but `keep_token`; the number ended.

    Called whenever a password is set (by any door: reset, change, admin, API)
    and when an account is deactivated. Browser sessions need nothing here:
    Django checks each session against a hash of the current password and
    rejects inactive users, so they end at their next request.
    """
    tokens = AuthToken.objects.filter(user=user)
    if keep_token is not None:
        tokens = tokens.exclude(digest=keep_token.digest)
    ended, _ = tokens.delete()
    return ended


def user_deactivate(*, user: User) -> None:
    """Mark the account inactive and end its tokens; its sessions and links stop at once."""
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
    credentials_end(user=user)


def email_address_lock(*, email: str) -> None:
    """Make every other transaction that asks for the same address wait until this one ends.

    Call inside ``transaction.atomic()``, before looking whether an account
    has the address and then giving it to one. The database enforces unique
    *verified* addresses only (allauth's ``unique_verified_email``), so
    without the lock two sign-ups with one new address would each see it
    free and each take it, unverified.
    """
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("email_address_lock() holds only inside transaction.atomic()")
    if connection.vendor == "postgresql":
        digest = hashlib.sha256(b"smallimage-email:" + email.lower().encode()).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
    # SQLite needs nothing more: settings open every transaction with
    # BEGIN IMMEDIATE, which takes the database's one write lock, so
    # transactions that write already run one at a time.


# What allauth's sign-in asks a second factor for: recovery codes alone never
# stand for two-factor sign-in (allauth deletes them with the last authenticator).
SECOND_FACTOR_TYPES = [Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN]


def mfa_enabled(*, user: User) -> bool:
    """Whether signing in as `user` needs a second factor after the password."""
    return is_mfa_enabled(user, types=SECOND_FACTOR_TYPES)


def mfa_code_verify(*, user: User, code: str) -> bool:
    """Whether `code` is the user's current TOTP code or one of their unused recovery codes.

    The same check as allauth's own sign-in form, through allauth's classes: a
    recovery code is used up, and a TOTP code cannot be used twice within its
    period (allauth remembers it in the cache). Rate limiting is the caller's:
    allauth's own keys off the request, which this function does not have.
    """
    if not code or not mfa_enabled(user=user):
        return False
    # WebAuthn cannot check a typed code, as in allauth's own form.
    authenticators = Authenticator.objects.filter(
        user=user, type__in=[Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES]
    )
    for authenticator in authenticators:
        if authenticator.wrap().validate_code(code):
            authenticator.record_usage()
            return True
    return False


def mfa_required(*, user: User) -> bool:
    """Whether the site makes `user` set up two-factor sign-in before anything else."""
    return bool(
        settings.SMALLIMAGE_REQUIRE_STAFF_MFA and user.is_staff and not mfa_enabled(user=user)
    )


def user_sign_in(*, request: HttpRequest, login: str, password: str, code: str = "") -> User:
    """The account `login` and `password` name, once its second factor (if any) is given.

    For doors without allauth's sign-in pages (the API): every failure counts
    against the sign-in page's limits. Raises InvalidCredentials, SecondFactorNeeded,
    InvalidCode, TwoFactorSetupNeeded or TooManyAttempts, in the order checked, so
    nothing about the second factor is said before the password is right.
    """
    user = user_authenticate(request=request, login=login, password=password)
    if user is None:
        raise InvalidCredentials("Unable to sign in with this username or email and password.")
    if mfa_enabled(user=user):
        if not code:
            raise SecondFactorNeeded(
                "This account uses two-factor sign-in: send the code from your authenticator "
                'app (or a recovery code) in "code".'
            )
        if not mfa_sign_in_verify(user=user, code=code):
            raise InvalidCode("Incorrect code.")
    elif mfa_required(user=user):
        raise TwoFactorSetupNeeded(STAFF_MFA_SETUP)
    return user


STAFF_MFA_SETUP = (
    "Staff accounts need two-factor sign-in: set up an authenticator app on the account page first."
)


def mfa_sign_in_verify(*, user: User, code: str) -> bool:
    """Whether `code` is a valid second factor for `user` signing in (see mfa_code_verify).

    Wrong codes count against the same per-account limit as the sign-in page's
    code form (allauth's own check), so no door gives more guesses at six digits
    than another. Raises TooManyAttempts once they are used up.
    """
    try:
        clear_limit = check_mfa_rate_limit(user)
    except ValidationError as error:
        raise TooManyAttempts(error.messages[0]) from None
    if not mfa_code_verify(user=user, code=code):
        return False
    clear_limit()
    return True
