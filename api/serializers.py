"""What the API reads and writes. Rules stay in the services; these only shape data."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from accounts.models import Tier, User
from gallery.presenters import RenditionView
from gallery.services import Link

RENDITION_PATTERN = r"^(original|[1-9][0-9]{0,3})$"


class TierSerializer(serializers.ModelSerializer[Tier]):
    expiring_link_min_seconds = serializers.SerializerMethodField()
    expiring_link_max_seconds = serializers.SerializerMethodField()
    thumbnail_heights = serializers.ListField(child=serializers.IntegerField(), read_only=True)

    class Meta:
        model = Tier
        fields = [
            "name",
            "thumbnail_heights",
            "can_link_original",
            "can_make_expiring_links",
            "expiring_link_min_seconds",
            "expiring_link_max_seconds",
        ]
        read_only_fields = fields

    def get_expiring_link_min_seconds(self, tier: Tier) -> int | None:
        return (
            settings.SMALLIMAGE_EXPIRING_LINK_MIN_SECONDS if tier.can_make_expiring_links else None
        )

    def get_expiring_link_max_seconds(self, tier: Tier) -> int | None:
        return (
            settings.SMALLIMAGE_EXPIRING_LINK_MAX_SECONDS if tier.can_make_expiring_links else None
        )


class UserSerializer(serializers.ModelSerializer[User]):
    # Empty for accounts made without one, so not declared as an email format.
    email = serializers.CharField(read_only=True, help_text="Email address; may be empty.")
    tier = TierSerializer(read_only=True)

    class Meta:
        model = User
        fields = ["username", "email", "tier"]
        read_only_fields = fields


class LoginSerializer(serializers.Serializer[Any]):
    login = serializers.CharField(help_text="Username or email address.")
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    code = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text=(
            "For accounts with two-factor sign-in: the code from the authenticator app, "
            "or one of the recovery codes."
        ),
    )


class TokenSerializer(serializers.Serializer[Any]):
    token = serializers.CharField()
    expiry = serializers.DateTimeField()
    user = UserSerializer()


class PasswordChangeSerializer(serializers.Serializer[Any]):
    current_password = serializers.CharField(trim_whitespace=False)
    new_password = serializers.CharField(trim_whitespace=False)


class RenditionLinkSerializer(serializers.Serializer[RenditionView]):
    rendition = serializers.CharField(source="key", help_text='"original" or a height, e.g. "200".')
    width = serializers.IntegerField(source="rendition.width")
    height = serializers.IntegerField(source="rendition.height")
    url = serializers.URLField(
        source="share_url",
        help_text="Stable share link: works while the image exists and the tier allows it.",
    )


# Any, not ImageCard: the list view passes a list of cards with many=True, which
# djangorestframework-stubs cannot express (it types the instance as one card).
class ImageSerializer(serializers.Serializer[Any]):
    """An image as its owner's current tier shows it (built from a presenters.ImageCard)."""

    id = serializers.CharField(source="image.public_id")
    name = serializers.CharField(source="image.name")
    width = serializers.IntegerField(source="image.width")
    height = serializers.IntegerField(source="image.height")
    content_type = serializers.CharField(source="image.content_type")
    size_bytes = serializers.IntegerField(source="image.size_bytes")
    status = serializers.CharField(source="image.status")
    created_at = serializers.DateTimeField(source="image.created_at")
    links = RenditionLinkSerializer(source="renditions", many=True)


class ImageUploadSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(help_text="A PNG or JPEG image.")


class LinkCreateSerializer(serializers.Serializer[Any]):
    rendition = serializers.RegexField(
        RENDITION_PATTERN,
        error_messages={"invalid": 'Use "original" or a thumbnail height such as "200".'},
        help_text='"original" or a thumbnail height, e.g. "200".',
    )
    expires_in = serializers.IntegerField(
        min_value=settings.SMALLIMAGE_EXPIRING_LINK_MIN_SECONDS,
        max_value=settings.SMALLIMAGE_EXPIRING_LINK_MAX_SECONDS,
        help_text="Seconds the link works for.",
    )

    def to_internal_value(self, data: Any) -> Any:
        # A JSON number is a fine rendition: {"rendition": 200}.
        if isinstance(data, dict) and isinstance(data.get("rendition"), int):
            data = {**data, "rendition": str(data["rendition"])}
        return super().to_internal_value(data)


class LinkSerializer(serializers.Serializer[Link]):
    url = serializers.URLField()
    expires_at = serializers.DateTimeField()
    rendition = serializers.CharField(source="rendition.key")


class UserCreateSerializer(serializers.Serializer[Any]):
    username = serializers.CharField(max_length=150)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    password = serializers.CharField(trim_whitespace=False, write_only=True)
    tier = serializers.SlugRelatedField(
        slug_field="name",
        queryset=Tier.objects.all(),
        required=False,
        help_text="Tier name; the default tier if left out.",
    )
