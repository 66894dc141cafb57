from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class GalleryConfig(AppConfig):
    name = "gallery"

    def ready(self) -> None:
        from accounts import signals

        # accounts cannot call the gallery (it sits below it); it announces
        # tier changes, and the gallery renders the heights they add.
        signals.tier_thumbnails_changed.connect(
            _tier_thumbnails_changed, dispatch_uid="gallery.tier_thumbnails_changed"
        )
        signals.user_tier_changed.connect(
            _user_tier_changed, dispatch_uid="gallery.user_tier_changed"
        )


def _tier_thumbnails_changed(sender: type, tier: Any, **kwargs: Any) -> None:
    from gallery import services

    services.tier_thumbnails_changed(tier=tier)


def _user_tier_changed(sender: type, user: Any, **kwargs: Any) -> None:
    from gallery import services

    services.user_tier_changed(user=user)
