from __future__ import annotations

import factory

from accounts.models import Tier, User


class TierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tier

    name = factory.Sequence(lambda n: f"Custom {n}")
    thumbnail_heights = factory.LazyFunction(lambda: [150])


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    tier = factory.LazyFunction(Tier.objects.default)
    password = factory.django.Password("correct horse battery staple")
