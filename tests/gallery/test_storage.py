from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.core.files.storage import default_storage

from gallery import storage
from gallery.models import Rendition
from tests.factories import RenditionFactory

pytestmark = pytest.mark.django_db

START = 1_800_000_000  # a whole second, so expiry arithmetic is exact


def split(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    name = parts.path.removeprefix("/files/")
    return name, query["expires"][0], query["signature"][0]


@pytest.fixture
def stored_name(basic_user) -> str:
    """The name of a small file saved in the private storage, a 200 px PNG thumbnail of Basic's."""
    rendition = RenditionFactory.create(
        image__owner=basic_user, image__content_type="image/png", thumbnail_height=200
    )
    return rendition.file_name


def test_a_stored_file_without_its_row_is_not_served(client, stored_name):
    url = storage.signed(default_storage).url(stored_name, expire=600)
    assert client.get(url).status_code == 200
    Rendition.objects.filter(file=stored_name).delete()
    assert client.get(url).status_code == 404


def test_a_file_the_owners_tier_no_longer_allows_is_not_served(client, stored_name, tier):
    url = storage.signed(default_storage).url(stored_name, expire=600)
    owner = Rendition.objects.get(file=stored_name).image.owner
    owner.tier = tier("Premium")  # 200 px stays
    owner.save()
    assert client.get(url).status_code == 200
    owner.tier.thumbnail_heights = [400]
    owner.tier.save()
    assert client.get(url).status_code == 404


def test_url_expires_exactly_after_the_given_seconds(stored_name):
    with time_machine.travel(START, tick=False) as clock:
        name, expires, signature = split(
            storage.signed(default_storage).url(stored_name, expire=300)
        )
        assert int(expires) == START + 300
        clock.move_to(START + 299)
        assert storage.verify(name, expires, signature) is storage.Verdict.VALID
        clock.move_to(START + 300)
        assert storage.verify(name, expires, signature) is storage.Verdict.EXPIRED


@pytest.mark.parametrize("part", ["name", "expires", "signature"])
def test_tampered_url_is_invalid(stored_name, part):
    name, expires, signature = split(storage.signed(default_storage).url(stored_name, expire=300))
    tampered = {
        "name": ("thumbnails/abd.png", expires, signature),
        "expires": (name, str(int(expires) + 1000), signature),
        "signature": (name, expires, signature[:-1] + ("A" if signature[-1] != "A" else "B")),
    }[part]
    assert storage.verify(*tampered) is storage.Verdict.INVALID


def test_non_numeric_expiry_is_invalid(stored_name):
    name, _, signature = split(storage.signed(default_storage).url(stored_name, expire=300))
    assert storage.verify(name, "soon", signature) is storage.Verdict.INVALID


def test_file_view_streams_with_type_and_cache_bounded_by_link(client, stored_name):
    with time_machine.travel(START, tick=False) as clock:
        url = storage.signed(default_storage).url(stored_name, expire=600)
        clock.move_to(START + 100)
        response = client.get(url)
    assert response.status_code == 200
    with default_storage.open(stored_name) as stored:
        assert b"".join(response.streaming_content) == stored.read()
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "max-age=500" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_file_view_refuses_expired_link(client, stored_name):
    with time_machine.travel(START, tick=False) as clock:
        url = storage.signed(default_storage).url(stored_name, expire=300)
        clock.move_to(START + 300)
        response = client.get(url)
    assert response.status_code == 410
    assert b"This link has expired" in response.content


def test_file_view_refuses_unsigned_and_tampered_requests(client, stored_name):
    assert client.get(f"/files/{stored_name}").status_code == 404
    url = storage.signed(default_storage).url(stored_name, expire=300)
    assert client.get(url.replace(stored_name, "thumbnails/abd.png")).status_code == 404


def test_media_directory_is_not_served_raw(client, stored_name, settings):
    assert client.get(f"/media/{stored_name}").status_code == 404
    assert client.get(f"/{stored_name}").status_code == 404
