from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import Tier, User
from tests.factories import UserFactory
from tests.gallery import images

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Production-strength hashing makes every sign-in slow; tests only need it to work."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    """Each test stores files in its own media folder, and needs no collected static files."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "gallery.storage.SignedFileSystemStorage",
            "OPTIONS": {"location": settings.MEDIA_ROOT},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def media_files(settings) -> Callable[[], list[str]]:
    """A function listing every stored file, relative to the media root."""

    def list_files() -> list[str]:
        root = settings.MEDIA_ROOT
        if not root.exists():
            return []
        return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())

    return list_files


@pytest.fixture
def tier(db) -> Callable[[str], Tier]:
    """A function returning a built-in tier by name."""
    return lambda name: Tier.objects.get(name=name)


@pytest.fixture
def basic_user(db) -> User:
    """A user on the Basic tier."""
    return UserFactory(tier=Tier.objects.get(name="Basic"))


@pytest.fixture
def premium_user(db) -> User:
    """A user on the Premium tier."""
    return UserFactory(tier=Tier.objects.get(name="Premium"))


@pytest.fixture
def enterprise_user(db) -> User:
    """A user on the Enterprise tier."""
    return UserFactory(tier=Tier.objects.get(name="Enterprise"))


@pytest.fixture
def login() -> Callable[[User], Client]:
    """A function returning a test client signed in as the given user."""

    def signed_in(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return signed_in


@pytest.fixture
def jpeg_upload() -> Callable[..., SimpleUploadedFile]:
    """A function making an uploaded JPEG file of the given size."""

    def make(width: int = 640, height: int = 480, name: str = "photo.jpg") -> SimpleUploadedFile:
        return SimpleUploadedFile(name, images.jpeg_bytes(width, height), "image/jpeg")

    return make


@pytest.fixture
def png_upload() -> Callable[..., SimpleUploadedFile]:
    """A function making an uploaded PNG file (with alpha) of the given size."""

    def make(width: int = 300, height: int = 500, name: str = "drawing.png") -> SimpleUploadedFile:
        return SimpleUploadedFile(name, images.png_bytes(width, height, mode="RGBA"), "image/png")

    return make
