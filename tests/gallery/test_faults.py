"""Faults injected into storage, database and worker: the user is told, nothing is lost.

After each, `gallery_check` must find the database and the storage in agreement.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from gallery import services
from gallery.errors import StorageUnavailable
from gallery.models import Image, Rendition
from gallery.storage import SignedFileSystemStorage

ROOT = Path(__file__).resolve().parents[2]
HTMX = {"HTTP_HX_REQUEST": "true"}


class FaultyStorage(SignedFileSystemStorage):
    """The real local storage, which fails the operations a test arms."""

    faults: dict[str, Callable[[str], bool]] = {}

    def _fail_if_armed(self, operation: str, name: str) -> None:
        should_fail = self.faults.get(operation)
        if should_fail and should_fail(name):
            raise OSError(f"injected fault: {operation} {name}")

    def _save(self, name, content):
        self._fail_if_armed("save", name)
        # The ignore: django-stubs leave out Storage._save, which Storage.save calls.
        return super()._save(name, content)  # type: ignore[misc]

    def delete(self, name):
        self._fail_if_armed("delete", name)
        return super().delete(name)


@pytest.fixture
def faults(settings) -> Iterator[dict[str, Callable[[str], bool]]]:
    """Arm faults by operation: faults["save"] = lambda name: ... -> True to fail."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": f"{__name__}.FaultyStorage",
            "OPTIONS": {"location": settings.MEDIA_ROOT},
        },
    }
    FaultyStorage.faults = {}
    yield FaultyStorage.faults
    FaultyStorage.faults = {}


def after(count: int, prefix: str) -> Callable[[str], bool]:
    """A fault that lets `count` saves under `prefix` through, then fails the rest."""
    seen = []

    def fails(name: str) -> bool:
        if not name.startswith(prefix):
            return False
        seen.append(name)
        return len(seen) > count

    return fails


def assert_consistent(media_files) -> None:
    call_command("gallery_check", "--grace", "0")  # raises CommandError on a mismatch
    assert sorted(media_files()) == sorted(Rendition.objects.values_list("file", flat=True))


pytestmark = pytest.mark.django_db


def test_storage_failing_on_the_original(faults, basic_user, login, jpeg_upload, media_files):
    faults["save"] = after(0, "originals/")
    response = login(basic_user).post(
        reverse("gallery:image_upload"), {"files": jpeg_upload(name="a.jpg")}, **HTMX
    )
    assert response.status_code == 503
    assert "We could not store your image just now" in response.content.decode()
    assert not Image.objects.exists()
    assert_consistent(media_files)


def test_storage_failing_on_the_original_through_the_api(
    faults, basic_user, jpeg_upload, media_files
):
    faults["save"] = after(0, "originals/")
    api = APIClient()
    api.force_authenticate(basic_user)
    response = api.post("/api/v1/images/", {"file": jpeg_upload()}, format="multipart")
    assert response.status_code == 503
    assert "could not store" in response.json()["detail"]
    assert_consistent(media_files)


def test_storage_failing_on_the_second_thumbnail(
    faults, premium_user, login, jpeg_upload, media_files
):
    faults["save"] = after(1, "thumbnails/")
    client = login(premium_user)
    response = client.post(reverse("gallery:image_upload"), {"files": jpeg_upload()}, **HTMX)
    assert response.status_code == 201  # the upload itself worked
    image = Image.objects.get()
    assert image.status == Image.Status.FAILED
    assert "could not be made" in response.content.decode()
    assert_consistent(media_files)
    assert len(media_files()) == 1  # the original; the first thumbnail was taken back

    faults.clear()
    client.post(reverse("gallery:image_retry", args=[image.public_id]), **HTMX)
    image.refresh_from_db()
    assert image.status == Image.Status.READY
    assert len(media_files()) == 3
    assert_consistent(media_files)


def test_storage_failing_while_deleting(faults, premium_user, login, jpeg_upload, media_files):
    image = services.image_upload(owner=premium_user, file=jpeg_upload())
    faults["delete"] = lambda name: name.startswith("originals/")
    client = login(premium_user)
    url = reverse("gallery:image_delete", args=[image.public_id])
    response = client.post(url, **HTMX)
    assert response.status_code == 503
    assert "could not delete this image just now" in response.content.decode()
    assert Image.objects.filter(pk=image.pk).exists()
    assert_consistent(media_files)  # thumbnails went with their rows; the original stays

    faults.clear()
    assert client.post(url, **HTMX).status_code == 200
    assert not Image.objects.exists()
    assert media_files() == []
    assert_consistent(media_files)


def test_database_failing_after_the_thumbnails_were_written(
    premium_user, jpeg_upload, media_files, monkeypatch
):
    def fail(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(Rendition.objects, "bulk_create", fail)
    image = services.image_upload(owner=premium_user, file=jpeg_upload())
    image.refresh_from_db()
    assert image.status == Image.Status.FAILED
    assert_consistent(media_files)


def test_delete_service_reports_storage_errors(faults, basic_user, jpeg_upload):
    image = services.image_upload(owner=basic_user, file=jpeg_upload())
    faults["delete"] = lambda name: True
    with pytest.raises(StorageUnavailable):
        services.image_delete(image=image)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="a second process needs a server")
def test_worker_dying_mid_render_is_found_and_repaired(
    premium_user, jpeg_upload, media_files, settings
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    image = services.image_upload(owner=premium_user, file=jpeg_upload(1600, 1200))
    database = connection.settings_dict
    environment = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@/{database['NAME']}"
        f"?host={database['HOST']}&port={database['PORT']}",
        "SMALLIMAGE_MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    # A worker process that dies (no cleanup, no rollback handler) right after
    # writing its first thumbnail.
    script = f"""
import os, sys
sys.path[:0] = [".", "site"]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
import django
django.setup()
from django.core.files.storage import default_storage
from gallery import tasks
real_save = default_storage._save
def save_then_die(name, content):
    saved = real_save(name, content)
    if name.startswith("thumbnails/"):
        os._exit(137)
    return saved
default_storage._save = save_then_die
tasks.render_thumbnails.call({image.pk})
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=environment)
    assert result.returncode == 137

    image.refresh_from_db()
    assert image.status == Image.Status.PROCESSING
    assert len(media_files()) == 2  # the original and an orphaned thumbnail
    with pytest.raises(CommandError, match="2 problem"):
        call_command("gallery_check", "--grace", "0")

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    call_command("gallery_check", "--grace", "0", "--repair")
    image.refresh_from_db()
    assert image.status == Image.Status.READY
    assert len(media_files()) == 3
    assert_consistent(media_files)


class TestGalleryCheck:
    def test_reports_and_repairs_a_file_without_a_row(
        self, basic_user, jpeg_upload, settings, media_files
    ):
        services.image_upload(owner=basic_user, file=jpeg_upload())
        stray = settings.MEDIA_ROOT / "thumbnails" / "stray.jpg"
        stray.write_bytes(b"left behind")
        with pytest.raises(CommandError, match="1 problem"):
            call_command("gallery_check", "--grace", "0")
        call_command("gallery_check", "--grace", "3600")  # too recent to judge: clean
        call_command("gallery_check", "--grace", "0", "--repair")
        assert not stray.exists()
        assert_consistent(media_files)

    def test_repairs_a_missing_thumbnail_by_rendering_it_again(
        self, premium_user, jpeg_upload, settings, media_files
    ):
        image = services.image_upload(owner=premium_user, file=jpeg_upload())
        thumbnail = image.renditions.get(thumbnail_height=400)
        (settings.MEDIA_ROOT / thumbnail.file.name).unlink()
        with pytest.raises(CommandError, match="1 problem"):
            call_command("gallery_check", "--grace", "0")
        call_command("gallery_check", "--grace", "0", "--repair")
        assert sorted(r.thumbnail_height or 0 for r in image.renditions.all()) == [0, 200, 400]
        assert_consistent(media_files)

    def test_an_image_whose_original_is_gone_is_removed(
        self, premium_user, jpeg_upload, settings, media_files
    ):
        image = services.image_upload(owner=premium_user, file=jpeg_upload())
        (settings.MEDIA_ROOT / image.renditions.get(thumbnail_height=None).file.name).unlink()
        call_command("gallery_check", "--grace", "0", "--repair")
        assert not Image.objects.exists()
        assert media_files() == []

    def test_a_render_claim_older_than_the_grace_is_released_and_rendered_again(
        self, basic_user, jpeg_upload, media_files
    ):
        image = services.image_upload(owner=basic_user, file=jpeg_upload())
        tier = basic_user.tier
        tier.thumbnail_heights = [200, 300]
        tier.save()
        # A backfill render that died: the image is ready, its claim never ended.
        Image.objects.filter(pk=image.pk).update(
            render_claim="dead", render_claimed_at=timezone.now()
        )
        call_command("gallery_check", "--grace", "3600")  # may still be rendering: clean
        with pytest.raises(CommandError, match="1 problem"):
            call_command("gallery_check", "--grace", "0")
        call_command("gallery_check", "--grace", "0", "--repair")
        image.refresh_from_db()
        assert (image.render_claim, image.render_claimed_at) == ("", None)
        assert sorted(r.thumbnail_height or 0 for r in image.renditions.all()) == [0, 200, 300]
        assert_consistent(media_files)
