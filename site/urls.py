from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.shortcuts import redirect
from django.urls import include, path

from gallery.health import healthz

admin.site.site_header = "SmallImage administration"
admin.site.site_title = "SmallImage admin"
# The admin signs in through allauth's page: one password form, with its
# failed-attempt limits (and two-factor), rather than a second one to guess at.
admin.site.login = secure_admin_login(admin.site.login)
# ...and changes its password there too, where wrong guesses at the current
# one count as failed sign-ins and the new one ends the other credentials.
admin.site.password_change = lambda request, extra_context=None: redirect(  # type: ignore[method-assign]
    "account_change_password"
)

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/", include("api.urls")),
    path("", include("gallery.urls")),
]
