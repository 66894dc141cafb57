from __future__ import annotations

import importlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

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
def builtin_tiers(db) -> None:
    """The tiers the data migration makes, back after a transactional test's flush removed them."""
    migration = importlib.import_module("accounts.migrations.0002_builtin_tiers")
    for fields in migration.BUILTIN_TIERS:
        Tier.objects.get_or_create(name=fields["name"], defaults=fields)


@pytest.fixture
def tier(builtin_tiers) -> Callable[[str], Tier]:
    """A function returning a built-in tier by name."""
    return lambda name: Tier.objects.get(name=name)


@pytest.fixture
def basic_user(builtin_tiers) -> User:
    """A user on the Basic tier."""
    return UserFactory.create(tier=Tier.objects.get(name="Basic"))


@pytest.fixture
def premium_user(builtin_tiers) -> User:
    """A user on the Premium tier."""
    return UserFactory.create(tier=Tier.objects.get(name="Premium"))


@pytest.fixture
def enterprise_user(builtin_tiers) -> User:
    """A user on the Enterprise tier."""
    return UserFactory.create(tier=Tier.objects.get(name="Enterprise"))


@pytest.fixture
def user_manager(builtin_tiers) -> User:
    """A staff user holding only the permission to add users."""
    from django.contrib.auth.models import Permission

    user = UserFactory.create(tier=Tier.objects.get(name="Basic"), is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="add_user"))
    return user


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


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A real S3-compatible server (moto) on loopback, for the whole session; its URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@dataclass(frozen=True)
class S3:
    """The bucket a test stores into, and a boto3 client to look inside it."""

    bucket: str
    client: Any
    endpoint_url: str

    def keys(self) -> list[str]:
        listing = self.client.list_objects_v2(Bucket=self.bucket)
        return sorted(item["Key"] for item in listing.get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()


@pytest.fixture
def s3(s3_server, settings, monkeypatch) -> S3:
    """Files go to a fresh private bucket on the moto server, through PrivateS3Storage."""
    import boto3

    for name, value in [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ]:
        monkeypatch.setenv(name, value)
    bucket = f"smallimage-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "gallery.storage.PrivateS3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": s3_server,
                "region_name": "us-east-1",
                "addressing_style": "path",
                "signature_version": "s3v4",
            },
        },
    }
    return S3(bucket=bucket, client=client, endpoint_url=s3_server)


@pytest.fixture
def busy_decoder(settings) -> Iterator[None]:
    """Every byte of this process's decode budget held, with no wait: uploads meet a busy server."""
    from gallery import rendering

    settings.SMALLIMAGE_DECODE_BUDGET_BYTES = 10_000_000
    settings.SMALLIMAGE_DECODE_WAIT_SECONDS = 0
    with rendering.decode_budget().reserve(10_000_000):
        yield
