from __future__ import annotations

from typing import Any

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import include, path

from gallery.health import healthz

admin.site.site_header = "SmallImage administration"
admin.site.site_title = "SmallImage admin"


def _password_change_elsewhere(
    request: HttpRequest, extra_context: dict[str, Any] | None = None
) -> HttpResponseRedirect:
    return redirect("account_change_password")


# The admin signs in through allauth's page: one password form, with its
# failed-attempt limits (and two-factor), rather than a second one to guess at.
# (The ignores: mypy refuses to assign over a method; these replace it on the one
# default site, and a redirect stands where AdminSite declares a TemplateResponse.)
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]
# ...and changes its password there too, where wrong guesses at the current
# one count as failed sign-ins and the new one ends the other credentials.
admin.site.password_change = _password_change_elsewhere  # type: ignore[method-assign,assignment]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/", include("api.urls")),
    path("", include("gallery.urls")),
]
