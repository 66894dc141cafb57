"""Domain errors of accounts: ``str(error)`` is the message, ``status_code`` the HTTP status."""

from __future__ import annotations


class AccountError(Exception):
    status_code = 400
    # The input field the message is about, for forms and JSON bodies; None: the whole request.
    field: str | None = None
    # Seconds a client should wait before trying again (the Retry-After header), if known.
    retry_after: int | None = None


class TooManyAttempts(AccountError):
    """The account (or the client's address) has used up its failed sign-in attempts."""

    status_code = 429


class InvalidCredentials(AccountError):
    """No active account has this login and password."""


class SecondFactorNeeded(AccountError):
    """The password is right, and the account also asks for its second factor."""

    field = "code"


class InvalidCode(AccountError):
    """The second factor given is not a valid code for the account."""

    field = "code"


class TwoFactorSetupNeeded(AccountError):
    """The site makes this (staff) account set up two-factor sign-in first."""

    status_code = 403
