from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.cache import cache
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import User


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Throttle counters live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api() -> APIClient:
    """An API client with no credentials."""
    return APIClient()


@pytest.fixture
def token_for() -> Callable[[User], str]:
    """A function making a knox token for a user."""
    return lambda user: AuthToken.objects.create(user)[1]


@pytest.fixture
def api_as(token_for) -> Callable[[User], APIClient]:
    """A function returning an API client authenticated with a token of the user."""

    def client(user: User) -> APIClient:
        api_client = APIClient()
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
        return api_client

    return client
