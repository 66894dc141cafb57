"""Do the database and the file storage agree? Find, and repair, where they do not.

A crash (a worker killed mid-render, a machine lost mid-upload) can leave a
stored file whose row was never committed, or a row whose file is gone. The
services prevent this for every failure they see; this finds what they could
not see. Recent files are left alone: an upload may be between its file and
its row right now.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.files.storage import default_storage
from django.db.models import Q
from django.utils import timezone

from gallery import rendering, services, tasks
from gallery.models import Image, Rendition

logger = logging.getLogger(__name__)

FOLDERS = ("originals", "thumbnails")


@dataclass
class Report:
    orphan_files: list[str] = field(default_factory=list)
    missing_files: list[Rendition] = field(default_factory=list)
    stuck_images: list[Image] = field(default_factory=list)

    @property
    def problems(self) -> int:
        return len(self.orphan_files) + len(self.missing_files) + len(self.stuck_images)

    def lines(self) -> list[str]:
        return [
            *(f"file without a row: {name}" for name in self.orphan_files),
            *(
                f"row without its file: image {r.image.public_id} ({r.key}): {r.file.name}"
                for r in self.missing_files
            ),
            *(_stuck_line(image) for image in self.stuck_images),
        ]


def _stuck_line(image: Image) -> str:
    if image.render_claimed_at is not None:
        # A render claimed it and never finished: its worker died, or is still at it.
        return (
            f"render claimed at {image.render_claimed_at:%Y-%m-%d %H:%M:%S} never finished: "
            f"{image.public_id}"
        )
    return f"image still processing since {image.created_at:%Y-%m-%d %H:%M:%S}: {image.public_id}"


def _stored_names() -> set[str]:
    names: set[str] = set()
    for folder in FOLDERS:
        try:
            _, files = default_storage.listdir(folder)
        except FileNotFoundError:
            continue  # nothing was ever stored there
        names.update(f"{folder}/{name}" for name in files)
    return names


def _modified_before(name: str, moment: datetime) -> bool:
    try:
        return default_storage.get_modified_time(name) < moment
    except (FileNotFoundError, NotImplementedError):
        return False


def integrity_check(*, grace: timedelta = timedelta(hours=1)) -> Report:
    """What disagrees, leaving alone whatever changed within `grace`."""
    settled = timezone.now() - grace
    # Rows first, files second: a file saved in between looks orphaned, and
    # the grace period protects it.
    renditions = list(Rendition.objects.select_related("image"))
    stored = _stored_names()
    known = {rendition.file.name for rendition in renditions}
    return Report(
        orphan_files=sorted(name for name in stored - known if _modified_before(name, settled)),
        missing_files=[
            rendition
            for rendition in renditions
            if rendition.file_name not in stored and not default_storage.exists(rendition.file_name)
        ],
        stuck_images=list(
            Image.objects.filter(
                Q(status=Image.Status.PROCESSING, created_at__lt=settled)
                | Q(render_claimed_at__lt=settled)
            )
        ),
    )


def integrity_repair(report: Report) -> list[str]:
    """Make the database and the storage agree again; what was done, line by line."""
    done = []
    for image in report.stuck_images:
        # Older than the grace period: a dead worker's. With a grace shorter than
        # the render lease, releasing it spares the renders queued below the wait.
        if image.render_claimed_at is not None:
            rendering.render_claim_release(image_id=image.pk, claimed_at=image.render_claimed_at)
    for name in report.orphan_files:
        default_storage.delete(name)
        done.append(f"deleted file without a row: {name}")
    broken = {r.image_id: r.image for r in report.missing_files if r.is_original}
    for image in broken.values():
        # Without its original an image can be neither shown nor rendered again.
        done.append(f"deleted image {image.public_id}: its original file is gone")
        services.image_delete(image=image)
    for rendition in report.missing_files:
        if rendition.image_id in broken:
            continue
        rendition.delete()
        tasks.render_thumbnails.enqueue(image_id=rendition.image_id)
        done.append(f"rendering again: image {rendition.image.public_id} ({rendition.key})")
    for image in report.stuck_images:
        # Rendering is idempotent (its rows are written for what is still
        # missing), so queueing one too many is harmless.
        tasks.render_thumbnails.enqueue(image_id=image.pk)
        done.append(f"rendering again: image {image.public_id}")
    return done
