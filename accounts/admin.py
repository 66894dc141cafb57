from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from accounts import services as account_services
from accounts import signals
from accounts.forms import TierAdminForm
from accounts.models import Tier, User


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin[Tier]):
    form = TierAdminForm
    list_display = ["name", "heights", "can_link_original", "can_make_expiring_links", "user_count"]
    search_fields = ["name"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tier]:
        return super().get_queryset(request).annotate(user_count=Count("users"))

    @admin.display(description="Thumbnail heights")
    def heights(self, tier: Tier) -> str:
        return ", ".join(f"{height} px" for height in tier.thumbnail_heights) or "—"

    @admin.display(description="Users", ordering="user_count")
    def user_count(self, tier: Tier) -> int:
        # The ignore: an annotation that get_queryset adds, unknown to the model.
        count: int = tier.user_count  # type: ignore[attr-defined]
        return count

    def save_model(
        self, request: HttpRequest, obj: Tier, form: forms.ModelForm[Tier], change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        if change and "thumbnail_heights" in form.changed_data:
            signals.tier_thumbnails_changed.send(sender=Tier, tier=obj)


# Generic in django-stubs only: django_stubs_ext.monkeypatch() (settings) does not
# make this form subscriptable at run time.
if TYPE_CHECKING:
    _AdminPasswordChangeForm = AdminPasswordChangeForm[User]
else:
    _AdminPasswordChangeForm = AdminPasswordChangeForm


class PasswordSetForm(_AdminPasswordChangeForm):
    """The admin's "change password" form: a password set here ends the other credentials."""

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=commit)
        if commit:
            account_services.credentials_end(user=user)
        return user


@admin.register(User)
class UserAdmin(DjangoUserAdmin[User]):
    change_password_form = PasswordSetForm
    list_display = ["username", "email", "tier", "is_staff", "date_joined"]
    list_filter = ["tier", "is_staff", "is_superuser", "is_active"]
    list_select_related = ["tier"]
    fieldsets = [
        *(DjangoUserAdmin.fieldsets or ())[:1],
        ("Plan", {"fields": ["tier"]}),
        *(DjangoUserAdmin.fieldsets or ())[1:],
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["username", "email", "tier", "password1", "password2"],
            },
        ),
    ]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"tier": Tier.objects.default(), **super().get_changeform_initial_data(request)}

    def save_model(
        self, request: HttpRequest, obj: User, form: forms.ModelForm[User], change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        if change and "tier" in form.changed_data:
            signals.user_tier_changed.send(sender=User, user=obj)
        if change and "is_active" in form.changed_data and not obj.is_active:
            account_services.user_deactivate(user=obj)
