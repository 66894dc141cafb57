"""Security headers every response carries beyond Django's own."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


def content_security_policy() -> str:
    """Only this site's own scripts run: no inline script, no eval, no other origin."""
    images = " ".join(["'self'", "data:", "blob:", *settings.SMALLIMAGE_MEDIA_ORIGINS])
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        # Inline style *attributes* only (the admin and Swagger UI set some);
        # style elements and sheets still come from this site alone.
        "style-src": "'self' 'unsafe-inline'",
        "img-src": images,
        "connect-src": "'self'",
        "font-src": "'self' data:",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def is_private(request: HttpRequest) -> bool:
    """API answers (tokens, signed URLs) and pages for a signed-in user."""
    # The API by its URL prefix (site/urls.py), signed in or not: the login's
    # answer carries a token to an anonymous request.
    if request.path_info.startswith("/api/"):
        return True
    # No user at all when WhiteNoise answered a static file itself.
    user = getattr(request, "user", None)
    return user is not None and user.is_authenticated


class SecurityHeadersMiddleware:
    """Outside WhiteNoise in MIDDLEWARE, so static files get these headers too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = content_security_policy()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", self.policy)
        response.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        # Neither the browser's disk cache (a shared computer) nor a proxy may keep
        # a private answer, unless the view chose its own caching (file_serve: for
        # the life of its signed link; /healthz: never).
        if "Cache-Control" not in response and is_private(request):
            response["Cache-Control"] = "private, no-store"
        return response
