"""Storing and deleting the gallery's files under names nobody chose."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from gallery.errors import StorageUnavailable

logger = logging.getLogger(__name__)

STORAGE_FAILED = "We could not store your image just now. Please try again in a moment."


def _new_file_name(folder: str, extension: str) -> str:
    # Random, never derived from user input: nothing to guess, nothing to escape.
    return f"{folder}/{secrets.token_hex(16)}.{extension}"


def file_store(*, folder: str, extension: str, data: bytes) -> str:
    """Save `data` under a new random name in `folder`; the name it was stored under."""
    try:
        return default_storage.save(_new_file_name(folder, extension), ContentFile(data))
    except Exception as error:
        logger.exception("Could not store a file in %s/", folder)
        raise StorageUnavailable(STORAGE_FAILED) from error


def files_delete_quietly(names: Iterable[str]) -> None:
    """Delete what a failed write left behind; a failure here is logged, not raised.

    The error that made us clean up is the one the caller should see, and
    ``manage.py gallery_check`` finds any file this could not delete.
    """
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:
            logger.exception("Could not delete stored file %s", name)
