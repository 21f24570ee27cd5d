from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from . import services, webhook_http
from .models import (
    WEBHOOK_EVENTS,
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

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # A key is stopped by revoking it (api_key_revoke), which keeps when it was used.
        return False

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


class WebhookEndpointForm(forms.ModelForm):
    """The partner API's rules for an endpoint, checked the same way (webhook_http.check_url)."""

    # A URL typed without a scheme is taken as https, the only one allowed in production.
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        label=_("events"),
        choices=[(event, event) for event in WEBHOOK_EVENTS],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["partner", "url", "events", "active"]

    def clean_url(self) -> str:
        try:
            return webhook_http.check_url(self.cleaned_data["url"])
        except webhook_http.UnsafeUrl as exc:
            raise forms.ValidationError(str(exc)) from None


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "partner", "active", "consecutive_failures", "disabled_reason"]
    list_filter = ["active", "partner"]
    search_fields = ["url", "partner__name"]
    form = WebhookEndpointForm
    fields = [
        "partner",
        "url",
        "events",
        "active",
        "disabled_reason",
        "consecutive_failures",
        "created_at",
    ]
    readonly_fields = ["created_at", "disabled_reason", "consecutive_failures"]
    list_select_related = ["partner"]

    def get_readonly_fields(
        self, request: HttpRequest, obj: WebhookEndpoint | None = None
    ) -> list[str]:
        # An endpoint and its secret belong to one partner: register a new one for another.
        return [*self.readonly_fields, "partner"] if obj else self.readonly_fields

    def save_model(
        self, request: HttpRequest, obj: WebhookEndpoint, form: forms.ModelForm, change: bool
    ) -> None:
        # Through the services, as the API does: the same checks, and switching an endpoint on
        # forgets its failures.
        data = form.cleaned_data
        if change:
            changed = {f: data[f] for f in ("url", "events", "active") if f in form.changed_data}
            saved = services.webhook_endpoint_update(endpoint=obj, **changed)
        else:
            saved = services.webhook_endpoint_create(
                partner=data["partner"],
                url=data["url"],
                events=data["events"],
                active=data["active"],
            )
        for field in WebhookEndpoint._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding, obj._state.db = False, saved._state.db


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = readonly_fields = ("attempted_at", "status_code", "error", "duration_ms")

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
            services.webhook_delivery_redeliver(delivery=delivery)
        self.message_user(request, _("Queued again."), messages.SUCCESS)
