"""Template filters about the signed-in account."""

from __future__ import annotations

from allauth.account.utils import has_verified_email
from django import template

from accounts.models import User

register = template.Library()


@register.filter
def has_a_verified_email(user: User) -> bool:
    """Whether the user has verified an email address (allauth.mfa asks for one)."""
    return bool(user.is_authenticated and has_verified_email(user))
