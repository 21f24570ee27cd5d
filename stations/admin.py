from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from parcels import selectors as parcel_selectors
from parcels import tracking
from parcels.models import Parcel

from . import earnings, services
from .models import LedgerLine, Membership, Statement, Station, User


def admin_user(request: HttpRequest) -> User:
    """The person using the admin: the admin site lets in only signed-in staff, so never the
    anonymous user (for mypy, which sees `User | AnonymousUser`)."""
    return cast(User, request.user)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "full_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Personal info"), {"fields": ["full_name"]}),
        (
            _("Permissions"),
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        (_("Important dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]}),
    ]


def confirmation_page(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    template: str,
    title: str | Promise,
    form: forms.Form,
    **selected: QuerySet,
) -> TemplateResponse:
    """An action's page that asks for `form` before the action runs, in the admin's frame, with
    the objects selected (under the name the template gives them)."""
    return TemplateResponse(
        request,
        template,
        {
            **model_admin.admin_site.each_context(request),
            "title": title,
            "opts": model_admin.model._meta,
            **selected,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        },
    )


class RejectionForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (e-mailed to the owner)"),
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        max_length=2000,
    )


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class StationAdminForm(forms.ModelForm):
    class Meta:
        model = Station
        fields = sorted(services.STATION_ADMIN_FIELDS)

    def clean_capacity(self) -> int | None:
        capacity = self.cleaned_data.get("capacity")
        if (
            self.instance.pk is not None
            and capacity is not None
            and "capacity" in self.changed_data
        ):
            # The rule station_update applies, shown next to the field instead of as an error page.
            try:
                services.station_check_capacity(
                    station=self.instance, capacity=capacity, on_shelf=parcel_selectors.shelf_count
                )
            except services.StationError as exc:
                raise forms.ValidationError(str(exc)) from None
        return capacity


@admin.register(Station)
class StationAdmin(admin.ModelAdmin):
    form = StationAdminForm
    list_display = [
        "name",
        "kind",
        "postal_code",
        "status",
        "capacity",
        "created_at",
        "approved_at",
    ]
    list_filter = ["status", "kind"]
    search_fields = ["name", "slug", "postal_code", "address"]
    readonly_fields = [
        "status",
        "rejection_reason",
        "created_at",
        "approved_at",
        "suspended_at",
        "rejected_at",
        "closed_at",
    ]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]
    actions = ["approve", "reject", "suspend"]
    show_full_result_count = False

    def save_model(
        self, request: HttpRequest, obj: Station, form: forms.ModelForm, change: bool
    ) -> None:
        if not change:
            super().save_model(request, obj, form, change)  # a new station starts as applied
            return
        changed = {f: form.cleaned_data[f] for f in form.changed_data if f in form.cleaned_data}
        saved = services.station_update(
            station=obj, changes=changed, on_shelf=parcel_selectors.shelf_count
        )
        for field in Station._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))

    def _apply(self, request: HttpRequest, queryset: QuerySet[Station], service, done: str) -> None:
        ok, refused = 0, []
        for station in queryset:
            try:
                service(station=station)
                ok += 1
            except services.StationError as exc:
                refused.append(str(exc))
        if ok:
            self.message_user(
                request,
                ngettext("%(n)d station %(done)s.", "%(n)d stations %(done)s.", ok)
                % {"n": ok, "done": done},
                messages.SUCCESS,
            )
        for message in refused:
            self.message_user(request, message, messages.WARNING)

    @admin.action(description=_("Approve the selected stations"), permissions=["change"])
    def approve(self, request: HttpRequest, queryset: QuerySet[Station]) -> None:
        self._apply(request, queryset, services.station_approve, str(_("approved")))

    @admin.action(
        description=_("Reject the selected applications (asks for a reason)"),
        permissions=["change"],
    )
    def reject(self, request: HttpRequest, queryset: QuerySet[Station]) -> HttpResponse | None:
        form = RejectionForm(request.POST if "reject_confirmed" in request.POST else None)
        if form.is_valid():
            self._apply(
                request,
                queryset,
                lambda station: services.station_reject(
                    station=station, reason=form.cleaned_data["reason"]
                ),
                str(_("rejected")),
            )
            return None
        return confirmation_page(
            self,
            request,
            "admin/stations/station/reject.html",
            _("Reject applications"),
            form,
            stations=queryset,
        )

    @admin.action(description=_("Suspend the selected stations"), permissions=["change"])
    def suspend(self, request: HttpRequest, queryset: QuerySet[Station]) -> None:
        self._apply(request, queryset, services.station_suspend, str(_("suspended")))


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "station", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "station__name"]
    autocomplete_fields = ["user", "station"]
    list_select_related = ["user", "station"]


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records that are written only by the services: admins look, never edit."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class AdjustmentForm(forms.ModelForm):
    """Admins add corrections only; handover and return lines come from the services."""

    tracking_number = forms.CharField(
        label=_("Parcel tracking number"),
        required=False,
        help_text=_("Optional: the parcel the correction is about."),
    )

    class Meta:
        model = LedgerLine
        fields = ["station", "partner", "amount", "currency", "reason"]
        help_texts = {"amount": _("In minor units (cents); negative to take money back.")}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "reason" in self.fields:  # not on the read-only page of a line already written
            self.fields["reason"].required = True

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data  # what clean() returns; django-stubs types it as maybe None
        number = tracking.normalize(data.get("tracking_number") or "")
        data["parcel_id"] = None
        if number and data.get("station") and data.get("partner"):
            # The admin runs in the network scope (AdminScopeMiddleware).
            found = (
                Parcel.objects.filter(
                    station=data["station"], partner=data["partner"], tracking_number=number
                )
                .values_list("pk", flat=True)
                .first()
            )
            if found is None:
                self.add_error("tracking_number", _("No such parcel at this station."))
            data["parcel_id"] = found
        return data


@admin.register(LedgerLine)
class LedgerLineAdmin(admin.ModelAdmin):
    list_display = ["created_at", "station", "partner", "parcel", "kind", "amount", "currency"]
    list_filter = ["kind", "currency", "partner"]
    search_fields = ["parcel__tracking_number", "station__name"]
    list_select_related = ["station", "partner", "parcel"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    form = AdjustmentForm
    autocomplete_fields = ["station"]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # lines are immutable: a correction is a new line

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: LedgerLine, form: AdjustmentForm, change: bool
    ) -> None:
        line = earnings.ledger_adjust(
            station=obj.station,
            partner_id=obj.partner_id,
            parcel_id=form.cleaned_data.get("parcel_id"),
            amount=obj.amount,
            currency=obj.currency,
            reason=obj.reason,
            created_by=admin_user(request),
        )
        obj.pk, obj.kind, obj.created_at = line.pk, line.kind, line.created_at


class PayoutForm(forms.Form):
    payout_reference = forms.CharField(
        label=_("Payout reference (bank transfer id)"), max_length=120
    )


@admin.register(Statement)
class StatementAdmin(admin.ModelAdmin):
    list_display = ["month", "station", "currency", "total", "handovers", "returns", "paid_at"]
    list_filter = [("paid_at", admin.EmptyFieldListFilter), "month", "currency"]
    search_fields = ["station__name", "payout_reference"]
    list_select_related = ["station"]
    readonly_fields = [
        "station",
        "month",
        "currency",
        "handovers",
        "handover_total",
        "returns",
        "return_total",
        "adjustment_total",
        "total",
        "created_at",
        "paid_at",
        "payout_reference",
    ]
    actions = ["mark_paid"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.action(description=_("Mark the selected statements paid"), permissions=["change"])
    def mark_paid(self, request: HttpRequest, queryset: QuerySet[Statement]) -> HttpResponse | None:
        form = PayoutForm(request.POST if "payout_confirmed" in request.POST else None)
        if form.is_valid():
            self._apply(request, queryset, form.cleaned_data["payout_reference"])
            return None
        return confirmation_page(
            self,
            request,
            "admin/stations/statement/mark_paid.html",
            _("Mark statements paid"),
            form,
            statements=queryset,
        )

    def _apply(self, request: HttpRequest, queryset: QuerySet[Statement], reference: str) -> None:
        done = 0
        for st in queryset:
            try:
                earnings.statement_mark_paid(statement=st, reference=reference)
                done += 1
            except earnings.EarningsError as exc:
                self.message_user(request, f"{st}: {exc}", messages.WARNING)
        if done:
            self.message_user(
                request, _("%(n)d statements marked paid.") % {"n": done}, messages.SUCCESS
            )
