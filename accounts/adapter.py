from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.userkit import filter_users_by_email, get_user_by_username
from django.conf import settings
from django.http import HttpRequest

from accounts.models import Tier, User


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return settings.SMALLIMAGE_SIGNUP_OPEN

    def new_user(self, request: HttpRequest) -> User:
        user = super().new_user(request)
        user.tier = Tier.objects.default()
        return user

    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials: Any) -> str:
        """One failed-attempt count per account, whichever name it is tried under.

        allauth keys its "login_failed" limit on the typed login, so guesses at
        "alice" and at "alice@example.com" would each get their own allowance.
        Every door that checks a password (the sign-in page, the Django admin
        through it, the API login and the API's current-password check) comes
        through adapter.authenticate() and so through this key.

        It leaves out allauth's site domain too: with no sites framework that is
        the request's Host, whose port ALLOWED_HOSTS ignores, so "host:1",
        "host:2", ... would each have counted afresh.
        """
        user = account_for_login(credentials)
        if user is not None:
            return f"account:{user.pk}"
        login = credentials.get("email") or credentials.get("username") or ""
        return f"login:{login.lower()}"


def account_for_login(credentials: dict[str, Any]) -> User | None:
    """The account a sign-in attempt names by username or by email, if any."""
    if username := credentials.get("username"):
        user = get_user_by_username(username)
        if user is not None:
            return user
    if email := credentials.get("email"):
        users = filter_users_by_email(email, prefer_verified=True, for_login=True)
        if users:
            return users[0]
    return None
