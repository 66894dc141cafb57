"""Everything that changes images, renditions and their files.

The browser views and the API call these functions; neither holds a rule of
its own (how often an account may upload lives in gallery.limits, which
renditions a tier reaches in gallery.access, account changes such as token
revocation in accounts.services). Renders run in gallery.rendering, on the
task queue: these functions only enqueue them.

Files and rows change together: a failure on either side removes what the
other side already wrote, so no row is left without its file nor a file
without its row.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from accounts.models import Tier, User
from gallery import access, originals, pipeline, rendering, tasks
from gallery.errors import (
    InvalidImage,
    InvalidLink,
    RenditionNotAllowed,
    RenditionNotReady,
    StorageUnavailable,
)
from gallery.files import file_store, files_delete_quietly
from gallery.models import ORIGINAL, Image, Rendition
from gallery.rendering import decode_budget
from gallery.storage import expiry_timestamp, signed

logger = logging.getLogger(__name__)

MAX_NAME_LENGTH = 255


@dataclass(frozen=True, slots=True)
class Link:
    url: str
    expires_at: datetime
    rendition: Rendition


def clean_label(filename: str | None) -> str:
    """The uploader's filename reduced to a harmless label: no path, no control characters."""
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    # Cc/Cf include NUL and bidirectional overrides that disguise an extension.
    visible = "".join(ch for ch in base if unicodedata.category(ch) not in {"Cc", "Cf"})
    label = " ".join(visible.split())
    if len(label) > MAX_NAME_LENGTH:
        stem, dot, extension = label.rpartition(".")
        if dot and 0 < len(extension) <= 10:
            label = f"{stem[: MAX_NAME_LENGTH - len(extension) - 2]}….{extension}"
        else:
            label = label[: MAX_NAME_LENGTH - 1] + "…"
    return label or "image"


def _read_upload(file: UploadedFile[bytes]) -> bytes:
    limit = settings.SMALLIMAGE_MAX_UPLOAD_BYTES
    too_large = InvalidImage(f"This file is larger than the limit of {limit / 1_000_000:g} MB.")
    if file.size is not None and file.size > limit:
        raise too_large
    file.seek(0)
    data: bytes = file.read(limit + 1)
    if len(data) > limit:
        raise too_large
    return data


DELETE_FAILED = "We could not delete this image just now. Please try again in a moment."


def image_upload(*, owner: User, file: UploadedFile[bytes]) -> Image:
    """Validate and store an uploaded image, then have its thumbnails rendered."""
    data = _read_upload(file)
    # A busy budget refuses here, before anything is stored.
    source = pipeline.inspect(
        data, max_pixels=settings.SMALLIMAGE_MAX_IMAGE_PIXELS, budget=decode_budget()
    )
    # Losslessly: location data (unless kept by setting), comments and anything
    # appended after the image go; the pixels stay byte for byte.
    data = originals.clean_original(
        data, format=source.format, keep_location=settings.SMALLIMAGE_KEEP_LOCATION
    ).data
    name = file_store(folder="originals", extension=source.extension, data=data)
    try:
        with transaction.atomic():
            image = Image.objects.create(
                owner=owner,
                name=clean_label(file.name),
                width=source.width,
                height=source.height,
                content_type=source.content_type,
                size_bytes=len(data),
            )
            Rendition.objects.create(
                image=image,
                thumbnail_height=None,
                width=source.width,
                height=source.height,
                file=name,
                content_type=source.content_type,
            )
    except Exception:
        files_delete_quietly([name])
        raise
    with rendering.original_at_hand(name=name, data=data):
        tasks.render_thumbnails.enqueue(image_id=image.pk)
    return image


def image_retry(*, image: Image) -> Image:
    """Queue another render of an image whose thumbnails could not be made."""
    if image.status != Image.Status.FAILED:
        return image
    Image.objects.filter(pk=image.pk).update(status=Image.Status.PROCESSING)
    image.status = Image.Status.PROCESSING
    tasks.render_thumbnails.enqueue(image_id=image.pk)
    return image


def tier_thumbnails_changed(*, tier: Tier) -> None:
    """A tier's heights changed: its users' images get the new ones in the background."""
    transaction.on_commit(lambda: tasks.backfill_thumbnails.enqueue(tier_id=tier.pk))


def user_tier_changed(*, user: User) -> None:
    """A user moved to another tier: their images get that tier's heights."""
    transaction.on_commit(lambda: tasks.backfill_thumbnails.enqueue(user_id=user.pk))


def image_delete(*, image: Image) -> None:
    """Delete the image's files and rows so that a failure part-way leaves no mismatch.

    Each file goes first, then its row, thumbnails before the original, the image
    row last: if the storage fails, every row left still has its file, and
    deleting again finishes the job (deleting a missing file is not an error).
    A render may add thumbnail rows meanwhile (gallery.rendering writes them
    under the image's row lock), so the image row goes only once, under that
    lock, it has no renditions left.
    """
    renditions = list(image.renditions.all())
    for _ in range(DELETE_ROUNDS):
        _renditions_delete(renditions)
        with transaction.atomic():
            locked = Image.objects.select_for_update(of=("self",)).filter(pk=image.pk).first()
            if locked is None:
                return
            renditions = list(locked.renditions.all())
            if not renditions:
                locked.delete()
                return
    # Renders kept adding rows: finish under the lock, which keeps them out.
    with transaction.atomic():
        locked = Image.objects.select_for_update(of=("self",)).filter(pk=image.pk).first()
        if locked is not None:
            _renditions_delete(list(locked.renditions.all()))
            locked.delete()


# Passes image_delete makes before it holds the image's lock while deleting files.
DELETE_ROUNDS = 3


def _renditions_delete(renditions: list[Rendition]) -> None:
    """Each rendition's file, then its row; thumbnails before the original."""
    for rendition in sorted(renditions, key=lambda r: r.is_original):
        try:
            rendition.file.storage.delete(rendition.file_name)
        except Exception as error:
            logger.exception("Could not delete stored file %s", rendition.file.name)
            raise StorageUnavailable(DELETE_FAILED) from error
        rendition.delete()


def rendition_for_key(*, image: Image, key: str) -> Rendition:
    """The rendition named by `key` ("original" or a height) that the owner's tier allows."""
    tier = image.owner.tier
    for rendition in image.renditions.all():
        if rendition.key == key and access.rendition_allowed(rendition, tier):
            return rendition
    if key == ORIGINAL:
        raise RenditionNotAllowed("Your plan does not include links to the original image.")
    if key.isdigit() and int(key) in tier.thumbnail_heights:
        raise RenditionNotReady(
            f"The {key} px thumbnail of this image is still being made. Try again in a moment."
        )
    raise RenditionNotAllowed(f"There is no {key} px thumbnail of this image on your plan.")


NO_EXPIRING_LINKS = "Your plan does not include expiring links."


def link_create(*, image: Image, rendition: str, expires_in: int) -> Link:
    """A link to one rendition that works for exactly `expires_in` seconds."""
    if not image.owner.tier.can_make_expiring_links:
        raise RenditionNotAllowed(NO_EXPIRING_LINKS)
    low = settings.SMALLIMAGE_EXPIRING_LINK_MIN_SECONDS
    high = settings.SMALLIMAGE_EXPIRING_LINK_MAX_SECONDS
    if not low <= expires_in <= high:
        raise InvalidLink(f"A link must last between {low} and {high} seconds.")
    target = rendition_for_key(image=image, key=rendition)
    expires_at = expiry_timestamp(expires_in)
    url = signed(target.file.storage).url_until(target.file_name, expires_at)
    return Link(url=url, expires_at=datetime.fromtimestamp(expires_at, tz=UTC), rendition=target)
