"""Private file storage whose URLs are signed and expire.

Every backend SmallImage uses answers ``storage.url(name, expire=seconds)``
with a link that works for exactly that long: here, a link signed by Django
and streamed by ``gallery.views.file_serve``; in production, S3 or CloudFront
signed URLs from django-storages. Views never know which.
"""

from __future__ import annotations

import enum
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.core.files.storage import FileSystemStorage
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare

_signer = signing.Signer(salt="gallery.storage.files")


def expiry_timestamp(expire: int) -> int:
    """Whole seconds since the epoch at which a URL made now for `expire` seconds dies."""
    return int(timezone.now().timestamp()) + expire


def _signature(name: str, expires: int) -> str:
    return _signer.signature(f"{name}\n{expires}")


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

    def url(self, name: str, expire: int | None = None) -> str:
        if expire is None:
            expire = settings.SMALLIMAGE_DISPLAY_URL_SECONDS
        expires = expiry_timestamp(expire)
        query = urlencode({"expires": expires, "signature": _signature(name, expires)})
        return f"{reverse('gallery:file', kwargs={'name': name})}?{query}"
