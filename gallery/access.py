"""What an owner's tier allows. Read at every request: never cached on a row."""

from __future__ import annotations

from collections.abc import Iterable

from accounts.models import Tier
from gallery.models import Rendition


def rendition_allowed(rendition: Rendition, tier: Tier) -> bool:
    if rendition.is_original:
        return tier.can_link_original
    return rendition.thumbnail_height in tier.thumbnail_heights


def rendition_reachable(rendition: Rendition) -> bool:
    """Whether a link to this rendition works now: an active owner whose tier allows it."""
    owner = rendition.image.owner
    return owner.is_active and rendition_allowed(rendition, owner.tier)


def allowed_renditions(renditions: Iterable[Rendition], tier: Tier) -> list[Rendition]:
    """The renditions this tier may see, thumbnails by height, then the original."""
    allowed = [rendition for rendition in renditions if rendition_allowed(rendition, tier)]
    return sorted(allowed, key=lambda r: (r.is_original, r.thumbnail_height or 0))


def missing_heights(renditions: Iterable[Rendition], tier: Tier) -> set[int]:
    """The tier's heights that have no thumbnail yet."""
    made = {rendition.thumbnail_height for rendition in renditions}
    return set(tier.thumbnail_heights) - made
