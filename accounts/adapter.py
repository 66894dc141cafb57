from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
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
