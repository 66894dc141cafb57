from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        from allauth.account import signals

        from accounts import checks  # noqa: F401  (registers the system checks)

        # allauth announces every password it sets (change, reset, first set);
        # each ends the account's other credentials.
        for signal in (signals.password_changed, signals.password_reset, signals.password_set):
            signal.connect(_end_other_credentials, dispatch_uid="accounts.end_other_credentials")


def _end_other_credentials(sender: type, user: Any, **kwargs: Any) -> None:
    from accounts import services

    services.credentials_end(user=user)
