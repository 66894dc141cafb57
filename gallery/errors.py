"""Domain errors of the gallery. Plain Python: the pipeline raises them too."""

from __future__ import annotations


class GalleryError(Exception):
    """Base of the errors a user can be shown: ``str(error)`` is the message.

    ``status_code`` is the HTTP status the error stands for. The pages answer
    with it (gallery/views.py reads it); the API answers each error with the
    same status, through its own mapping to DRF exceptions, so a new error
    class needs its place there too.
    """

    status_code = 400


class InvalidImage(GalleryError):
    """The upload is not an image SmallImage accepts (type, size, damage)."""


class RenditionNotAllowed(GalleryError):
    """The owner's current tier does not allow this rendition or link."""

    status_code = 403


class InvalidLink(GalleryError):
    """A link request outside what the app allows (e.g. expiry out of range)."""


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
    """Too many large images are being decoded at once; nothing was stored, try again later.

    ``retry_after`` is the seconds a client should wait (the Retry-After header).
    """

    status_code = 503

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
