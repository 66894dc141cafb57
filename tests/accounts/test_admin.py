from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Tier
from gallery import services
from tests.factories import UserFactory
from tests.gallery import images

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client):
    """A client signed in as a superuser."""
    client.force_login(UserFactory.create(is_staff=True, is_superuser=True))
    return client


def test_admin_creates_a_custom_tier(admin_client_):
    response = admin_client_.post(
        "/admin/accounts/tier/add/",
        {"name": "Photographer", "thumbnail_heights": "800, 100", "can_link_original": "on"},
    )
    assert response.status_code == 302
    tier = Tier.objects.get(name="Photographer")
    assert tier.thumbnail_heights == [100, 800]
    assert tier.can_link_original and not tier.can_make_expiring_links


def test_admin_rejects_bad_heights_with_a_message(admin_client_):
    response = admin_client_.post(
        "/admin/accounts/tier/add/", {"name": "Broken", "thumbnail_heights": "200, tall"}
    )
    assert response.status_code == 200
    assert "Enter whole numbers of pixels" in response.content.decode()
    assert not Tier.objects.filter(name="Broken").exists()


def test_adding_a_height_to_a_tier_renders_it_for_its_users(
    admin_client_, basic_user, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("a.jpg", images.jpeg_bytes(1000, 1000))
    image = services.image_upload(owner=basic_user, file=upload)
    basic = basic_user.tier
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(
            f"/admin/accounts/tier/{basic.pk}/change/",
            {"name": "Basic", "thumbnail_heights": "200, 600"},
        )
    assert response.status_code == 302
    heights = sorted(h for r in image.renditions.all() if (h := r.thumbnail_height) is not None)
    assert heights == [200, 600]


def test_moving_a_user_to_another_tier_renders_its_heights(
    admin_client_, basic_user, tier, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("a.jpg", images.jpeg_bytes(1000, 1000))
    image = services.image_upload(owner=basic_user, file=upload)
    premium = tier("Premium")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(
            f"/admin/accounts/user/{basic_user.pk}/change/",
            {
                "username": basic_user.username,
                "email": basic_user.email,
                "tier": premium.pk,
                "is_active": "on",
                "date_joined_0": "2024-01-01",
                "date_joined_1": "00:00:00",
            },
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    heights = sorted(h for r in image.renditions.all() if (h := r.thumbnail_height) is not None)
    assert heights == [200, 400]
