from __future__ import annotations

from django import forms
from django.conf import settings


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name; each is checked by the upload service."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/png,image/jpeg"}))
        # The upload service explains an empty file by its name, with the others.
        kwargs.setdefault("allow_empty_file", True)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None) -> list:
        items = [item for item in (data if isinstance(data, list | tuple) else [data]) if item]
        if not items:
            if self.required:
                raise forms.ValidationError(self.error_messages["required"], code="required")
            return []
        limit = settings.SMALLIMAGE_MAX_FILES_PER_UPLOAD
        if len(items) > limit:
            raise forms.ValidationError(
                f"Upload at most {limit} files at a time (you chose {len(items)}).",
                code="too_many_files",
            )
        clean_one = super().clean  # zero-argument super() does not work in a comprehension
        return [clean_one(item, initial) for item in items]


class UploadForm(forms.Form):
    files = MultipleFileField(
        label="Images",
        help_text="PNG or JPEG.",
        error_messages={"required": "Choose at least one PNG or JPEG image to upload."},
    )


class ExpiringLinkForm(forms.Form):
    rendition = forms.ChoiceField(label="Size")
    expires_in = forms.IntegerField(
        label="Expires after (seconds)",
        min_value=settings.SMALLIMAGE_EXPIRING_LINK_MIN_SECONDS,
        max_value=settings.SMALLIMAGE_EXPIRING_LINK_MAX_SECONDS,
        initial=3600,
    )

    def __init__(self, *args, rendition_choices: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["rendition"].choices = rendition_choices
