"""Domain errors of the gallery. Plain Python: the pipeline raises them too."""

from __future__ import annotations


class GalleryError(Exception):
    """Base of the errors a user can be shown: ``str(error)`` is the message.

    ``status_code`` is the HTTP status both the pages (gallery/views.py) and the API
    (api/exceptions.py, one handler for every domain error) answer with;
    ``field`` the argument of the service the message is about (an API body keys
    the message by it), None for the whole request; ``retry_after`` the seconds
    a client should wait before trying again (the Retry-After header), if known.
    """

    status_code = 400
    field: str | None = None
    retry_after: int | None = None


class InvalidImage(GalleryError):
    """The upload is not an image SmallImage accepts (type, size, damage)."""

    field = "file"


class RenditionNotAllowed(GalleryError):
    """The owner's current tier does not allow this rendition or link."""

    status_code = 403


class InvalidLink(GalleryError):
    """A link request whose expiry is outside the range the app allows."""

    field = "expires_in"


class StorageUnavailable(GalleryError):
    """The file storage failed; nothing was left half-done, and trying again may work."""

    status_code = 503


class RenditionNotReady(GalleryError):
    """The tier allows this rendition, but its thumbnail is still being made."""

    status_code = 409


class TooManyUploads(GalleryError):
    """The account has used up its uploads for now (one limit for the pages and the API)."""

    status_code = 429


class DecoderBusy(GalleryError):
    """Too many large images are being decoded at once; nothing was stored, try again later."""

    status_code = 503

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after: int | None = retry_after
