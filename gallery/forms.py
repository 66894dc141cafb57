from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name; each is checked by the upload service."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/png,image/jpeg"}))
        # The upload service explains an empty file by its name, with the others.
        kwargs.setdefault("allow_empty_file", True)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile[bytes]]:
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
    # The ignore: a field named "files" shadows BaseForm.files (the bound files) in
    # mypy's eyes only; Django's metaclass moves declared fields into base_fields.
    files = MultipleFileField(  # type: ignore[assignment]
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

    def __init__(self, *args: Any, rendition_choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The field declared above; self.fields holds it as a plain Field.
        cast("forms.ChoiceField", self.fields["rendition"]).choices = rendition_choices
