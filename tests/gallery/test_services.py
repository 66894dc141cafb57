from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage

from gallery import rendering, services
from gallery.errors import DecoderBusy, InvalidImage, InvalidLink, RenditionNotAllowed
from gallery.models import Image, Rendition
from tests.gallery import images

pytestmark = pytest.mark.django_db


def heights(image: Image) -> list[int | None]:
    return sorted(
        (r.thumbnail_height for r in image.renditions.all()), key=lambda h: (h is not None, h)
    )


def test_upload_stores_original_and_the_tiers_thumbnails(premium_user, jpeg_upload, media_files):
    image = services.image_upload(owner=premium_user, file=jpeg_upload(800, 600))
    image.refresh_from_db()

    assert image.status == Image.Status.READY
    assert (image.width, image.height, image.content_type) == (800, 600, "image/jpeg")
    assert heights(image) == [None, 200, 400]
    stored = {r.file_name for r in image.renditions.all()}
    assert stored == set(media_files())
    for rendition in image.renditions.filter(thumbnail_height__isnull=False):
        with rendition.file.open("rb") as file, PILImage.open(file) as thumbnail:
            assert thumbnail.height == rendition.thumbnail_height
            assert thumbnail.width == round(800 * rendition.thumbnail_height / 600)


def test_stored_names_are_generated_not_the_users(basic_user, media_files):
    upload = SimpleUploadedFile("../../etc/passwd.png", images.png_bytes(50, 50), "image/png")
    image = services.image_upload(owner=basic_user, file=upload)
    assert image.name == "passwd.png"
    assert all("passwd" not in name for name in media_files())
    assert all(name.startswith(("originals/", "thumbnails/")) for name in media_files())


@pytest.mark.parametrize(
    ("filename", "label"),
    [
        ("holiday.jpg", "holiday.jpg"),
        ("C:\\Users\\me\\cat.png", "cat.png"),
        ("evil\u202egnp.exe", "evilgnp.exe"),
        ("name\x00.png", "name.png"),
        ("", "image"),
        ("x" * 300 + ".png", "x" * 250 + "….png"),
    ],
)
def test_clean_label(filename, label):
    assert services.clean_label(filename) == label


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"#!/bin/sh\necho hi\n", "PNG"),
        (images.gif_bytes(), "PNG"),
        (
            images.with_png_chunks(images.png_bytes(), images.png_chunk(b"ZZZZ", b"<script>")),
            r"damaged: it holds a PNG chunk \(ZZZZ\)",
        ),
    ],
    ids=["empty", "script", "gif", "unknown-critical-png-chunk"],
)
def test_invalid_upload_leaves_nothing(basic_user, media_files, content, message):
    with pytest.raises(InvalidImage, match=message):
        services.image_upload(
            owner=basic_user, file=SimpleUploadedFile("x.png", content, "image/png")
        )
    assert not Image.objects.exists()
    assert media_files() == []


def test_upload_over_the_byte_limit_is_refused(basic_user, settings, media_files):
    data = images.png_bytes(80, 80)
    settings.SMALLIMAGE_MAX_UPLOAD_BYTES = len(data) - 1
    with pytest.raises(InvalidImage, match="larger than the limit"):
        services.image_upload(owner=basic_user, file=SimpleUploadedFile("a.png", data))
    settings.SMALLIMAGE_MAX_UPLOAD_BYTES = len(data)
    services.image_upload(owner=basic_user, file=SimpleUploadedFile("a.png", data))
    assert Image.objects.count() == 1


def test_upload_over_the_pixel_limit_is_refused(basic_user, settings, media_files):
    settings.SMALLIMAGE_MAX_IMAGE_PIXELS = 100 * 100
    upload = SimpleUploadedFile("big.png", images.png_bytes(101, 100))
    with pytest.raises(InvalidImage, match="megapixel"):
        services.image_upload(owner=basic_user, file=upload)
    assert media_files() == []


def test_database_failure_after_storing_removes_the_file(
    basic_user, jpeg_upload, media_files, monkeypatch
):
    def fail(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(Rendition.objects, "create", fail)
    with pytest.raises(RuntimeError):
        services.image_upload(owner=basic_user, file=jpeg_upload())
    assert not Image.objects.exists()
    assert media_files() == []


def test_render_failure_marks_image_failed_and_keeps_no_partial_thumbnails(
    premium_user, jpeg_upload, media_files, monkeypatch
):
    from gallery import pipeline

    def broken_render(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pipeline, "render", broken_render)
    image = services.image_upload(owner=premium_user, file=jpeg_upload())
    image.refresh_from_db()
    assert image.status == Image.Status.FAILED
    assert heights(image) == [None]
    assert media_files() == [image.renditions.get().file.name]


def test_render_is_idempotent(premium_user, jpeg_upload, media_files):
    image = services.image_upload(owner=premium_user, file=jpeg_upload())
    files_before = media_files()
    assert rendering.thumbnails_render(image_id=image.pk) == []
    assert media_files() == files_before


def test_tier_gaining_a_height_backfills_missing_thumbnails(
    basic_user, jpeg_upload, django_capture_on_commit_callbacks
):
    image = services.image_upload(owner=basic_user, file=jpeg_upload(900, 900))
    assert heights(image) == [None, 200]
    tier = basic_user.tier
    tier.thumbnail_heights = [200, 300]
    tier.save()
    with django_capture_on_commit_callbacks(execute=True):
        services.tier_thumbnails_changed(tier=tier)
    assert heights(image) == [None, 200, 300]


def test_user_upgrade_backfills_missing_thumbnails(
    basic_user, tier, jpeg_upload, django_capture_on_commit_callbacks
):
    image = services.image_upload(owner=basic_user, file=jpeg_upload(900, 900))
    basic_user.tier = tier("Premium")
    basic_user.save()
    with django_capture_on_commit_callbacks(execute=True):
        services.user_tier_changed(user=basic_user)
    assert heights(image) == [None, 200, 400]


def test_delete_removes_rows_and_every_file(premium_user, jpeg_upload, media_files):
    image = services.image_upload(owner=premium_user, file=jpeg_upload())
    kept = services.image_upload(owner=premium_user, file=jpeg_upload())
    assert len(media_files()) == 6
    services.image_delete(image=image)
    assert not Image.objects.filter(pk=image.pk).exists()
    assert not Rendition.objects.filter(image_id=image.pk).exists()
    assert media_files() == sorted(r.file_name for r in kept.renditions.all())


class TestLinkCreate:
    START = 1_800_000_000

    def test_enterprise_link_expires_exactly(self, enterprise_user, jpeg_upload):
        image = services.image_upload(owner=enterprise_user, file=jpeg_upload())
        with time_machine.travel(self.START, tick=False):
            link = services.link_create(image=image, rendition="400", expires_in=300)
        assert link.expires_at == datetime.fromtimestamp(self.START + 300, tz=UTC)
        assert f"expires={self.START + 300}" in link.url
        assert link.rendition.thumbnail_height == 400

    @pytest.mark.parametrize("seconds", [300, 30000])
    def test_bounds_are_inclusive(self, enterprise_user, jpeg_upload, seconds):
        image = services.image_upload(owner=enterprise_user, file=jpeg_upload())
        assert services.link_create(image=image, rendition="original", expires_in=seconds)

    @pytest.mark.parametrize("seconds", [0, 299, 30001, -5])
    def test_out_of_range_is_refused(self, enterprise_user, jpeg_upload, seconds):
        image = services.image_upload(owner=enterprise_user, file=jpeg_upload())
        with pytest.raises(InvalidLink, match="between 300 and 30000 seconds"):
            services.link_create(image=image, rendition="200", expires_in=seconds)

    def test_tier_without_expiring_links_is_refused(self, premium_user, jpeg_upload):
        image = services.image_upload(owner=premium_user, file=jpeg_upload())
        with pytest.raises(RenditionNotAllowed, match="expiring links"):
            services.link_create(image=image, rendition="200", expires_in=600)

    def test_rendition_outside_the_tier_is_refused(self, enterprise_user, tier, jpeg_upload):
        image = services.image_upload(owner=enterprise_user, file=jpeg_upload())
        custom = tier("Enterprise")
        custom.thumbnail_heights = [200]
        custom.can_link_original = False
        custom.save()
        image = Image.objects.select_related("owner__tier").get(pk=image.pk)
        with pytest.raises(RenditionNotAllowed, match="400 px"):
            services.link_create(image=image, rendition="400", expires_in=600)
        with pytest.raises(RenditionNotAllowed, match="original"):
            services.link_create(image=image, rendition="original", expires_in=600)
        with pytest.raises(RenditionNotAllowed):
            services.link_create(image=image, rendition="abc", expires_in=600)


def test_original_loses_gps_but_keeps_orientation(basic_user, settings):
    data = images.to_jpeg(images.photo_like(300, 200), exif=images.gps_exif(orientation=6))
    image = services.image_upload(owner=basic_user, file=SimpleUploadedFile("gps.jpg", data))
    original = image.renditions.get(thumbnail_height=None)
    with original.file.open("rb") as stored, PILImage.open(stored) as opened:
        exif = opened.getexif()
        assert exif.get(0x0112) == 6
        assert not exif.get_ifd(images.GPS_IFD_TAG)
    assert (image.width, image.height) == (200, 300)
    assert image.size_bytes == original.file.size
    with original.file.open("rb") as stored:
        assert stored.read() != data  # GPS zeroed in place: same length, other bytes


def test_original_keeps_gps_when_configured(basic_user, settings):
    settings.SMALLIMAGE_KEEP_LOCATION = True
    data = images.to_jpeg(images.photo_like(300, 200), exif=images.gps_exif())
    image = services.image_upload(owner=basic_user, file=SimpleUploadedFile("gps.jpg", data))
    with image.renditions.get(thumbnail_height=None).file.open("rb") as stored:
        assert stored.read() == data


def test_polyglot_payload_is_not_stored(premium_user, media_files, settings):
    payload = b"<?php system($_GET['c']); ?><html><script>alert(1)</script></html>"
    data = images.to_jpeg(images.photo_like(300, 200)) + payload
    services.image_upload(owner=premium_user, file=SimpleUploadedFile("poly.jpg", data))
    for name in media_files():
        stored = (settings.MEDIA_ROOT / name).read_bytes()
        assert b"<?php" not in stored and b"<script" not in stored


def test_upload_while_decodes_are_busy_is_refused_and_leaves_nothing(
    basic_user, jpeg_upload, media_files, busy_decoder
):
    with pytest.raises(DecoderBusy) as refused:
        services.image_upload(owner=basic_user, file=jpeg_upload())
    assert refused.value.status_code == 503
    assert refused.value.retry_after == 1
    assert "busy" in str(refused.value)
    assert not Image.objects.exists()
    assert media_files() == []


def test_render_while_decodes_are_busy_marks_the_image_failed(premium_user, jpeg_upload, settings):
    image = services.image_upload(owner=premium_user, file=jpeg_upload())
    image.renditions.filter(thumbnail_height__isnull=False).delete()
    Image.objects.filter(pk=image.pk).update(status=Image.Status.FAILED)
    image.refresh_from_db()
    settings.SMALLIMAGE_DECODE_WAIT_SECONDS = 0
    budget = rendering.decode_budget()
    with budget.reserve(budget.capacity_bytes):
        services.image_retry(image=image)
    image.refresh_from_db()
    assert image.status == Image.Status.FAILED
    assert heights(image) == [None]
    # Once there is room, retrying makes the thumbnails.
    services.image_retry(image=image)
    image.refresh_from_db()
    assert image.status == Image.Status.READY
    assert heights(image) == [None, 200, 400]
