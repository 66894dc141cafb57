"""Rendering in the background: the database task backend and `manage.py db_worker`."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from gallery import pipeline, rendering, services
from gallery.models import Image, Rendition
from tests.factories import UserFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def queued_tasks(settings):
    """Tasks go to the database queue, as in production, until a worker runs them."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def run_worker() -> None:
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)


def thumbnail_heights(image: Image) -> list[int]:
    # Filtered here, not in the query: that tells mypy the heights are never None.
    return sorted(
        r.thumbnail_height
        for r in Rendition.objects.filter(image=image)
        if r.thumbnail_height is not None
    )


# The worker closes its database connections between tasks, as in production,
# so these tests commit for real instead of running inside a test transaction.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("queued_tasks")]


def test_upload_answers_at_once_and_the_card_polls_until_ready(premium_user, login, jpeg_upload):
    client = login(premium_user)
    response = client.post(reverse("gallery:image_upload"), {"files": jpeg_upload()}, **HTMX)
    assert response.status_code == 201
    image = Image.objects.get()
    assert image.status == Image.Status.PROCESSING
    assert thumbnail_heights(image) == []
    card_url = reverse("gallery:image_card", args=[image.public_id])
    assert f'hx-get="{card_url}"' in response.content.decode()
    assert "Making thumbnails" in response.content.decode()

    run_worker()

    image.refresh_from_db()
    assert image.status == Image.Status.READY
    assert thumbnail_heights(image) == [200, 400]
    card = client.get(card_url, **HTMX).content.decode()
    assert "hx-trigger" not in card  # polling stops
    assert "Making thumbnails" not in card
    assert "<img" in card


def test_failed_render_shows_an_error_and_can_be_retried(
    basic_user, login, jpeg_upload, monkeypatch, media_files
):
    image = services.image_upload(owner=basic_user, file=jpeg_upload())
    real_render = pipeline.render

    def broken(*args, **kwargs):
        raise OSError("storage went away")

    monkeypatch.setattr(pipeline, "render", broken)
    run_worker()
    image.refresh_from_db()
    assert image.status == Image.Status.FAILED
    client = login(basic_user)
    card = client.get(reverse("gallery:image_card", args=[image.public_id])).content.decode()
    assert "could not be made" in card and "Retry" in card
    assert len(media_files()) == 1  # the original only: no partial thumbnails

    monkeypatch.setattr(pipeline, "render", real_render)
    response = client.post(reverse("gallery:image_retry", args=[image.public_id]), **HTMX)
    assert response.status_code == 200
    assert "Making thumbnails" in response.content.decode()
    run_worker()
    image.refresh_from_db()
    assert image.status == Image.Status.READY
    assert thumbnail_heights(image) == [200]


def test_retry_of_another_users_image_is_not_found(basic_user, login, jpeg_upload):
    other = services.image_upload(owner=UserFactory.create(), file=jpeg_upload())
    response = login(basic_user).post(reverse("gallery:image_retry", args=[other.public_id]))
    assert response.status_code == 404


def test_tier_backfill_runs_in_the_worker(basic_user, jpeg_upload):
    image = services.image_upload(owner=basic_user, file=jpeg_upload(900, 900))
    run_worker()
    assert thumbnail_heights(image) == [200]
    tier = basic_user.tier
    tier.thumbnail_heights = [200, 300, 500]
    tier.save()
    services.tier_thumbnails_changed(tier=tier)  # outside a transaction: queued at once
    assert thumbnail_heights(image) == [200]  # queued, not run
    run_worker()
    assert thumbnail_heights(image) == [200, 300, 500]


def test_two_workers_on_one_image_make_one_set_of_thumbnails(
    premium_user, jpeg_upload, media_files
):
    image = services.image_upload(owner=premium_user, file=jpeg_upload(2000, 1500))
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def render() -> None:
        try:
            start.wait()
            rendering.thumbnails_render(image_id=image.pk)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=render) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert thumbnail_heights(image) == [200, 400]
    assert sorted(media_files()) == sorted(r.file_name for r in image.renditions.all())


def test_link_to_a_thumbnail_still_being_made_says_so(enterprise_user, jpeg_upload):
    api = APIClient()
    api.force_authenticate(enterprise_user)
    upload = api.post("/api/v1/images/", {"file": jpeg_upload()}, format="multipart").json()
    assert [link["rendition"] for link in upload["links"]] == ["original"]
    url = f"/api/v1/images/{upload['id']}/links/"
    response = api.post(url, {"rendition": "200", "expires_in": 600}, format="json")
    assert response.status_code == 409
    assert "still being made" in response.json()["detail"]
    assert api.post(url, {"rendition": "999", "expires_in": 600}, format="json").status_code == 403
    run_worker()
    assert api.post(url, {"rendition": "200", "expires_in": 600}, format="json").status_code == 201


def test_an_upload_completes_while_another_image_is_rendering(
    premium_user, jpeg_upload, monkeypatch
):
    rendering_image = services.image_upload(owner=premium_user, file=jpeg_upload(1600, 1200))
    inside, resume = threading.Event(), threading.Event()
    real_render = pipeline.render

    def paused_render(*args, **kwargs):
        inside.set()
        resume.wait(timeout=60)
        return real_render(*args, **kwargs)

    monkeypatch.setattr(pipeline, "render", paused_render)
    errors: list[BaseException] = []
    uploaded: list[Image] = []

    def in_thread(work) -> threading.Thread:
        def run() -> None:
            try:
                work()
            except BaseException as error:  # reported below
                errors.append(error)
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    renderer = in_thread(lambda: rendering.thumbnails_render(image_id=rendering_image.pk))
    uploader = None
    try:
        assert inside.wait(timeout=60)
        # A write while the other image decodes, by the same owner. A transaction
        # held across the render makes it wait: on SQLite for every write, on
        # PostgreSQL for the owner's row that the old lock took with the image.
        uploader = in_thread(
            lambda: uploaded.append(services.image_upload(owner=premium_user, file=jpeg_upload()))
        )
        uploader.join(timeout=15)
        assert not uploader.is_alive(), "the upload waited for the render to finish"
        if connection.vendor == "postgresql":
            # Nor is the rendering image's row held: it can be locked at once.
            with transaction.atomic():
                Image.objects.select_for_update(nowait=True).get(pk=rendering_image.pk)
    finally:
        resume.set()
        renderer.join()
        if uploader is not None:
            uploader.join()
    assert errors == []
    assert uploaded[0].status == Image.Status.PROCESSING  # queued behind the worker
    assert thumbnail_heights(rendering_image) == [200, 400]


def test_a_dead_renders_claim_expires_and_a_later_render_takes_over(
    premium_user, jpeg_upload, media_files
):
    image = services.image_upload(owner=premium_user, file=jpeg_upload())
    # What a worker that died mid-render leaves: a claim, no thumbnails.
    Image.objects.filter(pk=image.pk).update(render_claim="dead", render_claimed_at=timezone.now())
    assert rendering.thumbnails_render(image_id=image.pk) == []  # still its lease
    with time_machine.travel(timezone.now() + rendering.RENDER_LEASE + timedelta(seconds=1)):
        assert len(rendering.thumbnails_render(image_id=image.pk)) == 2
    image.refresh_from_db()
    assert (image.status, image.render_claim, image.render_claimed_at) == (
        Image.Status.READY,
        "",
        None,
    )
    assert sorted(media_files()) == sorted(r.file_name for r in image.renditions.all())


def test_thumbnails_of_an_image_deleted_while_rendering_are_deleted_too(
    premium_user, jpeg_upload, monkeypatch, media_files
):
    image = services.image_upload(owner=premium_user, file=jpeg_upload())
    real_render = pipeline.render

    def render_then_delete(*args, **kwargs):
        thumbnails = real_render(*args, **kwargs)
        services.image_delete(image=Image.objects.get(pk=image.pk))
        return thumbnails

    monkeypatch.setattr(pipeline, "render", render_then_delete)
    assert rendering.thumbnails_render(image_id=image.pk) == []
    assert media_files() == []


def test_a_height_the_tier_gains_while_rendering_is_rendered_too(
    basic_user, jpeg_upload, monkeypatch
):
    image = services.image_upload(owner=basic_user, file=jpeg_upload(900, 900))
    real_render = pipeline.render

    def render_while_the_tier_changes(*args, **kwargs):
        tier = basic_user.tier
        tier.thumbnail_heights = [200, 300]
        tier.save()
        monkeypatch.setattr(pipeline, "render", real_render)
        return real_render(*args, **kwargs)

    monkeypatch.setattr(pipeline, "render", render_while_the_tier_changes)
    rendering.thumbnails_render(image_id=image.pk)
    assert thumbnail_heights(image) == [200, 300]
