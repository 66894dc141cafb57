"""What a page shows of an image: the renditions and links its owner's tier allows now."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from gallery import access
from gallery.models import Image, Rendition
from gallery.storage import signed

# Thumbnails are laid out at this CSS height; srcset offers the taller ones
# to denser screens.
DISPLAY_HEIGHT = 200


def display_expires_at() -> int:
    """When the display URLs handed out now expire: the end of the next time bucket.

    Every page view within a bucket gets the same URLs, so the browser caches
    the images and signatures are reused; each URL still lives at least one
    whole bucket.
    """
    bucket = settings.SMALLIMAGE_DISPLAY_URL_SECONDS
    now = int(timezone.now().timestamp())
    return (now // bucket + 2) * bucket


@dataclass(frozen=True)
class RenditionView:
    rendition: Rendition
    share_url: str
    display_expires_at: int

    @cached_property
    def display_url(self) -> str:
        """A signed URL for showing the file, made only if a page shows it.

        The API and the grid's original-size links never need one, and signing
        (an RSA signature with CloudFront) is the costly part of a page.
        """
        file = self.rendition.file
        return signed(file.storage).url_until(self.rendition.file_name, self.display_expires_at)

    @property
    def key(self) -> str:
        return self.rendition.key

    @property
    def label(self) -> str:
        return self.rendition.label


@dataclass(frozen=True, slots=True)
class ImageCard:
    image: Image
    renditions: list[RenditionView]
    can_make_expiring_links: bool
    rendering: bool

    @property
    def thumbnails(self) -> list[RenditionView]:
        return [view for view in self.renditions if not view.rendition.is_original]

    @property
    def original(self) -> RenditionView | None:
        return next((view for view in self.renditions if view.rendition.is_original), None)

    @property
    def preview(self) -> RenditionView | None:
        """The smallest thumbnail, or the original on a tier without thumbnails."""
        return self.thumbnails[0] if self.thumbnails else self.original

    @property
    def srcset(self) -> str:
        return ", ".join(
            f"{view.display_url} {(view.rendition.thumbnail_height or 0) / DISPLAY_HEIGHT:g}x"
            for view in self.thumbnails
        )

    @property
    def link_choices(self) -> list[tuple[str, str]]:
        return [(view.key, view.label) for view in self.renditions]


def image_cards(images: Iterable[Image], *, absolute_url: Callable[[str], str]) -> list[ImageCard]:
    """Cards for images whose owner (with tier) and renditions are already loaded."""
    expires_at = display_expires_at()
    cards = []
    for image in images:
        tier = image.owner.tier
        renditions = list(image.renditions.all())
        views = [
            RenditionView(
                rendition=rendition,
                share_url=absolute_url(reverse("gallery:share", args=[rendition.share_token])),
                display_expires_at=expires_at,
            )
            for rendition in access.allowed_renditions(renditions, tier)
        ]
        cards.append(
            ImageCard(
                image=image,
                renditions=views,
                can_make_expiring_links=tier.can_make_expiring_links,
                rendering=image.status == Image.Status.PROCESSING
                or (
                    image.status == Image.Status.READY
                    and bool(access.missing_heights(renditions, tier))
                ),
            )
        )
    return cards


def image_card(image: Image, *, absolute_url: Callable[[str], str]) -> ImageCard:
    """The card of one image (loaded as ``image_cards`` needs): a page's, or the API's body."""
    return image_cards([image], absolute_url=absolute_url)[0]
