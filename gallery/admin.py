from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from gallery import services
from gallery.models import Image, Rendition

RENDITION_FIELDS = ("thumbnail_height", "width", "height", "content_type", "file")


class RenditionInline(admin.TabularInline[Rendition, Image]):
    model = Rendition
    fields = RENDITION_FIELDS
    readonly_fields = RENDITION_FIELDS
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin[Image]):
    list_display = ["name", "owner", "width", "height", "status", "created_at"]
    list_filter = ["status", "content_type"]
    list_select_related = ["owner"]
    search_fields = ["name", "public_id", "owner__username"]
    readonly_fields = [
        "public_id",
        "owner",
        "name",
        "width",
        "height",
        "content_type",
        "size_bytes",
        "status",
        "created_at",
    ]
    inlines = [RenditionInline]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # images arrive through the upload service only

    # Deleting from the admin must remove the stored files too.
    def delete_model(self, request: HttpRequest, obj: Image) -> None:
        services.image_delete(image=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Image]) -> None:
        for image in queryset.prefetch_related("renditions"):
            services.image_delete(image=image)
