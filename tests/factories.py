"""Rows for tests that need them to exist, made without the upload pipeline.

Tests about uploading, decoding or rendering use gallery.services with real image
bytes (tests/gallery/images.py); the others use these, and run no Pillow at all.
"""

from __future__ import annotations

import secrets

import factory
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from accounts.models import Tier, User
from gallery.models import Image, Rendition

EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png"}


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    tier = factory.LazyFunction(Tier.objects.default)
    password = factory.django.Password("correct horse battery staple")


def _stored_placeholder(rendition: Rendition) -> str:
    """Save a placeholder file where the pipeline would store this rendition; its name."""
    folder = "originals" if rendition.thumbnail_height is None else "thumbnails"
    name = f"{folder}/{secrets.token_hex(16)}.{EXTENSIONS[rendition.content_type]}"
    data = f"placeholder {rendition.content_type}, not an image\n".encode()
    return default_storage.save(name, ContentFile(data))


class RenditionFactory(factory.django.DjangoModelFactory[Rendition]):
    """A stored file of an image: a thumbnail 200 px tall unless told otherwise.

    No row without its file: the file is saved to default_storage under a random
    name, as the pipeline names them (originals/ or thumbnails/, the type's
    extension). Its bytes are a short text, NOT an image: enough for serving,
    signing, sharing and deleting, not for anything that decodes it.
    """

    class Meta:
        model = Rendition

    image = factory.SubFactory("tests.factories.ImageFactory", renditions=False)
    thumbnail_height = 200
    # A thumbnail is never enlarged: a height at or above the image's keeps its size.
    height = factory.LazyAttribute(
        lambda r: (
            r.image.height
            if r.thumbnail_height is None
            else min(r.thumbnail_height, r.image.height)
        )
    )
    width = factory.LazyAttribute(
        lambda r: max(1, round(r.image.width * r.height / r.image.height))
    )
    content_type = factory.SelfAttribute("image.content_type")
    file = factory.LazyAttribute(_stored_placeholder)


class ImageFactory(factory.django.DjangoModelFactory[Image]):
    """An image as a finished upload leaves it: ready, with its original and one
    thumbnail per height of the owner's tier (RenditionFactory's placeholder files).

    ``renditions=False`` makes the row alone; ``status`` other than ready, the
    original alone, as an upload whose thumbnails are still to come (or failed).
    """

    class Meta:
        model = Image
        skip_postgeneration_save = True

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"photo{n}.jpg")
    width = 640
    height = 480
    content_type = "image/jpeg"
    size_bytes = 50_000
    status = Image.Status.READY

    # The class factory.post_generation returns, used as the decorator itself: the
    # helper has no annotations, and would leave the hook untyped for mypy.
    @factory.PostGeneration
    def renditions(image: Image, create: bool, extracted: bool | None, **kwargs) -> None:
        if not create or extracted is False:
            return
        RenditionFactory.create(image=image, thumbnail_height=None)
        if image.status == Image.Status.READY:
            for height in image.owner.tier.thumbnail_heights:
                RenditionFactory.create(image=image, thumbnail_height=height)
