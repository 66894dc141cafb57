"""The token API: the browser's abilities for programs, through the same services."""

from __future__ import annotations

from typing import Any, cast

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from knox.models import AuthToken
from knox.views import LoginView as KnoxLoginView
from knox.views import LogoutAllView as KnoxLogoutAllView
from knox.views import LogoutView as KnoxLogoutView
from rest_framework import status
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts import services as account_services
from accounts.models import User
from api import serializers as api
from api.permissions import CanAddUsers, TwoFactorSetUpWhereRequired
from gallery import limits, presenters, selectors, services
from gallery.models import Image

# The services' domain errors (gallery.errors, accounts.errors) and Django's
# ValidationError pass through these views: api.exceptions.exception_handler
# answers them, with their status, message and Retry-After.

NO_CONTENT = {204: OpenApiResponse(description="Done.")}


class AuthenticatedRequest(Request):
    """A request past the default IsAuthenticated permission: ``user`` is never anonymous."""

    user: User


def _image_body(request: Request, image: Image) -> dict[str, Any]:
    card = presenters.image_card(image, absolute_url=request.build_absolute_uri)
    return api.ImageSerializer(card).data


class LoginView(KnoxLoginView):
    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    def get_user_serializer_class(self) -> type[api.UserSerializer]:
        return api.UserSerializer

    @extend_schema(
        request=api.LoginSerializer,
        responses={200: api.TokenSerializer},
        summary="Sign in with username or email and password; get a token",
    )
    def post(self, request: Request, format: str | None = None) -> Response:
        credentials = api.LoginSerializer(data=request.data)
        credentials.is_valid(raise_exception=True)
        request.user = account_services.user_sign_in(
            request=request._request,
            login=credentials.validated_data["login"],
            password=credentials.validated_data["password"],
            code=credentials.validated_data.get("code", ""),
        )
        return super().post(request, format=format)


@extend_schema(request=None, responses=NO_CONTENT, summary="Revoke the token of this request")
class LogoutView(KnoxLogoutView):
    pass


@extend_schema(request=None, responses=NO_CONTENT, summary="Revoke every token of the user")
class LogoutAllView(KnoxLogoutAllView):
    pass


class MeView(APIView):
    @extend_schema(responses=api.UserSerializer, summary="Your profile and what your tier allows")
    def get(self, request: AuthenticatedRequest) -> Response:
        return Response(api.UserSerializer(request.user).data)


class PasswordChangeView(APIView):
    @extend_schema(
        request=api.PasswordChangeSerializer,
        responses=NO_CONTENT,
        summary="Change your own password (other tokens are revoked)",
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = api.PasswordChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account_services.password_change(
            request=request._request,
            user=request.user,
            keep_token=request.auth if isinstance(request.auth, AuthToken) else None,
            **data.validated_data,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ImagePagination(PageNumberPagination):
    page_size = 24
    page_size_query_param = "page_size"
    max_page_size = 100


# Any, not Image: serializer_class shapes presenters' ImageCards, not the model.
class ImageListView(GenericAPIView[Any]):
    pagination_class = ImagePagination
    serializer_class = api.ImageSerializer

    def get_queryset(self) -> QuerySet[Image]:
        # A cast: IsAuthenticated (the default permission) let this request in.
        return selectors.image_list(owner=cast("User", self.request.user))

    @extend_schema(
        operation_id="v1_images_list",
        responses=api.ImageSerializer(many=True),
        summary="Your images, newest first, with the links your tier allows",
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        page = self.paginate_queryset(self.get_queryset()) or []  # None only unpaginated
        cards = presenters.image_cards(page, absolute_url=request.build_absolute_uri)
        return self.get_paginated_response(api.ImageSerializer(cards, many=True).data)

    @extend_schema(
        request={"multipart/form-data": api.ImageUploadSerializer},
        responses={
            201: api.ImageSerializer,
            503: OpenApiResponse(description="Busy with other large images; see Retry-After."),
        },
        summary="Upload one PNG or JPEG image",
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        files = request.FILES.getlist("file")
        if len(files) != 1:
            message = 'Send exactly one file, in the multipart field "file".'
            raise ValidationError({"file": [message]})
        limits.upload_count(request._request, user=request.user)
        image = services.image_upload(owner=request.user, file=files[0])
        image = selectors.image_get(owner=request.user, public_id=image.public_id)
        return Response(_image_body(request, image), status=status.HTTP_201_CREATED)


class ImageDetailView(APIView):
    @extend_schema(responses=api.ImageSerializer, summary="One of your images")
    def get(self, request: AuthenticatedRequest, public_id: str) -> Response:
        image = selectors.image_owned(owner=request.user, public_id=public_id)
        return Response(_image_body(request, image))

    @extend_schema(responses=NO_CONTENT, summary="Delete an image, its thumbnails and links")
    def delete(self, request: AuthenticatedRequest, public_id: str) -> Response:
        services.image_delete(image=selectors.image_owned(owner=request.user, public_id=public_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class LinkCreateView(APIView):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "links"

    @extend_schema(
        request=api.LinkCreateSerializer,
        responses={
            201: api.LinkSerializer,
            403: OpenApiResponse(description="Your tier cannot make this link."),
            409: OpenApiResponse(description="That thumbnail is still being made."),
        },
        summary="Make a link to one rendition that expires after the given seconds",
    )
    def post(self, request: AuthenticatedRequest, public_id: str) -> Response:
        image = selectors.image_owned(owner=request.user, public_id=public_id)
        data = api.LinkCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        link = services.link_create(image=image, **data.validated_data)
        body = api.LinkSerializer(link).data
        body["url"] = request.build_absolute_uri(link.url)
        return Response(body, status=status.HTTP_201_CREATED)


class UserCreateView(APIView):
    permission_classes = [CanAddUsers, TwoFactorSetUpWhereRequired]

    @extend_schema(
        request=api.UserCreateSerializer,
        responses={201: api.UserSerializer},
        summary='Create a user on a given tier (staff with the "Can add user" permission)',
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        data = api.UserCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = account_services.user_create(**data.validated_data)
        return Response(api.UserSerializer(user).data, status=status.HTTP_201_CREATED)
