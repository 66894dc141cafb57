"""Staff set up two-factor sign-in before anything else, when the site asks for it."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django_htmx.http import HttpResponseClientRedirect

from accounts import services

# Where a staff member without two-factor may still go: allauth's account and
# two-factor pages (setting it up may ask for the password again, and sign-out
# is one of them), and the links that are keys by themselves. The file and
# share links are named by URL name, so that this app needs no import of gallery.
ALLOWED_URL_NAMES = {"gallery:file", "gallery:share", "healthz"}
ALLOWED_URL_NAME_PREFIXES = ("account_", "mfa_")

SETUP_MESSAGE = "Staff accounts need two-factor authentication: set up an authenticator app first."


def is_allowed_without_mfa(request: HttpRequest) -> bool:
    if request.path_info.startswith(f"/{settings.STATIC_URL.lstrip('/')}"):
        return True
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return True  # a 404 shows nothing worth protecting
    # The API refuses such staff itself, with a 403 a program can read
    # (api.permissions), rather than a redirect to an HTML page.
    if match.namespace == "api":
        return True
    return match.view_name in ALLOWED_URL_NAMES or (
        not match.namespace and (match.url_name or "").startswith(ALLOWED_URL_NAME_PREFIXES)
    )


class StaffMFARequiredMiddleware:
    """With SMALLIMAGE_REQUIRE_STAFF_MFA on, a signed-in staff member without an
    authenticator is sent to set one up from every other page, the admin included."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Read on every request, not once, so that tests can turn it on and off.
        if (
            settings.SMALLIMAGE_REQUIRE_STAFF_MFA
            and request.user.is_authenticated
            and not is_allowed_without_mfa(request)
            and services.mfa_required(user=request.user)
        ):
            messages.warning(request, SETUP_MESSAGE)
            if getattr(request, "htmx", False):
                return HttpResponseClientRedirect(reverse("mfa_activate_totp"))
            return redirect("mfa_activate_totp")
        return self.get_response(request)
