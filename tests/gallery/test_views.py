from __future__ import annotations

import re

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Tier
from gallery.models import Image
from tests.factories import ImageFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def share_links(html: str) -> list[str]:
    return re.findall(r'data-copy="([^"]+/s/[^"]+)"', html)


def copy_labels(html: str) -> list[str]:
    return re.findall(r'<span class="visually-hidden">Copy </span>([^<]+)<', html)


@pytest.fixture
def image_of():
    """A function giving a user an image as an upload leaves it (rows and placeholder files).

    These tests are about the views: what they show of stored images, not how an
    upload is decoded and rendered (TestUpload and tests/gallery/test_services.py).
    """
    return lambda user: ImageFactory.create(owner=user)


class TestGrid:
    def test_requires_sign_in(self, client):
        response = client.get(reverse("gallery:image_list"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))

    def test_shows_only_the_users_own_images_newest_first(self, basic_user, login, image_of):
        older = image_of(basic_user)
        newer = image_of(basic_user)
        image_of(UserFactory.create())
        html = login(basic_user).get(reverse("gallery:image_list")).content.decode()
        ids = re.findall(r'id="image-([\w-]+)"', html)
        assert ids == [newer.public_id, older.public_id]

    @pytest.mark.parametrize(
        ("tier_name", "labels"),
        [
            ("Basic", ["200 px"]),
            ("Premium", ["200 px", "400 px", "Original"]),
            ("Enterprise", ["200 px", "400 px", "Original"]),
        ],
    )
    def test_copy_links_follow_the_tier(self, login, image_of, tier_name, labels):
        user = UserFactory.create(tier=Tier.objects.get(name=tier_name))
        image_of(user)
        html = login(user).get(reverse("gallery:image_list")).content.decode()
        assert copy_labels(html) == labels
        assert len(share_links(html)) == len(labels)
        assert ('name="expires_in"' in html) == (tier_name == "Enterprise")

    def test_srcset_offers_the_tiers_heights(self, premium_user, login, image_of):
        image_of(premium_user)
        html = login(premium_user).get(reverse("gallery:image_list")).content.decode()
        found = re.search(r'srcset="([^"]+)"', html)
        assert found, html
        srcset = found.group(1).replace("&amp;", "&")
        assert srcset.endswith(" 2x")
        assert " 1x, " in srcset

    def test_downgrade_hides_larger_sizes_and_original_at_once(
        self, premium_user, tier, login, image_of
    ):
        image_of(premium_user)
        client = login(premium_user)
        assert copy_labels(client.get("/").content.decode()) == ["200 px", "400 px", "Original"]
        premium_user.tier = tier("Basic")
        premium_user.save()
        assert copy_labels(client.get("/").content.decode()) == ["200 px"]

    def test_htmx_page_is_a_fragment(self, basic_user, login, image_of, settings):
        settings.SMALLIMAGE_IMAGES_PER_PAGE = 2
        for _ in range(3):
            image_of(basic_user)
        client = login(basic_user)
        first = client.get("/").content.decode()
        assert 'hx-get="?page=2"' in first
        response = client.get("/?page=2", **HTMX)
        html = response.content.decode()
        assert "<html" not in html
        assert html.count('class="card image-card') == 1
        assert "next-page" not in html
        assert response["Vary"] and "HX-Request" in response["Vary"]

    def test_query_count_does_not_grow_with_images(
        self, enterprise_user, login, image_of, django_assert_max_num_queries
    ):
        client = login(enterprise_user)
        image_of(enterprise_user)
        with django_assert_max_num_queries(8) as few:
            client.get("/")
        for _ in range(12):
            image_of(enterprise_user)
        with django_assert_max_num_queries(len(few.captured_queries)):
            client.get("/")


class TestUpload:
    def test_htmx_upload_returns_the_new_card(self, basic_user, login, jpeg_upload):
        response = login(basic_user).post(
            reverse("gallery:image_upload"), {"files": jpeg_upload(name="cat.jpg")}, **HTMX
        )
        assert response.status_code == 201
        html = response.content.decode()
        assert "<html" not in html
        image = Image.objects.get()
        assert f'id="image-{image.public_id}"' in html
        assert "cat.jpg" in html

    def test_htmx_upload_of_a_bad_file_says_why_and_stores_nothing(
        self, basic_user, login, media_files
    ):
        bad = SimpleUploadedFile("notes.png", b"just some text", "image/png")
        response = login(basic_user).post(reverse("gallery:image_upload"), {"files": bad}, **HTMX)
        assert response.status_code == 400
        html = response.content.decode()
        assert "notes.png: " in html
        assert "PNG" in html and "JPEG" in html
        assert not Image.objects.exists()
        assert media_files() == []

    def test_plain_form_uploads_many_and_reports_each(self, basic_user, login, jpeg_upload):
        files = [
            jpeg_upload(name="a.jpg"),
            SimpleUploadedFile("b.png", b"GIF89a", "image/png"),
            jpeg_upload(name="c.jpg"),
        ]
        response = login(basic_user).post(
            reverse("gallery:image_upload"), {"files": files}, follow=True
        )
        html = response.content.decode()
        assert Image.objects.count() == 2
        assert "Uploaded a.jpg." in html and "Uploaded c.jpg." in html
        assert "b.png: " in html

    def test_missing_file_is_a_clear_error(self, basic_user, login):
        response = login(basic_user).post(reverse("gallery:image_upload"), {}, **HTMX)
        assert response.status_code == 400
        assert "Choose at least one" in response.content.decode()

    def test_get_is_not_allowed(self, basic_user, login):
        assert login(basic_user).get(reverse("gallery:image_upload")).status_code == 405

    def test_files_per_request_are_limited(self, basic_user, login, jpeg_upload, settings):
        settings.SMALLIMAGE_MAX_FILES_PER_UPLOAD = 2
        files = [jpeg_upload(name=f"{n}.jpg") for n in range(3)]
        response = login(basic_user).post(reverse("gallery:image_upload"), {"files": files}, **HTMX)
        assert response.status_code == 400
        assert "Upload at most 2 files at a time (you chose 3)." in response.content.decode()
        assert not Image.objects.exists()

    def test_uploads_are_limited_per_file(self, basic_user, login, jpeg_upload, settings):
        settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "upload": "2/m/user"}
        files = [jpeg_upload(name=f"{n}.jpg") for n in range(3)]
        response = login(basic_user).post(reverse("gallery:image_upload"), {"files": files}, **HTMX)
        assert response.status_code == 429
        assert "2.jpg: You have uploaded many images" in response.content.decode()
        assert Image.objects.count() == 2

    def test_the_page_and_the_api_share_one_upload_limit(
        self, basic_user, login, jpeg_upload, settings
    ):
        from knox.models import AuthToken
        from rest_framework.test import APIClient

        settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "upload": "2/m/user"}
        page = login(basic_user)
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(basic_user)[1]}")
        first = page.post(reverse("gallery:image_upload"), {"files": jpeg_upload()}, **HTMX)
        second = api.post("/api/v1/images/", {"file": jpeg_upload()}, format="multipart")
        assert (first.status_code, second.status_code) == (201, 201)
        assert (
            api.post("/api/v1/images/", {"file": jpeg_upload()}, format="multipart").status_code
            == 429
        )
        third = page.post(reverse("gallery:image_upload"), {"files": jpeg_upload()}, **HTMX)
        assert third.status_code == 429
        assert Image.objects.count() == 2


class TestDetail:
    def test_lists_every_link_the_tier_allows(self, premium_user, login, image_of):
        image = image_of(premium_user)
        html = (
            login(premium_user)
            .get(reverse("gallery:image_detail", args=[image.public_id]))
            .content.decode()
        )
        assert len(share_links(html)) == 3
        assert "Original" in html

    def test_another_users_image_is_not_found(self, basic_user, login, image_of):
        image = image_of(UserFactory.create())
        client = login(basic_user)
        for name in ["image_detail", "image_delete"]:
            assert client.get(reverse(f"gallery:{name}", args=[image.public_id])).status_code == 404
        for name in ["image_delete", "link_create"]:
            assert (
                client.post(reverse(f"gallery:{name}", args=[image.public_id])).status_code == 404
            )
        assert Image.objects.filter(pk=image.pk).exists()

    def test_query_count_is_constant(
        self, enterprise_user, login, image_of, django_assert_max_num_queries
    ):
        image = image_of(enterprise_user)
        client = login(enterprise_user)
        with django_assert_max_num_queries(6):
            client.get(reverse("gallery:image_detail", args=[image.public_id]))


class TestDelete:
    def test_htmx_delete_swaps_the_card_out_and_removes_files(
        self, basic_user, login, image_of, media_files
    ):
        image = image_of(basic_user)
        response = login(basic_user).post(
            reverse("gallery:image_delete", args=[image.public_id]), **HTMX
        )
        assert response.status_code == 200
        assert response.content == b""
        assert not Image.objects.exists()
        assert media_files() == []

    def test_without_javascript_confirm_then_delete(self, basic_user, login, image_of):
        image = image_of(basic_user)
        client = login(basic_user)
        url = reverse("gallery:image_delete", args=[image.public_id])
        page = client.get(url).content.decode()
        assert f'action="{url}"' in page
        assert Image.objects.exists()  # GET only asks
        response = client.post(url)
        assert response.status_code == 302
        assert not Image.objects.exists()


class TestLinks:
    def test_share_link_redirects_to_a_signed_file(self, client, premium_user, login, image_of):
        image_of(premium_user)
        html = login(premium_user).get("/").content.decode()
        for share_url in share_links(html):
            response = client.get(share_url)
            assert response.status_code == 302
            assert response["Cache-Control"].startswith("max-age=0")
            file_response = client.get(response["Location"])
            assert file_response.status_code == 200
            assert file_response["Content-Type"] == "image/jpeg"

    def test_share_link_stops_when_tier_no_longer_allows_it(
        self, client, premium_user, tier, login, image_of
    ):
        image_of(premium_user)
        links = share_links(login(premium_user).get("/").content.decode())
        premium_user.tier = tier("Basic")
        premium_user.save()
        statuses = [client.get(link).status_code for link in links]
        assert statuses == [302, 404, 404]  # 200 px, 400 px, original

    def test_unknown_share_link_is_not_found(self, client, db):
        assert client.get("/s/not-a-real-token").status_code == 404

    def test_create_expiring_link_with_htmx(self, enterprise_user, login, image_of):
        image = image_of(enterprise_user)
        response = login(enterprise_user).post(
            reverse("gallery:link_create", args=[image.public_id]),
            {"rendition": "200", "expires_in": "600"},
            **HTMX,
        )
        assert response.status_code == 200
        html = response.content.decode()
        assert "<html" not in html
        assert f'id="expiring-{image.public_id}"' in html
        assert "data-autocopy" in html
        assert re.search(r'value="http://testserver/files/thumbnails/[^"]+expires=', html)

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            ({"rendition": "200", "expires_in": "299"}, "greater than or equal to 300"),
            ({"rendition": "200", "expires_in": "30001"}, "less than or equal to 30000"),
            ({"rendition": "200", "expires_in": "soon"}, "whole number"),
            ({"rendition": "999", "expires_in": "600"}, "Select a valid choice"),
        ],
    )
    def test_bad_expiring_link_request_says_why(
        self, enterprise_user, login, image_of, data, message
    ):
        image = image_of(enterprise_user)
        response = login(enterprise_user).post(
            reverse("gallery:link_create", args=[image.public_id]), data, **HTMX
        )
        assert response.status_code == 400
        assert message in response.content.decode()

    @pytest.mark.parametrize("headers", [{}, HTMX])
    def test_tier_without_expiring_links_is_forbidden(self, premium_user, login, image_of, headers):
        image = image_of(premium_user)
        response = login(premium_user).post(
            reverse("gallery:link_create", args=[image.public_id]),
            {"rendition": "200", "expires_in": "600"},
            **headers,
        )
        assert response.status_code == 403
        assert "Your plan does not include expiring links." in response.content.decode()
        assert "data-link-output" not in response.content.decode()  # no link handed out

    def test_plain_form_shows_the_link_on_the_detail_page(self, enterprise_user, login, image_of):
        image = image_of(enterprise_user)
        response = login(enterprise_user).post(
            reverse("gallery:link_create", args=[image.public_id]),
            {"rendition": "original", "expires_in": "300"},
        )
        html = response.content.decode()
        assert response.status_code == 200
        assert "<html" in html
        assert "Works until" in html


def test_grid_urls_are_stable_within_a_time_bucket(premium_user, login, image_of, settings):
    image_of(premium_user)
    bucket = settings.SMALLIMAGE_DISPLAY_URL_SECONDS
    start = (1_800_000_000 // bucket) * bucket
    with time_machine.travel(start + 10, tick=False) as clock:
        client = login(premium_user)  # a session of that time
        first = re.findall(r'src="([^"]+)"', client.get("/").content.decode())
        clock.move_to(start + bucket - 1)
        second = re.findall(r'src="([^"]+)"', client.get("/").content.decode())
        clock.move_to(start + bucket)
        third = re.findall(r'src="([^"]+)"', client.get("/").content.decode())
    assert first and first == second  # the browser may cache them
    assert first != third  # a new bucket, new URLs


def test_htmx_upload_while_decodes_are_busy_answers_503_with_retry_after(
    basic_user, login, jpeg_upload, media_files, busy_decoder
):
    response = login(basic_user).post(
        reverse("gallery:image_upload"), {"files": jpeg_upload(name="cat.jpg")}, **HTMX
    )
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    html = response.content.decode()
    assert "cat.jpg: The server is busy" in html
    assert "try again in 1 seconds" in html
    assert not Image.objects.exists()
    assert media_files() == []
