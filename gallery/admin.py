from __future__ import annotations

from django.contrib import admin

from gallery import services
from gallery.models import Image, Rendition


class RenditionInline(admin.TabularInline):
    model = Rendition
    fields = ["thumbnail_height", "width", "height", "content_type", "file"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request) -> bool:
        return False  # images arrive through the upload service only

    # Deleting from the admin must remove the stored files too.
    def delete_model(self, request, obj: Image) -> None:
        services.image_delete(image=obj)

    def delete_queryset(self, request, queryset) -> None:
        for image in queryset.prefetch_related("renditions"):
            services.image_delete(image=image)
