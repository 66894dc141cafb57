from __future__ import annotations

import re
from datetime import datetime

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.throttling import ScopedRateThrottle

from gallery import services
from gallery.models import Image
from gallery.storage import SignedFileSystemStorage
from tests.factories import UserFactory
from tests.gallery import images

pytestmark = pytest.mark.django_db

IMAGES = "/api/v1/images/"


def upload_file(name="photo.jpg", data=None, content_type="image/jpeg"):
    data = images.jpeg_bytes(640, 480) if data is None else data
    return SimpleUploadedFile(name, data, content_type)


@pytest.fixture
def stored(jpeg_upload):
    """A function storing an image for a user through the service."""
    return lambda user: services.image_upload(owner=user, file=jpeg_upload(800, 600))


class TestUpload:
    def test_upload_returns_the_image_with_its_links(self, api_as, premium_user):
        response = api_as(premium_user).post(
            IMAGES, {"file": upload_file("cat.jpg")}, format="multipart"
        )
        assert response.status_code == 201
        body = response.json()
        image = Image.objects.get()
        assert body["id"] == image.public_id and body["id"] != str(image.pk)
        assert (body["name"], body["width"], body["height"]) == ("cat.jpg", 640, 480)
        assert body["status"] == "ready"
        assert [link["rendition"] for link in body["links"]] == ["200", "400", "original"]
        assert all(link["url"].startswith("http://testserver/s/") for link in body["links"])

    @pytest.mark.parametrize(
        ("files", "message"),
        [
            ({}, "exactly one file"),
            ({"file": [upload_file(), upload_file()]}, "exactly one file"),
            ({"file": upload_file("x.png", b"<?php echo 1; ?>", "image/png")}, "not a PNG or JPEG"),
            ({"file": upload_file("x.gif", images.gif_bytes(), "image/gif")}, "not a PNG or JPEG"),
            ({"file": upload_file("empty.png", b"", "image/png")}, "empty"),
        ],
    )
    def test_bad_upload_names_the_field_and_stores_nothing(
        self, api_as, basic_user, media_files, files, message
    ):
        response = api_as(basic_user).post(IMAGES, files, format="multipart")
        assert response.status_code == 400
        assert message in response.json()["file"][0]
        assert not Image.objects.exists()
        assert media_files() == []

    def test_too_large_is_a_400(self, api_as, basic_user, settings, media_files):
        settings.SMALLIMAGE_MAX_UPLOAD_BYTES = 100
        response = api_as(basic_user).post(IMAGES, {"file": upload_file()}, format="multipart")
        assert response.status_code == 400
        assert "larger than the limit" in response.json()["file"][0]
        assert media_files() == []

    def test_upload_is_throttled(self, api_as, basic_user, settings):
        settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "upload": "2/m/user"}
        api = api_as(basic_user)
        statuses = [
            api.post(IMAGES, {"file": upload_file()}, format="multipart").status_code
            for _ in range(3)
        ]
        assert statuses == [201, 201, 429]
        assert api.get(IMAGES).status_code == 200  # listing is not an upload


class TestList:
    def test_newest_first_paginated_own_images_only(self, api_as, basic_user, stored):
        older, newer = stored(basic_user), stored(basic_user)
        stored(UserFactory.create())
        body = api_as(basic_user).get(IMAGES).json()
        assert body["count"] == 2
        assert [item["id"] for item in body["results"]] == [newer.public_id, older.public_id]
        page = api_as(basic_user).get(IMAGES, {"page_size": 1, "page": 2}).json()
        assert [item["id"] for item in page["results"]] == [older.public_id]

    def test_basic_payload_has_no_original_or_400(self, api_as, basic_user, stored):
        image = stored(basic_user)
        text = api_as(basic_user).get(IMAGES).content.decode()
        links = api_as(basic_user).get(IMAGES).json()["results"][0]["links"]
        assert [link["rendition"] for link in links] == ["200"]
        original = image.renditions.get(thumbnail_height=None)
        big = image.renditions.get(thumbnail_height=200)  # exists, but 400 never made
        assert original.share_token not in text
        assert "original" not in text and '"400"' not in text
        assert big.share_token in text

    def test_tier_change_shows_in_the_next_response(self, api_as, premium_user, tier, stored):
        image = stored(premium_user)
        api = api_as(premium_user)
        assert len(api.get(f"{IMAGES}{image.public_id}/").json()["links"]) == 3
        premium_user.tier = tier("Basic")
        premium_user.save()
        assert [
            link["rendition"] for link in api.get(f"{IMAGES}{image.public_id}/").json()["links"]
        ] == ["200"]

    def test_query_count_is_constant(
        self, api_as, enterprise_user, stored, django_assert_max_num_queries
    ):
        api = api_as(enterprise_user)
        stored(enterprise_user)
        with django_assert_max_num_queries(8) as few:
            api.get(IMAGES)
        for _ in range(10):
            stored(enterprise_user)
        with django_assert_max_num_queries(len(few.captured_queries)):
            assert len(api.get(IMAGES).json()["results"]) == 11


class TestDetailAndDelete:
    def test_another_users_image_is_404_like_a_missing_one(self, api_as, basic_user, stored):
        theirs = stored(UserFactory.create())
        api = api_as(basic_user)
        for url in [f"{IMAGES}{theirs.public_id}/", f"{IMAGES}does-not-exist/"]:
            assert api.get(url).status_code == 404
            assert api.delete(url).status_code == 404
            link = api.post(f"{url}links/", {"rendition": "200", "expires_in": 600})
            assert link.status_code == 404
        assert (
            api.get(f"{IMAGES}{theirs.public_id}/").json()
            == api.get(f"{IMAGES}does-not-exist/").json()
        )
        assert Image.objects.filter(pk=theirs.pk).exists()

    def test_delete_removes_image_and_files(self, api_as, basic_user, stored, media_files):
        image = stored(basic_user)
        response = api_as(basic_user).delete(f"{IMAGES}{image.public_id}/")
        assert response.status_code == 204
        assert not Image.objects.exists()
        assert media_files() == []


class TestLinks:
    START = 1_800_000_000

    def url(self, image):
        return f"{IMAGES}{image.public_id}/links/"

    def test_enterprise_link_expires_exactly_and_works(
        self, api_as, enterprise_user, stored, client
    ):
        image = stored(enterprise_user)
        with time_machine.travel(self.START, tick=False) as clock:
            response = api_as(enterprise_user).post(
                self.url(image), {"rendition": 400, "expires_in": 300}
            )
            assert response.status_code == 201
            body = response.json()
            assert datetime.fromisoformat(body["expires_at"]).timestamp() == self.START + 300
            assert body["rendition"] == "400"
            assert body["url"].startswith("http://testserver/files/thumbnails/")
            path = re.sub(r"^http://testserver", "", body["url"])
            clock.move_to(self.START + 299)
            assert client.get(path).status_code == 200
            clock.move_to(self.START + 300)
            assert client.get(path).status_code == 410

    @pytest.mark.parametrize(
        ("data", "field"),
        [
            ({"rendition": "200", "expires_in": 299}, "expires_in"),
            ({"rendition": "200", "expires_in": 30001}, "expires_in"),
            ({"rendition": "200", "expires_in": "soon"}, "expires_in"),
            ({"rendition": "200", "expires_in": 1.5}, "expires_in"),
            ({"rendition": "200"}, "expires_in"),
            ({"rendition": "thumbnail", "expires_in": 600}, "rendition"),
            ({"rendition": "-200", "expires_in": 600}, "rendition"),
            ({"expires_in": 600}, "rendition"),
        ],
    )
    def test_bad_input_is_400_naming_the_field(self, api_as, enterprise_user, stored, data, field):
        response = api_as(enterprise_user).post(self.url(stored(enterprise_user)), data)
        assert response.status_code == 400
        assert field in response.json()

    def test_tier_without_expiring_links_is_403(self, api_as, premium_user, stored):
        response = api_as(premium_user).post(
            self.url(stored(premium_user)), {"rendition": "200", "expires_in": 600}
        )
        assert response.status_code == 403
        assert "expiring links" in response.json()["detail"]

    def test_rendition_outside_the_tier_is_403(self, api_as, enterprise_user, tier, stored):
        image = stored(enterprise_user)
        enterprise = tier("Enterprise")
        enterprise.can_link_original = False
        enterprise.save()
        api = api_as(enterprise_user)
        assert (
            api.post(self.url(image), {"rendition": "original", "expires_in": 600}).status_code
            == 403
        )
        assert api.post(self.url(image), {"rendition": "800", "expires_in": 600}).status_code == 403


def test_link_creation_is_throttled(api_as, enterprise_user, stored, monkeypatch):
    rates = {**ScopedRateThrottle.THROTTLE_RATES, "links": "2/minute"}
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", rates)
    url = f"{IMAGES}{stored(enterprise_user).public_id}/links/"
    api = api_as(enterprise_user)
    statuses = [
        api.post(url, {"rendition": "200", "expires_in": 600}).status_code for _ in range(3)
    ]
    assert statuses == [201, 201, 429]
    assert "throttled" in api.post(url, {"rendition": "200", "expires_in": 600}).json()["detail"]


def test_api_list_signs_no_display_urls(api_as, premium_user, stored, monkeypatch):
    """The API hands out share links only; signing file URLs for it is wasted work."""
    stored(premium_user)
    signed = []
    real = SignedFileSystemStorage.url_until

    def counting(storage, name, expires_at):
        signed.append(name)
        return real(storage, name, expires_at)

    monkeypatch.setattr(SignedFileSystemStorage, "url_until", counting)
    assert api_as(premium_user).get(IMAGES).status_code == 200
    assert signed == []


def test_upload_while_decodes_are_busy_answers_503_with_retry_after(
    api_as, basic_user, media_files, busy_decoder
):
    response = api_as(basic_user).post(IMAGES, {"file": upload_file()}, format="multipart")
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert "busy" in response.json()["detail"]
    assert not Image.objects.exists()
    assert media_files() == []
