from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api import views

app_name = "api"

urlpatterns = [
    path("v1/auth/login/", views.LoginView.as_view(), name="login"),
    path("v1/auth/logout/", views.LogoutView.as_view(), name="logout"),
    path("v1/auth/logout-all/", views.LogoutAllView.as_view(), name="logout_all"),
    path("v1/me/", views.MeView.as_view(), name="me"),
    path("v1/me/password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("v1/images/", views.ImageListView.as_view(), name="image_list"),
    path("v1/images/<str:public_id>/", views.ImageDetailView.as_view(), name="image_detail"),
    path("v1/images/<str:public_id>/links/", views.LinkCreateView.as_view(), name="link_create"),
    path("v1/users/", views.UserCreateView.as_view(), name="user_create"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
]
