"""Private file storage whose URLs are signed and expire.

Every backend SmallImage uses answers ``storage.url(name, expire=seconds)``
with a link that works for exactly that long: in the embedded default, a link
signed by Django and streamed by ``gallery.views.file_serve``; in production,
CloudFront or S3 signed URLs (``PrivateS3Storage``). Views never know which.
"""

from __future__ import annotations

import enum
import os
import threading
from collections import OrderedDict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, cast
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.core.files.storage import FileSystemStorage, Storage
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.encoding import filepath_to_uri
from django.utils.http import http_date
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

_signer = signing.Signer(salt="gallery.storage.files")


def expiry_timestamp(expire: int) -> int:
    """Whole seconds since the epoch at which a URL made now for `expire` seconds dies."""
    return int(timezone.now().timestamp()) + expire


def _signature(name: str, expires: int) -> str:
    return _signer.signature(f"{name}\n{expires}")


class SignedStorage(Protocol):
    """What SmallImage asks of its file storage beyond Django's ``Storage``."""

    def url(self, name: str, expire: int | None = None) -> str: ...

    def url_until(self, name: str, expires_at: int) -> str: ...

    def health_check(self) -> None: ...


def signed(storage: Storage) -> SignedStorage:
    """`storage` as what it is: STORAGES["default"] is always one of the classes below.

    Only for the type checker (a cast, no check at run time): Django's stubs know
    a file field's storage and ``default_storage`` as a plain ``Storage``.
    """
    return cast("SignedStorage", storage)


class Verdict(enum.Enum):
    VALID = "valid"
    EXPIRED = "expired"
    INVALID = "invalid"


def verify(name: str, expires: str, signature: str) -> Verdict:
    """Whether (name, expires, signature) came from `url()`, and if it still works.

    A link made for N seconds works up to, not at, its expiry instant.
    """
    try:
        expires_at = int(expires)
    except ValueError:
        return Verdict.INVALID
    if not constant_time_compare(signature, _signature(name, expires_at)):
        return Verdict.INVALID
    if timezone.now().timestamp() >= expires_at:
        return Verdict.EXPIRED
    return Verdict.VALID


class SignedFileSystemStorage(FileSystemStorage):
    """Local files that are never served raw, only through signed, expiring links."""

    # The ignore: Storage.url takes `str | None` and no expiry; every caller here
    # passes a name, and the expiry is the point of this interface.
    def url(self, name: str, expire: int | None = None) -> str:  # type: ignore[override]
        if expire is None:
            expire = settings.SMALLIMAGE_DISPLAY_URL_SECONDS
        return self.url_until(name, expiry_timestamp(expire))

    def url_until(self, name: str, expires_at: int) -> str:
        """A link that works until `expires_at` (whole seconds since the epoch)."""
        query = urlencode({"expires": expires_at, "signature": _signature(name, expires_at)})
        return f"{reverse('gallery:file', kwargs={'name': name})}?{query}"

    def health_check(self) -> None:
        """Raise unless files can be stored here."""
        location = Path(self.location)
        location.mkdir(parents=True, exist_ok=True)
        if not os.access(location, os.W_OK | os.X_OK):
            raise PermissionError(f"Cannot write to {location}")


# S3 refuses presigned URLs that claim to live longer than a week.
S3_MAX_PRESIGN_SECONDS = 7 * 24 * 60 * 60


# The ignore: django-storages ships no types, so mypy sees S3Storage as Any.
class PrivateS3Storage(S3Storage):  # type: ignore[misc]
    """A private S3 bucket whose URLs are CloudFront signed URLs, or S3 presigned ones.

    With a CloudFront domain (``custom_domain``) and key pair configured, every
    URL is a CloudFront signed URL (canned policy) valid for exactly ``expire``
    seconds. Otherwise it is an S3 presigned URL, never longer than S3 allows,
    signed for ``public_endpoint_url`` when browsers reach the bucket by another
    address than the app does (MinIO inside docker compose).
    """

    def get_default_settings(self) -> dict[str, Any]:
        return {
            **super().get_default_settings(),
            "default_acl": None,  # objects inherit the private bucket's policy
            "file_overwrite": False,  # a key, once written, is never replaced
            "querystring_auth": True,
            "public_endpoint_url": None,
        }

    # Signed URLs kept for reuse: the same name and expiry give the same URL, and
    # a page of thumbnails need not cost an RSA signature per image per view.
    SIGNED_URLS_KEPT = 4096

    def __init__(self, **settings_: Any) -> None:
        super().__init__(**settings_)
        self._signed: OrderedDict[tuple[str, int], str] = OrderedDict()
        self._signed_lock = threading.Lock()

    def url(self, name: str, expire: int | None = None, **kwargs: Any) -> str:
        if expire is None:
            expire = settings.SMALLIMAGE_DISPLAY_URL_SECONDS
        if not (self.custom_domain and self.cloudfront_signer):
            expire = min(expire, S3_MAX_PRESIGN_SECONDS)
        return self.url_until(name, expiry_timestamp(expire))

    def url_until(self, name: str, expires_at: int) -> str:
        """A signed URL that works until `expires_at` (whole seconds since the epoch).

        A URL once signed stays valid until that instant, so it is reused for
        every later request of the same name and expiry.
        """
        key = (name, expires_at)
        with self._signed_lock:
            if key in self._signed:
                self._signed.move_to_end(key)
                return self._signed[key]
        url = self._sign(self._normalize_name(clean_name(name)), expires_at)
        with self._signed_lock:
            self._signed[key] = url
            if len(self._signed) > self.SIGNED_URLS_KEPT:
                self._signed.popitem(last=False)
        return url

    def _sign(self, key: str, expires_at: int) -> str:
        if self.custom_domain and self.cloudfront_signer:
            resource = f"{self.url_protocol}//{self.custom_domain}/{filepath_to_uri(key)}"
            url: str = self.cloudfront_signer.generate_presigned_url(
                resource, date_less_than=datetime.fromtimestamp(expires_at, tz=UTC)
            )
            return url
        lifetime = max(1, expires_at - int(timezone.now().timestamp()))
        presigned: str = self._signing_client().generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket_name,
                "Key": key,
                # Browsers keep the image exactly as long as the link works.
                "ResponseCacheControl": "private",
                "ResponseExpires": http_date(expires_at),
            },
            ExpiresIn=min(lifetime, S3_MAX_PRESIGN_SECONDS),
        )
        return presigned

    def health_check(self) -> None:
        """Raise unless the bucket exists and these credentials reach it."""
        self.connection.meta.client.head_bucket(Bucket=self.bucket_name)

    def _signing_client(self) -> Any:  # a boto3 S3 client (boto3 ships no types)
        """A client that signs for the address browsers use; signing needs no network."""
        if not self.public_endpoint_url:
            return self.connection.meta.client
        client = getattr(self._connections, "signing_client", None)
        if client is None:
            client = self._create_session().client(
                "s3",
                region_name=self.region_name,
                endpoint_url=self.public_endpoint_url,
                config=self.client_config,
            )
            self._connections.signing_client = client
        return client
