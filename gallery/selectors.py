from __future__ import annotations

from collections.abc import Iterator

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import User
from gallery import access
from gallery.models import Image, Rendition


def image_list(*, owner: User) -> QuerySet[Image]:
    """The owner's images, newest first, with tier and renditions loaded in two queries."""
    return (
        Image.objects.filter(owner=owner)
        .select_related("owner__tier")
        .prefetch_related("renditions")
        .order_by("-created_at", "-pk")
    )


def image_get(*, owner: User, public_id: str) -> Image:
    """One of the owner's images; another user's image is as missing as a deleted one."""
    return image_list(owner=owner).get(public_id=public_id)


def image_owned(*, owner: User, public_id: str) -> Image:
    """The owner's image for a view to show, or Http404: another user's answers as a missing one.

    The pages and the API both answer 404 for it (the API as ``{"detail": ...}``).
    """
    return get_object_or_404(image_list(owner=owner), public_id=public_id)


def rendition_by_share_token(*, share_token: str) -> Rendition:
    return Rendition.objects.select_related("image__owner__tier").get(share_token=share_token)


def rendition_by_file_name(*, name: str) -> Rendition:
    """The rendition stored under `name`, with its owner and tier."""
    return Rendition.objects.select_related("image__owner__tier").get(file=name)


def images_lacking_thumbnails(*, owners: QuerySet[User]) -> Iterator[int]:
    """The ids of these owners' images that lack a thumbnail height their tier wants."""
    images = (
        Image.objects.filter(owner__in=owners)
        .select_related("owner__tier")
        .prefetch_related("renditions")
    )
    for image in images.iterator(chunk_size=500):
        if access.missing_heights(image.renditions.all(), image.owner.tier):
            yield image.pk
