"""Background work, through Django's Tasks API.

The embedded default runs these at once, in the request; production runs
them in ``manage.py db_worker``. Callers only ever ``enqueue``; a task runs
the rendering module, never the services that enqueue it.
"""

from __future__ import annotations

from django_tasks import task

from accounts.models import User
from gallery import rendering, selectors


@task()
def render_thumbnails(image_id: int) -> int:
    try:
        created = rendering.thumbnails_render(image_id=image_id)
    except BaseException:  # an exiting worker too: the image shows Retry, not "processing"
        rendering.image_mark_failed(image_id=image_id)
        raise
    return len(created)


@task()
def backfill_thumbnails(*, tier_id: int | None = None, user_id: int | None = None) -> int:
    """Queue a render for every image of these owners that lacks a height its tier wants."""
    owners = User.objects.all()
    if tier_id is not None:
        owners = owners.filter(tier_id=tier_id)
    if user_id is not None:
        owners = owners.filter(pk=user_id)
    queued = 0
    for image_id in selectors.images_lacking_thumbnails(owners=owners):
        render_thumbnails.enqueue(image_id=image_id)
        queued += 1
    return queued
