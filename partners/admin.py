from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from . import services, webhooks
from .models import (
    ApiKey,
    DeliveryAttempt,
    Partner,
    Tariff,
    WebhookDelivery,
    WebhookEndpoint,
)


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
    fields = ["partner", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]
    list_select_related = ["partner"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        readonly = ["prefix", "created_at", "last_used_at", "revoked_at"]
        return [*readonly, "partner"] if obj else readonly

    def save_model(self, request: HttpRequest, obj: ApiKey, form: object, change: bool) -> None:
        if change:
            obj.save(update_fields=["name"])
            return
        # A new key is drawn by the service; the admin sees it once, in this message.
        key, raw = services.api_key_create(partner=obj.partner, name=obj.name)
        obj.pk, obj.prefix, obj.key_hash, obj.created_at = (
            key.pk,
            key.prefix,
            key.key_hash,
            key.created_at,
        )
        self.message_user(
            request,
            _("The new key for %(partner)s is %(key)s. Copy it now: it is not shown again.")
            % {"partner": obj.partner, "key": raw},
            messages.WARNING,
        )

    @admin.action(description=_("Revoke the selected keys"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            services.api_key_revoke(key=key)
        self.message_user(request, _("Keys revoked."), messages.SUCCESS)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "partner", "active", "consecutive_failures", "disabled_reason"]
    list_filter = ["active", "partner"]
    search_fields = ["url", "partner__name"]
    fields = ["partner", "url", "events", "active", "disabled_reason", "created_at"]
    readonly_fields = ["created_at", "disabled_reason"]
    list_select_related = ["partner"]


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ["attempted_at", "status_code", "error", "duration_ms"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "event_type",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "due_at",
    ]
    list_filter = ["status", "endpoint__partner"]
    search_fields = ["message__msg_id", "endpoint__url"]
    list_select_related = ["message", "endpoint"]
    readonly_fields = [
        "message",
        "endpoint",
        "status",
        "attempts",
        "due_at",
        "last_status_code",
        "last_error",
        "delivered_at",
        "created_at",
    ]
    inlines = [DeliveryAttemptInline]
    actions = ["redeliver"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("event"))
    def event_type(self, obj: WebhookDelivery) -> str:
        return obj.message.event_type

    @admin.action(description=_("Send the selected messages again"), permissions=["change"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        for delivery in queryset:
            webhooks.redeliver(delivery)
        self.message_user(request, _("Queued again."), messages.SUCCESS)
