from __future__ import annotations

import mimetypes
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.views.decorators.cache import never_cache
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
    require_safe,
)
from django.views.decorators.vary import vary_on_headers
from django_htmx.middleware import HtmxDetails

from accounts.models import User
from gallery import access, limits, presenters, selectors, services, storage
from gallery.errors import GalleryError
from gallery.forms import ExpiringLinkForm, UploadForm
from gallery.models import Image, Rendition
from gallery.presenters import ImageCard


class HtmxHttpRequest(HttpRequest):
    """A request through django-htmx's middleware, from a signed-in user.

    Every view typed with it is ``@login_required``, so ``user`` is never anonymous.
    """

    htmx: HtmxDetails
    user: User


def _owned_card(request: HtmxHttpRequest, public_id: str) -> ImageCard:
    """The caller's image as a card; another user's answers 404 like a missing one."""
    image = selectors.image_owned(owner=request.user, public_id=public_id)
    return presenters.image_card(image, absolute_url=request.build_absolute_uri)


def _refused(response: HttpResponse, errors: Iterable[GalleryError]) -> HttpResponse:
    """Give a page's response the status and Retry-After its domain errors carry.

    The worst status wins (a 503 over a 429 over a 400), as the API would answer
    each alone; the messages (``str(error)``) are the caller's to show, in the
    fragment for htmx or as messages for a plain form post.
    """
    for error in errors:
        response.status_code = max(response.status_code, error.status_code)
        if error.retry_after is not None:
            wait = max(int(response.get("Retry-After", "0")), error.retry_after)
            response["Retry-After"] = str(wait)
    return response


@require_GET
@login_required
@vary_on_headers("HX-Request")
def image_list(request: HtmxHttpRequest) -> HttpResponse:
    paginator = Paginator(
        selectors.image_list(owner=request.user), settings.SMALLIMAGE_IMAGES_PER_PAGE
    )
    page = paginator.get_page(request.GET.get("page"))
    context = {
        "page": page,
        "cards": presenters.image_cards(page.object_list, absolute_url=request.build_absolute_uri),
        "tier": request.user.tier,
        "max_upload_mb": settings.SMALLIMAGE_MAX_UPLOAD_BYTES / 1_000_000,
        "keep_location": settings.SMALLIMAGE_KEEP_LOCATION,
    }
    template = "gallery/image_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#page"  # the next page of cards, for scrolling
    return render(request, template, context)


@require_POST
@login_required
def image_upload(request: HtmxHttpRequest) -> HttpResponse:
    """Upload one or more files: htmx and scripts get fragments, plain forms a redirect."""
    form = UploadForm(files=request.FILES)
    uploaded: list[Image] = []
    refusals: list[GalleryError] = []
    errors: list[str] = []
    if form.is_valid():
        for file in form.cleaned_data["files"]:
            try:
                limits.upload_count(request, user=request.user)
                uploaded.append(services.image_upload(owner=request.user, file=file))
            except GalleryError as error:  # the other files still go in
                refusals.append(error)
                errors.append(f"{services.clean_label(file.name)}: {error}")
    else:
        errors.extend(str(message) for message in form.errors["files"])

    if request.htmx:
        images = selectors.image_list(owner=request.user).filter(pk__in=[i.pk for i in uploaded])
        context = {
            "cards": presenters.image_cards(images, absolute_url=request.build_absolute_uri),
            "errors": errors,
        }
        status = 201 if form.is_valid() else 400
        response = render(request, "gallery/image_list.html#upload-result", context, status=status)
        return _refused(response, refusals)

    for image in uploaded:
        messages.success(request, f"Uploaded {image.name}.")
    for message in errors:
        messages.error(request, message)
    return redirect("gallery:image_list")


@require_GET
@login_required
def image_detail(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    card = _owned_card(request, public_id)
    context = {"card": card, "link_form": _link_form(card)}
    return render(request, "gallery/image_detail.html", context)


@require_GET
@login_required
def image_card(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    """One card, as the grid shows it: what a processing card polls for."""
    card = _owned_card(request, public_id)
    return render(request, "gallery/image_list.html#card", {"card": card})


@require_POST
@login_required
def image_retry(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    image = selectors.image_owned(owner=request.user, public_id=public_id)
    image = services.image_retry(image=image)
    if request.htmx:
        card = _owned_card(request, image.public_id)
        return render(request, "gallery/image_list.html#card", {"card": card})
    messages.info(request, f"Making the thumbnails of {image.name} again.")
    return redirect("gallery:image_list")


@require_http_methods(["GET", "POST"])
@login_required
def image_delete(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    image = selectors.image_owned(owner=request.user, public_id=public_id)
    if request.method == "POST":
        try:
            services.image_delete(image=image)
        except GalleryError as error:
            if request.htmx:
                card = _owned_card(request, public_id)
                context = {"card": card, "error": error}
                response = render(request, "gallery/image_list.html#card", context)
                return _refused(response, [error])
            messages.error(request, str(error))
            return redirect("gallery:image_detail", public_id)
        if request.htmx:
            return HttpResponse("")  # the card swaps itself out
        messages.success(request, f"Deleted {image.name}.")
        return redirect("gallery:image_list")
    return render(request, "gallery/image_confirm_delete.html", {"image": image})


def _link_form(card: ImageCard, data: Mapping[str, Any] | None = None) -> ExpiringLinkForm | None:
    if not card.can_make_expiring_links:
        return None
    return ExpiringLinkForm(data, rendition_choices=card.link_choices)


@require_POST
@login_required
def link_create(request: HtmxHttpRequest, public_id: str) -> HttpResponse:
    """Make an expiring link: htmx gets the link fragment, a plain form the detail page."""
    card = _owned_card(request, public_id)
    form = _link_form(card, request.POST)
    link = None
    refusal = None
    refusals: list[GalleryError] = []
    status = 200
    if form is None:  # no form to fill: the tier has no expiring links
        status = 403
        refusal = services.NO_EXPIRING_LINKS
    elif not form.is_valid():
        status = 400
    else:
        try:
            link = services.link_create(
                image=card.image,
                rendition=form.cleaned_data["rendition"],
                expires_in=form.cleaned_data["expires_in"],
            )
        except GalleryError as error:
            form.add_error(None, str(error))
            refusals.append(error)
    context = {
        "card": card,
        "link_form": form,
        "refusal": refusal,
        "link": link,
        "link_url": request.build_absolute_uri(link.url) if link else None,
    }
    template = "gallery/_expiring_link.html" if request.htmx else "gallery/image_detail.html"
    return _refused(render(request, template, context, status=status), refusals)


@require_safe
@never_cache
def share(request: HttpRequest, share_token: str) -> HttpResponse:
    """A stable link to one rendition, checked against the owner's tier at every request."""
    try:
        rendition = selectors.rendition_by_share_token(share_token=share_token)
    except Rendition.DoesNotExist:
        raise Http404("This link does not lead to an image.") from None
    if not access.rendition_reachable(rendition):
        raise Http404("This link does not lead to an image.")
    expire = settings.SMALLIMAGE_SHARE_REDIRECT_SECONDS
    return redirect(storage.signed(rendition.file.storage).url(rendition.file_name, expire=expire))


def _reachable_file(name: str) -> bool:
    """A stored file whose link may work now: its owner is active, their tier allows it."""
    try:
        rendition = selectors.rendition_by_file_name(name=name)
    except Rendition.DoesNotExist:
        return False
    return access.rendition_reachable(rendition) and default_storage.exists(name)


@require_safe
def file_serve(request: HttpRequest, name: str) -> HttpResponseBase:
    """Stream a stored file to whoever holds a valid signed link to it (embedded default)."""
    expires = request.GET.get("expires", "")
    verdict = storage.verify(name, expires, request.GET.get("signature", ""))
    if verdict is storage.Verdict.EXPIRED:
        return render(request, "gallery/link_error.html", {"expired": True}, status=410)
    if verdict is not storage.Verdict.VALID or not _reachable_file(name):
        return render(request, "gallery/link_error.html", {"expired": False}, status=404)
    content_type, _ = mimetypes.guess_type(name)
    response = FileResponse(
        default_storage.open(name), content_type=content_type or "application/octet-stream"
    )
    # Browsers may keep the file exactly as long as the link works, no longer.
    remaining = max(0, int(expires) - int(timezone.now().timestamp()))
    patch_cache_control(response, private=True, max_age=remaining)
    response["Content-Disposition"] = "inline"
    return response
