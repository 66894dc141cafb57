from django.contrib import admin
from django.urls import include, path

from gallery.health import healthz

admin.site.site_header = "SmallImage administration"
admin.site.site_title = "SmallImage admin"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/", include("api.urls")),
    path("", include("gallery.urls")),
]
