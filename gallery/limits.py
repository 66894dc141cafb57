"""How often one account may act, counted alike whichever door it comes through.

The counters are allauth's rate limits (ACCOUNT_RATE_LIMITS in settings): kept in
the shared cache, so every process counts together, and updated under a lock.
"""

from __future__ import annotations

from allauth.core import ratelimit
from django.http import HttpRequest

from accounts.models import User
from gallery.errors import TooManyUploads

TOO_MANY_UPLOADS = (
    "You have uploaded many images in a short time. Please wait a minute and try again."
)


def upload_count(request: HttpRequest, *, user: User) -> None:
    """Count one uploaded file against the user's limit; raise TooManyUploads past it."""
    if not ratelimit.consume(request, action="upload", user=user):
        raise TooManyUploads(TOO_MANY_UPLOADS)
