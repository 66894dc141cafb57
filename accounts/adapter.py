from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from allauth.account import app_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.userkit import filter_users_by_email, get_user_by_username
from django.conf import settings
from django.http import HttpRequest
from django.utils.encoding import force_str

from accounts.models import Tier, User

if TYPE_CHECKING:
    from allauth.account.models import EmailConfirmation


@dataclass(frozen=True)
class PublicSite:
    """What email templates print as `current_site`, taken from SMALLIMAGE_BASE_URL.

    Without django.contrib.sites, allauth's `current_site` is a RequestSite,
    whose name and domain are the request's Host header: whoever asks for a
    password reset would choose the host the email names.
    """

    domain: str
    name: str


def public_site() -> PublicSite:
    host = urlsplit(settings.SMALLIMAGE_BASE_URL).netloc
    return PublicSite(domain=host, name=host)


def on_public_base(url: str) -> str:
    """The same path, query and fragment, on SMALLIMAGE_BASE_URL's scheme and host."""
    parts = urlsplit(url)
    base = urlsplit(settings.SMALLIMAGE_BASE_URL)
    return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, parts.fragment))


def _is_absolute_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return settings.SMALLIMAGE_SIGNUP_OPEN

    def new_user(self, request: HttpRequest) -> User:
        user = super().new_user(request)
        user.tier = Tier.objects.default()
        return user

    # Links in emails. allauth builds them with request.build_absolute_uri(),
    # i.e. from the Host (or, behind a proxy, X-Forwarded-Host) header the
    # client sent: an attacker who asks for a reset of the victim's password
    # with Host: evil.example gets the victim a genuine email whose link hands
    # the key to evil.example. ALLOWED_HOSTS narrows that but is a list of
    # names the app answers to, not the one it should link to.

    def get_email_confirmation_url(
        self, request: HttpRequest, emailconfirmation: EmailConfirmation
    ) -> str:
        return on_public_base(super().get_email_confirmation_url(request, emailconfirmation))

    def get_reset_password_from_key_url(self, key: str) -> str:
        return on_public_base(super().get_reset_password_from_key_url(key))

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        # Every allauth email passes through here, so this is where the rest
        # are caught: the "account already exists" and "unknown account"
        # emails build signup_url and password_reset_url from the request
        # with no adapter hook to override, and every template prints
        # current_site (the request's host) in its greeting.
        public = {
            key: on_public_base(value)
            for key, value in context.items()
            if key.endswith("_url") and _is_absolute_url(value)
        }
        super().send_mail(
            template_prefix, email, {**context, **public, "current_site": public_site()}
        )

    def format_email_subject(self, subject: str) -> str:
        # allauth's default prefix is "[<request host>] ".
        if app_settings.EMAIL_SUBJECT_PREFIX is not None:
            return super().format_email_subject(subject)
        return f"[{public_site().name}] {force_str(subject)}"

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
