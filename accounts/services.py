from __future__ import annotations

from allauth.account.models import EmailAddress
from django.db import transaction

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
    """An account on `tier` (the default tier if None) whose email counts as verified."""
    user = User(
        username=username,
        email=email,
        tier=tier or Tier.objects.default(),
        is_staff=is_staff or is_superuser,
        is_superuser=is_superuser,
    )
    user.set_password(password)
    user.full_clean()
    user.save()
    if email:
        EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return user
