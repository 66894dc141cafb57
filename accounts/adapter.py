from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from allauth.account import app_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.userkit import filter_users_by_email, get_user_by_username
from allauth.core.internal import ratelimit
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
    # The product's name where allauth's emails greet and prefix their subjects.
    return PublicSite(domain=urlsplit(settings.SMALLIMAGE_BASE_URL).netloc, name="SmallImage")


def on_public_base(url: str) -> str:
    """The same path, query and fragment, on SMALLIMAGE_BASE_URL's scheme and host."""
    parts = urlsplit(url)
    base = urlsplit(settings.SMALLIMAGE_BASE_URL)
    return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, parts.fragment))


def _is_absolute_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        # allauth's "Try again later" leaves a locked-out owner guessing.
        "too_many_login_attempts": (
            "Too many failed login attempts for this account. Try again in a few minutes, "
            "or reset your password by email."
        ),
    }

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
        accounts = accounts_for_login(credentials)
        if accounts:
            return f"account:{accounts[0].pk}"
        login = credentials.get("email") or credentials.get("username") or ""
        return f"login:{login.lower()}"

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        """Count the attempt against every account it could sign in to, not just one.

        allauth's email backend tries the password on every account holding the
        address, and any account may add someone else's address, unverified. So
        a guess by email counts for each of them: a second account holding the
        victim's address gives no fresh guesses at the victim's password.
        allauth's own call counts the first account (and the client address);
        the others' per-account rates are counted here, and rolled back with it
        on success.
        """
        super().pre_authenticate(request, **credentials)
        per_account = _per_account_rates()
        for account in accounts_for_login(credentials)[1:]:
            usage = ratelimit.consume(
                request,
                app="allauth.account",
                action="login_failed",
                config={"login_failed": per_account},
                key=f"account:{account.pk}",
            )
            if not usage:
                self._rollback_login_failed_rl_usage()
                raise self.validation_error("too_many_login_attempts")
            self._login_failed_rl_usage.usage.extend(usage.usage)


def _per_account_rates() -> str:
    """The "per key" parts of allauth's login_failed rates, e.g. "5/300s/key"."""
    rates = app_settings.RATE_LIMITS.get("login_failed") or ""
    return ",".join(rate for rate in rates.split(",") if rate.strip().endswith("/key"))


def accounts_for_login(credentials: dict[str, Any]) -> list[User]:
    """The accounts a sign-in attempt could open: by username, and all holding the email."""
    accounts: dict[int, User] = {}
    if (username := credentials.get("username")) and (
        user := get_user_by_username(username)
    ) is not None:
        accounts[user.pk] = user
    if email := credentials.get("email"):
        for user in filter_users_by_email(email, prefer_verified=True, for_login=True):
            accounts.setdefault(user.pk, user)
    return list(accounts.values())
