from __future__ import annotations

from allauth.account import forms as allauth_forms
from django import forms
from django.core.exceptions import ValidationError

from accounts.models import Tier, validate_thumbnail_heights


class ThumbnailHeightsField(forms.CharField):
    """Heights typed as "200, 400", cleaned to a sorted list of ints."""

    def prepare_value(self, value: object) -> object:
        if isinstance(value, list):
            return ", ".join(str(height) for height in value)
        return value

    def to_python(self, value: str | None) -> list[int]:
        text = super().to_python(value)
        parts = [part for part in text.replace(",", " ").split() if part]
        try:
            heights = [int(part) for part in parts]
        except ValueError:
            raise ValidationError(
                "Enter whole numbers of pixels separated by commas, e.g. 200, 400."
            ) from None
        validate_thumbnail_heights(heights)
        return sorted(heights)


class TierAdminForm(forms.ModelForm):
    thumbnail_heights = ThumbnailHeightsField(
        required=False,
        help_text="Heights in pixels, separated by commas, e.g. 200, 400. Empty: no thumbnails.",
    )

    class Meta:
        model = Tier
        fields = ["name", "thumbnail_heights", "can_link_original", "can_make_expiring_links"]


class LoginForm(allauth_forms.LoginForm):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["login"].label = "Username or email"
