"""The factories stand in for uploads in many tests: they must leave what an upload leaves."""

from __future__ import annotations

import pytest

from gallery import services
from gallery.models import Image
from tests.factories import ImageFactory, RenditionFactory

pytestmark = pytest.mark.django_db


def shape(image: Image) -> list[tuple[int, int, int, str, str]]:
    """What the views and links see of an image's renditions, files aside."""
    return sorted(
        (r.thumbnail_height or 0, r.width, r.height, r.content_type, r.file_name.split("/")[0])
        for r in image.renditions.all()
    )


@pytest.mark.parametrize("owner", ["basic_user", "premium_user", "enterprise_user"])
def test_an_image_is_what_an_upload_of_its_size_leaves(request, owner, jpeg_upload):
    user = request.getfixturevalue(owner)
    uploaded = services.image_upload(owner=user, file=jpeg_upload(640, 480))
    uploaded.refresh_from_db()  # rendered by the task, which saved its own copy
    made = ImageFactory.create(owner=user, width=640, height=480)

    assert made.status == uploaded.status == Image.Status.READY
    assert shape(made) == shape(uploaded)


def test_no_rendition_row_without_its_stored_file(basic_user, media_files):
    image = ImageFactory.create(owner=basic_user)
    RenditionFactory.create(image=image, thumbnail_height=999)  # taller than the image: its size
    names = sorted(r.file_name for r in image.renditions.all())
    assert media_files() == names and len(names) == 3
    assert image.renditions.get(thumbnail_height=999).height == image.height


def test_an_image_still_processing_has_only_its_original(basic_user):
    image = ImageFactory.create(owner=basic_user, status=Image.Status.PROCESSING)
    assert [r.key for r in image.renditions.all()] == ["original"]
