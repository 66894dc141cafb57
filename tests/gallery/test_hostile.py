"""Hostile and tricky uploads through the browser and the API."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image as PILImage
from rest_framework.test import APIClient

from gallery.models import Image
from tests.gallery import hostile, images

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
PAYLOADS = [b"<?php", b"<script", b"<html", b"PK\x03\x04"]
REFUSED = hostile.refused()
ACCEPTED = hostile.accepted()


def as_upload(name: str, data: bytes, content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, data, content_type)


@pytest.mark.parametrize("case", REFUSED, ids=lambda case: case.name)
def test_refused_in_the_browser(case, basic_user, login, media_files):
    response = login(basic_user).post(
        reverse("gallery:image_upload"),
        {"files": as_upload(case.name, case.data, case.content_type)},
        **HTMX,
    )
    assert response.status_code == 400
    assert case.message in response.content.decode()
    assert not Image.objects.exists()
    assert media_files() == []


@pytest.mark.parametrize("case", REFUSED, ids=lambda case: case.name)
def test_refused_by_the_api(case, basic_user, media_files):
    api = APIClient()
    api.force_authenticate(basic_user)
    response = api.post(
        "/api/v1/images/",
        {"file": as_upload(case.name, case.data, case.content_type)},
        format="multipart",
    )
    assert response.status_code == 400
    assert case.message in response.json()["file"][0]
    assert not Image.objects.exists()
    assert media_files() == []


def pixels(data: bytes) -> tuple[str, tuple[int, int], bytes]:
    """The first picture's decoded pixels (the only one an MPO's original keeps)."""
    with PILImage.open(io.BytesIO(data)) as opened:
        return opened.mode, opened.size, opened.tobytes()


def close_to(actual, expected, tolerance: int = 10) -> bool:
    actual = actual if isinstance(actual, tuple) else (actual,)
    return len(actual) == len(expected) and all(
        abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True)
    )


# app2-mpf.jpg: Pillow warns of an MPF index with no pictures after the first.
@pytest.mark.filterwarnings("ignore:Image appears to be a malformed MPO file")
@pytest.mark.parametrize("case", ACCEPTED, ids=lambda case: case.name[:40])
def test_accepted_and_clean(case, premium_user, login, settings, media_files):
    response = login(premium_user).post(
        reverse("gallery:image_upload"), {"files": as_upload(case.name, case.data)}, **HTMX
    )
    assert response.status_code == 201, response.content.decode()
    image = Image.objects.get()
    assert image.status == Image.Status.READY
    if case.size:
        assert (image.width, image.height) == case.size
    label = image.name
    assert len(label) <= 255 and "/" not in label and "\x00" not in label
    assert "\u202e" not in label

    for rendition in image.renditions.all():
        stored = (settings.MEDIA_ROOT / rendition.file.name).read_bytes()
        assert not any(payload in stored for payload in PAYLOADS), rendition.key
        if rendition.is_original:
            assert pixels(stored) == pixels(case.data)  # cleaned losslessly
        assert b"GPSLatitude" not in stored and b"<x:xmpmeta" not in stored, rendition.key
        with PILImage.open(io.BytesIO(stored)) as opened:
            assert not opened.getexif().get_ifd(images.GPS_IFD_TAG), rendition.key
            if not rendition.is_original:
                assert not opened.getexif(), rendition.key
                assert not {"comment", "xmp", "exif"} & set(opened.info), rendition.key
                assert not getattr(opened, "text", {}), rendition.key

    thumbnail = image.renditions.get(thumbnail_height=200)
    assert thumbnail.height == 200
    if case.probe:
        with thumbnail.file.open("rb") as file, PILImage.open(file) as opened:
            x = min(opened.width - 1, int(case.probe[0] * opened.width))
            y = min(opened.height - 1, int(case.probe[1] * opened.height))
            assert close_to(opened.getpixel((x, y)), case.colour), opened.getpixel((x, y))


def test_one_byte_over_the_size_limit(basic_user, settings, media_files):
    data = images.jpeg_bytes(120, 90)
    api = APIClient()
    api.force_authenticate(basic_user)
    settings.SMALLIMAGE_MAX_UPLOAD_BYTES = len(data) - 1
    refused = api.post("/api/v1/images/", {"file": as_upload("a.jpg", data)}, format="multipart")
    assert refused.status_code == 400
    assert "larger than the limit" in refused.json()["file"][0]
    assert media_files() == []
    settings.SMALLIMAGE_MAX_UPLOAD_BYTES = len(data)
    accepted = api.post("/api/v1/images/", {"file": as_upload("a.jpg", data)}, format="multipart")
    assert accepted.status_code == 201


def test_just_over_the_pixel_limit(basic_user, login, settings, media_files):
    settings.SMALLIMAGE_MAX_IMAGE_PIXELS = 300 * 200 - 1
    response = login(basic_user).post(
        reverse("gallery:image_upload"),
        {"files": as_upload("big.png", images.png_bytes(300, 200))},
        **HTMX,
    )
    assert response.status_code == 400
    assert "megapixels" in response.content.decode()
    assert media_files() == []
