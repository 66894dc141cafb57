from __future__ import annotations

import secrets
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Tier, User
from accounts.services import password_set, user_create

# What the table shows for an existing account whose password was kept.
UNCHANGED = "(unchanged)"

DEMO_ACCOUNTS = [
    # username, tier, superuser
    ("basic", "Basic", False),
    ("premium", "Premium", False),
    ("enterprise", "Enterprise", False),
    ("admin", "Enterprise", True),
]


class Command(BaseCommand):
    help = "Create one demo account per built-in tier and an admin (DEBUG only)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="Give existing demo accounts new passwords and print them.",
        )

    def handle(self, *args: Any, reset_passwords: bool, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("Demo accounts are only made when DEBUG is on (DJANGO_DEBUG=1).")
        rows = []
        for username, tier_name, is_superuser in DEMO_ACCOUNTS:
            password = secrets.token_urlsafe(9)
            user = User.objects.filter(username=username).first()
            if user is None:
                user_create(
                    username=username,
                    email=f"{username}@example.com",
                    password=password,
                    tier=Tier.objects.get(name=tier_name),
                    is_superuser=is_superuser,
                )
            elif reset_passwords:
                password_set(user=user, password=password)
            else:
                password = UNCHANGED
            rows.append((username, tier_name + (", admin" if is_superuser else ""), password))

        self.stdout.write("\nDemo accounts (sign in at http://127.0.0.1:8000/):")
        for username, plan, password in rows:
            self.stdout.write(f"  {username:<11} {plan:<19} {password}")
        if any(password == UNCHANGED for *_, password in rows):
            self.stdout.write(
                "New passwords: .venv/bin/python manage.py demo_accounts --reset-passwords"
            )
        self.stdout.write("")
