"""Django's changepassword, which also ends the user's API tokens like every other door."""

from __future__ import annotations

import getpass
from typing import Any

from django.contrib.auth.management.commands import changepassword

from accounts import services
from accounts.models import User


class Command(changepassword.Command):
    def handle(self, *args: Any, **options: Any) -> str | None:
        message = super().handle(*args, **options)
        username = options["username"] or getpass.getuser()
        user = User._default_manager.db_manager(options["database"]).get_by_natural_key(username)
        services.credentials_end(user=user)
        return message
