from __future__ import annotations

import secrets
from typing import cast

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

ORIGINAL = "original"


def new_public_id() -> str:
    return secrets.token_urlsafe(9)


def new_share_token() -> str:
    return secrets.token_urlsafe(16)


class Image(models.Model):
    class Status(models.TextChoices):
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    # What URLs and the API show: opaque, so ids say nothing about other images.
    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="images"
    )
    # The uploader's filename, kept only as a label: files are stored under
    # generated names.
    name = models.CharField(max_length=255)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    content_type = models.CharField(max_length=50)
    size_bytes = models.PositiveBigIntegerField()
    status = models.CharField(max_length=20, choices=Status, default=Status.PROCESSING)
    created_at = models.DateTimeField(default=timezone.now)
    # Which render is making this image's thumbnails, and since when: the claim
    # lets one worker decode and store without holding a transaction, and
    # expires (gallery.rendering.RENDER_LEASE) if that worker dies.
    render_claim = models.CharField(max_length=32, blank=True, default="", editable=False)
    render_claimed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["owner", "-created_at", "-id"], name="image_owner_newest")]

    def __str__(self) -> str:
        return self.name


class Rendition(models.Model):
    """A stored file of an image: its original or one thumbnail height."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="renditions")
    # The tier height this thumbnail was made for; None for the original.
    # A source shorter than the height gives a thumbnail of its own size.
    thumbnail_height = models.PositiveIntegerField(null=True, blank=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    # Indexed: a signed file link finds its rendition (and owner) by name.
    file = models.FileField(max_length=255, db_index=True)
    content_type = models.CharField(max_length=50)
    # The opaque id of this rendition's stable share link.
    share_token = models.CharField(max_length=32, unique=True, default=new_share_token)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["image", "thumbnail_height"],
                condition=Q(thumbnail_height__isnull=False),
                name="rendition_one_per_height",
            ),
            models.UniqueConstraint(
                fields=["image"],
                condition=Q(thumbnail_height__isnull=True),
                name="rendition_one_original",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.image} ({self.key})"

    @property
    def file_name(self) -> str:
        """The stored file's name: a rendition always has one (the field is required).

        A cast, not a check: FieldFile.name is typed ``str | None`` for an empty field.
        """
        return cast("str", self.file.name)

    @property
    def is_original(self) -> bool:
        return self.thumbnail_height is None

    @property
    def key(self) -> str:
        """How links and the API name it: "original" or the height, "200"."""
        return ORIGINAL if self.is_original else str(self.thumbnail_height)

    @property
    def label(self) -> str:
        return "Original" if self.is_original else f"{self.thumbnail_height} px"
