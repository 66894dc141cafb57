"""Making the thumbnails an image lacks: what the render task runs.

Only the task module calls ``thumbnails_render``; services ask for a render by
enqueueing that task, so this module imports neither of them.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from gallery import access, pipeline
from gallery.decode_budget import DecodeBudget
from gallery.files import file_store, files_delete_quietly
from gallery.models import Image, Rendition

logger = logging.getLogger(__name__)

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
        data: bytes = stored.read()
        return data


# How long a render's claim keeps other workers off an image. Far above the
# slowest render (seconds for a 50 MP source), so a live claim does not
# expire; a worker that died mid-render is replaced once it has (any render
# queued for the image then takes over). `manage.py gallery_check --repair`
# releases claims older than its --grace, which by default is longer still.
RENDER_LEASE = timedelta(minutes=10)
# Rounds of rendering one call makes when the tier changes while it renders.
MAX_ROUNDS = 3


@dataclass(frozen=True, slots=True)
class _Work:
    original: Rendition
    heights: list[int]


def thumbnails_render(*, image_id: int) -> list[Rendition]:
    """Make the thumbnails the owner's current tier wants and the image lacks.

    No transaction is held while decoding and storing (on SQLite one would
    stop every other write): a short one claims the image, so two workers
    given the same image do not both render it, and another writes the rows,
    looking again at what the image and its tier want by then.
    """
    claim = secrets.token_hex(16)
    created: list[Rendition] = []
    for _ in range(MAX_ROUNDS):
        work = _claim(image_id=image_id, claim=claim)
        if work is None:
            break  # nothing missing, claimed by another worker, or deleted
        saved: list[str] = []
        try:
            thumbnails = pipeline.render(
                _original_bytes(work.original),
                work.heights,
                max_pixels=settings.SMALLIMAGE_MAX_IMAGE_PIXELS,
                # Busy: the image is marked failed and can be retried.
                budget=decode_budget(),
            )
            for thumbnail in thumbnails.values():
                saved.append(
                    file_store(
                        folder="thumbnails", extension=thumbnail.extension, data=thumbnail.data
                    )
                )
            written, still_missing = _write(
                image_id=image_id, claim=claim, thumbnails=list(thumbnails.values()), names=saved
            )
        except BaseException:
            # BaseException too: a worker told to exit (SystemExit) or a request
            # cut short must not leave files without rows or a live-looking claim.
            files_delete_quietly(saved)
            _release(image_id=image_id, claim=claim)
            raise
        # Thumbnails nobody wants any more (image deleted, tier changed): no file without its row.
        files_delete_quietly(set(saved) - {r.file.name for r in written})
        created.extend(written)
        if not still_missing:
            break
    return created


def _claim(*, image_id: int, claim: str) -> _Work | None:
    """Claim the image for this render if it lacks thumbnails and no live render has it."""
    now = timezone.now()
    with transaction.atomic():
        claimed = (
            Image.objects.filter(pk=image_id)
            .filter(
                Q(render_claim="")
                | Q(render_claim=claim)
                | Q(render_claimed_at__lt=now - RENDER_LEASE)
            )
            .update(render_claim=claim, render_claimed_at=now)
        )
        if not claimed:
            return None  # deleted, or another worker is rendering it
        image = Image.objects.select_related("owner__tier").get(pk=image_id)
        renditions = list(image.renditions.all())
        missing = access.missing_heights(renditions, image.owner.tier)
        if missing:
            return _Work(
                original=next(r for r in renditions if r.is_original), heights=sorted(missing)
            )
        image.render_claim, image.render_claimed_at = "", None
        image.status = Image.Status.READY
        image.save(update_fields=["render_claim", "render_claimed_at", "status"])
        return None


def _write(
    *, image_id: int, claim: str, thumbnails: list[pipeline.Thumbnail], names: list[str]
) -> tuple[list[Rendition], list[int]]:
    """Add rows for the thumbnails the image still lacks; the rows, and what is still missing."""
    with transaction.atomic():
        # Locks only the image row (not its owner's), until the rows are in.
        image = (
            Image.objects.select_for_update(of=("self",))
            .select_related("owner__tier")
            .filter(pk=image_id)
            .first()
        )
        if image is None:
            return [], []  # deleted while rendering
        missing = access.missing_heights(list(image.renditions.all()), image.owner.tier)
        created = [
            Rendition(
                image=image,
                thumbnail_height=thumbnail.height_requested,
                width=thumbnail.width,
                height=thumbnail.height,
                file=name,
                content_type=thumbnail.content_type,
            )
            for thumbnail, name in zip(thumbnails, names, strict=True)
            if thumbnail.height_requested in missing
        ]
        Rendition.objects.bulk_create(created)
        image.status = Image.Status.READY
        if image.render_claim == claim:
            image.render_claim, image.render_claimed_at = "", None
        image.save(update_fields=["render_claim", "render_claimed_at", "status"])
        done = {r.thumbnail_height for r in created}
        return created, sorted(missing - done)


def _release(*, image_id: int, claim: str) -> None:
    """Give up this render's claim so that a retry need not wait for the lease."""
    try:
        Image.objects.filter(pk=image_id, render_claim=claim).update(
            render_claim="", render_claimed_at=None
        )
    except Exception:
        # The lease expires on its own; the error that brought us here matters more.
        logger.exception("Could not release the render claim of image %s", image_id)


def render_claim_release(*, image_id: int, claimed_at: datetime) -> bool:
    """End the claim taken at `claimed_at`, if nobody has claimed the image since."""
    return bool(
        Image.objects.filter(pk=image_id, render_claimed_at=claimed_at).update(
            render_claim="", render_claimed_at=None
        )
    )


def image_mark_failed(*, image_id: int) -> None:
    Image.objects.filter(pk=image_id).update(status=Image.Status.FAILED)
