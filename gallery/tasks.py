"""Background work, through Django's Tasks API.

The embedded default runs these at once, in the request; production runs
them in ``manage.py db_worker``. Callers only ever ``enqueue``.
"""

from __future__ import annotations

from django_tasks import task

from accounts.models import User
from gallery import services


@task()
def render_thumbnails(image_id: int) -> int:
    try:
        created = services.thumbnails_render(image_id=image_id)
    except Exception:
        services.image_mark_failed(image_id=image_id)
        raise
    return len(created)


@task()
def backfill_thumbnails(*, tier_id: int | None = None, user_id: int | None = None) -> int:
    owners = User.objects.all()
    if tier_id is not None:
        owners = owners.filter(tier_id=tier_id)
    if user_id is not None:
        owners = owners.filter(pk=user_id)
    return services.thumbnails_backfill(owners=owners)
