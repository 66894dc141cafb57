"""Domain errors of accounts: ``str(error)`` is the message, ``status_code`` the HTTP status."""

from __future__ import annotations


class AccountError(Exception):
    status_code = 400


class TooManyAttempts(AccountError):
    """The account (or the client's address) has used up its failed sign-in attempts."""

    status_code = 429
