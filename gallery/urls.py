from django.urls import path

from gallery import views

app_name = "gallery"

urlpatterns = [
    path("", views.image_list, name="image_list"),
    path("images/upload/", views.image_upload, name="image_upload"),
    path("images/<str:public_id>/", views.image_detail, name="image_detail"),
    path("images/<str:public_id>/card/", views.image_card, name="image_card"),
    path("images/<str:public_id>/retry/", views.image_retry, name="image_retry"),
    path("images/<str:public_id>/delete/", views.image_delete, name="image_delete"),
    path("images/<str:public_id>/links/", views.link_create, name="link_create"),
    path("s/<str:share_token>", views.share, name="share"),
    path("files/<path:name>", views.file_serve, name="file"),
]
