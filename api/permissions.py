"""Who may call what, beyond DRF's IsAuthenticated."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.permissions import BasePermission

from accounts import services as account_services

if TYPE_CHECKING:  # rest_framework.views imports this module through its settings
    from rest_framework.request import Request
    from rest_framework.views import APIView


class TwoFactorSetUpWhereRequired(BasePermission):
    """Staff without two-factor sign-in are refused while the site requires it.

    The pages send them to set it up (accounts.middleware); the API answers 403,
    for tokens made before the requirement was switched on too.
    """

    message = account_services.STAFF_MFA_SETUP

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return not (user.is_authenticated and account_services.mfa_required(user=user))


class CanAddUsers(BasePermission):
    """Staff holding the "Can add user" permission, as the Django admin requires."""

    message = 'Creating users needs a staff account with the "Can add user" permission.'

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user.is_authenticated and user.is_staff and user.has_perm("accounts.add_user"))
