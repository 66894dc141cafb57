from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.core.exceptions import ValidationError
from django.db import models

MAX_THUMBNAIL_HEIGHT = 4000


def validate_thumbnail_heights(value: object) -> None:
    if not isinstance(value, list) or not all(
        isinstance(height, int) and not isinstance(height, bool) for height in value
    ):
        raise ValidationError("Thumbnail heights must be a list of whole numbers.")
    if len(set(value)) != len(value):
        raise ValidationError("Each thumbnail height may appear only once.")
    out_of_range = [h for h in value if not 1 <= h <= MAX_THUMBNAIL_HEIGHT]
    if out_of_range:
        raise ValidationError(
            f"Thumbnail heights must be between 1 and {MAX_THUMBNAIL_HEIGHT} pixels "
            f"(got {', '.join(map(str, out_of_range))})."
        )


class TierQuerySet(models.QuerySet["Tier"]):
    def default(self) -> Tier:
        """The tier new accounts get (settings.SMALLIMAGE_DEFAULT_TIER)."""
        return self.get(name=settings.SMALLIMAGE_DEFAULT_TIER)


class Tier(models.Model):
    """What an account gets: its thumbnail sizes and which links it may hand out."""

    name = models.CharField(max_length=50, unique=True)
    thumbnail_heights = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_thumbnail_heights],
        help_text="Heights in pixels of the thumbnails every image of this tier gets.",
    )
    can_link_original = models.BooleanField(
        default=False, help_text="Users may view and share the original file."
    )
    can_make_expiring_links = models.BooleanField(
        default=False, help_text="Users may create links that expire after a chosen time."
    )

    objects = TierQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class UserManager(DjangoUserManager["User"]):
    """Accounts made from code (createsuperuser, scripts) start on the default tier."""

    def create_user(
        self,
        username: str,
        email: str | None = None,
        password: str | None = None,
        **extra_fields: Any,
    ) -> User:
        extra_fields.setdefault("tier", Tier.objects.default())
        return super().create_user(username, email, password, **extra_fields)

    def create_superuser(
        self,
        username: str,
        email: str | None = None,
        password: str | None = None,
        **extra_fields: Any,
    ) -> User:
        extra_fields.setdefault("tier", Tier.objects.default())
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="users")

    objects: ClassVar[UserManager] = UserManager()
