from __future__ import annotations

from typing import Any

from allauth.account import app_settings
from allauth.account import forms as allauth_forms
from allauth.account.adapter import get_adapter
from allauth.account.internal.flows.email_verification import (
    send_verification_email_to_address,
)
from allauth.account.models import EmailAddress
from allauth.account.utils import filter_users_by_email
from allauth.core import context
from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from accounts import services
from accounts.errors import TooManyAttempts
from accounts.models import Tier, User, validate_thumbnail_heights
from accounts.services import email_address_lock


class ThumbnailHeightsField(forms.CharField):
    """Heights typed as "200, 400", cleaned to a sorted list of ints."""

    def prepare_value(self, value: object) -> object:
        if isinstance(value, list):
            return ", ".join(str(height) for height in value)
        return value

    # The ignore: CharField's to_python gives text; this field's cleaned value is a list.
    def to_python(self, value: str | None) -> list[int]:  # type: ignore[override]
        text = super().to_python(value) or ""  # never None: empty_value is ""
        parts = [part for part in text.replace(",", " ").split() if part]
        try:
            heights = [int(part) for part in parts]
        except ValueError:
            raise ValidationError(
                "Enter whole numbers of pixels separated by commas, e.g. 200, 400."
            ) from None
        validate_thumbnail_heights(heights)
        return sorted(heights)


class TierAdminForm(forms.ModelForm[Tier]):
    thumbnail_heights = ThumbnailHeightsField(
        required=False,
        help_text="Heights in pixels, separated by commas, e.g. 200, 400. Empty: no thumbnails.",
    )

    class Meta:
        model = Tier
        fields = ["name", "thumbnail_heights", "can_link_original", "can_make_expiring_links"]


class LoginForm(allauth_forms.LoginForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["login"].label = "Username or email"


class ChangePasswordForm(allauth_forms.ChangePasswordForm):
    """allauth's change-password form, whose current-password check counts as a sign-in.

    allauth checks it with user.check_password(), outside the per-account
    failed-attempt limit that every other password door shares.
    """

    def clean_oldpassword(self) -> str:
        password = self.cleaned_data.get("oldpassword", "")
        try:
            # allauth hands this form no request; its middleware keeps the current one.
            correct = services.current_password_check(
                request=context.request, user=self.user, password=password
            )
        except TooManyAttempts as error:
            raise ValidationError(str(error)) from None
        if not correct:
            raise get_adapter().validation_error("enter_current_password")
        return password


class SignupForm(allauth_forms.SignupForm):
    """Sign-up that answers the same whether or not the email address has an account.

    allauth hides a taken address only with mandatory verification (no account
    is made; both cases show "verification sent" and the owner gets an
    "account already exists" email). With optional verification it says
    "A user is already registered with this email address" on the page,
    because the new user is signed in at once and one address may belong to
    one account only. Here, with optional (or no) verification, a taken
    address still makes the account, but without any email address: the
    owner is sent allauth's "account already exists" email, the page shows
    the same "Confirmation email sent" message and redirect as a new
    address, and the newcomer is not given the owner's address. What this
    cannot hide: the new account's own email page then shows no address, so
    whoever signed up can tell one step later (each probe costing a sign-up,
    which allauth rate-limits); only mandatory verification hides that too.
    And allauth's email page lets anyone add any address unverified
    afterwards; the sign-in limits count every account holding an address
    (accounts.adapter), and only one account can ever verify it.
    Usernames may still be reported as taken: they are not secret.

    The check runs again at save, under a lock on the address (see
    accounts.services.email_address_lock), so two sign-ups racing with one
    new address cannot both take it; the loser ends up on the taken path.
    """

    def validate_unique_email(self, value: str) -> str:
        if not _hides_taken_addresses():
            return super().validate_unique_email(value)
        # Taken or not is decided in save(), under the lock.
        return get_adapter().validate_unique_email(value)

    def save(self, request: HttpRequest) -> User:
        email = self.cleaned_data.get("email")
        if not email or not _one_account_per_address():
            return super().save(request)
        with transaction.atomic():
            email_address_lock(email=email)
            if not filter_users_by_email(email):
                return super().save(request)
            # allauth's save, with the address left out of the new account.
            self.cleaned_data["email"] = ""
            try:
                user = super().save(request)
            finally:
                self.cleaned_data["email"] = email
        _tell_owner_of_address(request, email)
        return user


def _one_account_per_address() -> bool:
    # PREVENT_ENUMERATION = "strict" deliberately lets one address sign up
    # many accounts; leave that to allauth.
    return app_settings.UNIQUE_EMAIL and app_settings.PREVENT_ENUMERATION != "strict"


def _hides_taken_addresses() -> bool:
    # Mandatory verification: allauth's own enumeration prevention holds.
    # PREVENT_ENUMERATION = False: the operator chose to say "taken".
    return (
        _one_account_per_address()
        and app_settings.PREVENT_ENUMERATION is True
        and app_settings.EMAIL_VERIFICATION != app_settings.EmailVerificationMethod.MANDATORY
    )


def _tell_owner_of_address(request: HttpRequest, email: str) -> None:
    if app_settings.EMAIL_VERIFICATION == app_settings.EmailVerificationMethod.NONE:
        # A new address gets no email and no message either.
        get_adapter().send_account_already_exists_mail(email)
        return
    # What a new address gets from allauth's verification stage, on an
    # address with no user: allauth's own enumeration-prevention path sends
    # the "account already exists" email instead of a confirmation, under
    # the same per-address rate limit, and adds the same "Confirmation email
    # sent to ..." message.
    send_verification_email_to_address(request, EmailAddress(email=email), signup=True)
