from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "SmallImage administration"
admin.site.site_title = "SmallImage admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/", include("api.urls")),
    path("", include("gallery.urls")),
]
