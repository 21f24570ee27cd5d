from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from . import services
from .models import ApiKey, Partner, Tariff


class TariffInline(admin.TabularInline):
    model = Tariff
    extra = 1

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # A tariff pays the lines written while it was in force: add a new one, never edit.
        return False


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "currency", "default_hold_days", "extension_days", "active"]
    list_filter = ["active", "currency"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [TariffInline]


@admin.register(Tariff)
class TariffAdmin(admin.ModelAdmin):
    list_display = ["partner", "valid_from", "handover_fee", "return_fee", "currency"]
    list_filter = ["partner", "currency"]
    list_select_related = ["partner"]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["prefix", "partner", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["partner"]
    search_fields = ["prefix", "name", "partner__name"]
    readonly_fields = ["partner", "prefix", "created_at", "last_used_at", "revoked_at"]
    fields = ["partner", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]
    list_select_related = ["partner"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Keys are created with `manage.py create_api_key PARTNER_SLUG`, which shows the key once.
        return False

    @admin.action(description=_("Revoke the selected keys"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            services.api_key_revoke(key=key)
        self.message_user(request, _("Keys revoked."), messages.SUCCESS)
