"""Making the thumbnails an image lacks: what the render task runs.

Only the task module calls ``thumbnails_render``; services ask for a render by
enqueueing that task, so this module imports neither of them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import transaction

from gallery import access, pipeline
from gallery.decode_budget import DecodeBudget
from gallery.files import file_store, files_delete_quietly
from gallery.models import Image, Rendition

_budgets: dict[tuple[int, float], DecodeBudget] = {}
_budgets_lock = threading.Lock()


def decode_budget() -> DecodeBudget:
    """This process's budget for image decodes, shared by all its threads (uploads and renders).

    One per settings value, so a test's override gets a fresh one.
    """
    key = (settings.SMALLIMAGE_DECODE_BUDGET_BYTES, settings.SMALLIMAGE_DECODE_WAIT_SECONDS)
    with _budgets_lock:
        if key not in _budgets:
            _budgets[key] = DecodeBudget(capacity_bytes=key[0], wait_seconds=key[1])
        return _budgets[key]


# The name and bytes of the original that image_upload has just stored, while it
# queues the render. A task backend that runs the render at once, in this very
# call, finds the bytes here instead of downloading the file it has just
# uploaded (a round trip to S3 in production); a worker process never sees them.
_just_stored: ContextVar[tuple[str, bytes] | None] = ContextVar("just_stored", default=None)


@contextmanager
def original_at_hand(*, name: str, data: bytes) -> Iterator[None]:
    """Within this block, a render of the original stored as `name` reads `data`, not the file."""
    token = _just_stored.set((name, data))
    try:
        yield
    finally:
        _just_stored.reset(token)


def _original_bytes(original: Rendition) -> bytes:
    just_stored = _just_stored.get()
    if just_stored is not None and just_stored[0] == original.file.name:
        return just_stored[1]
    with original.file.open("rb") as stored:
        return stored.read()


def thumbnails_render(*, image_id: int) -> list[Rendition]:
    """Make the thumbnails the owner's current tier wants and the image lacks.

    The image row stays locked while rendering, so two workers given the same
    image cannot both write its thumbnails.
    """
    saved: list[str] = []
    try:
        with transaction.atomic():
            try:
                image = (
                    Image.objects.select_for_update().select_related("owner__tier").get(pk=image_id)
                )
            except Image.DoesNotExist:
                return []  # deleted before its turn came
            renditions = list(image.renditions.all())
            missing = access.missing_heights(renditions, image.owner.tier)
            created: list[Rendition] = []
            if missing:
                original = next(r for r in renditions if r.is_original)
                thumbnails = pipeline.render(
                    _original_bytes(original),
                    missing,
                    max_pixels=settings.SMALLIMAGE_MAX_IMAGE_PIXELS,
                    # Busy: the image is marked failed and can be retried.
                    budget=decode_budget(),
                )
                for thumbnail in thumbnails.values():
                    name = file_store(
                        folder="thumbnails", extension=thumbnail.extension, data=thumbnail.data
                    )
                    saved.append(name)
                    created.append(
                        Rendition(
                            image=image,
                            thumbnail_height=thumbnail.height_requested,
                            width=thumbnail.width,
                            height=thumbnail.height,
                            file=name,
                            content_type=thumbnail.content_type,
                        )
                    )
                Rendition.objects.bulk_create(created)
            if image.status != Image.Status.READY:
                image.status = Image.Status.READY
                image.save(update_fields=["status"])
            return created
    except Exception:
        files_delete_quietly(saved)
        raise


def image_mark_failed(*, image_id: int) -> None:
    Image.objects.filter(pk=image_id).update(status=Image.Status.FAILED)
