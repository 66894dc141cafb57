"""A delete racing a render, and a render cut short by a process exit."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from gallery import pipeline, rendering, services, tasks
from gallery.models import Image, Rendition

pytestmark = pytest.mark.django_db


def test_thumbnails_a_render_writes_during_a_delete_go_too(
    premium_user, jpeg_upload, media_files, monkeypatch
):
    """A render's rows can land between the delete's listing and its last step."""
    image = services.image_upload(owner=premium_user, file=jpeg_upload())
    delete_renditions = services._renditions_delete
    late: list[str] = []

    def delete_then_a_render_writes(renditions):
        delete_renditions(renditions)
        if not late:  # once, as a render finishing just now would
            name = default_storage.save("thumbnails/late.jpg", ContentFile(b"a thumbnail"))
            late.append(name)
            Rendition.objects.create(
                image=image, thumbnail_height=300, width=1, height=1, file=name,
                content_type="image/jpeg",
            )  # fmt: skip

    monkeypatch.setattr(services, "_renditions_delete", delete_then_a_render_writes)
    services.image_delete(image=image)
    assert not Image.objects.filter(pk=image.pk).exists()
    assert not Rendition.objects.exists()
    assert media_files() == []


@pytest.mark.parametrize("stop", [SystemExit(1), KeyboardInterrupt()])
def test_a_render_cut_short_leaves_no_claim_and_no_files(
    premium_user, jpeg_upload, media_files, monkeypatch, stop
):
    image = services.image_upload(owner=premium_user, file=jpeg_upload())
    services._renditions_delete(list(image.renditions.exclude(thumbnail_height=None)))
    original = media_files()
    real_render = pipeline.render

    def render_then_exit(*args, **kwargs):
        real_render(*args, **kwargs)
        raise stop

    monkeypatch.setattr(pipeline, "render", render_then_exit)
    with pytest.raises(type(stop)):
        tasks.render_thumbnails.call(image_id=image.pk)
    image.refresh_from_db()
    assert image.render_claim == ""
    assert image.status == Image.Status.FAILED  # offers Retry, not "processing" forever
    assert media_files() == original  # the thumbnails it stored went with it
    monkeypatch.setattr(pipeline, "render", real_render)
    assert rendering.thumbnails_render(image_id=image.pk)  # a retry renders at once
