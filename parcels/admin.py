from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from phonenumber_field.phonenumber import PhoneNumber, to_python

from stations.admin import ReadOnlyAdmin, admin_user
from stations.models import Station

from . import services, tracking
from .exceptions import DomainError
from .models import HandBack, Handover, Notice, Parcel, ParcelEvent


class ParcelEventInline(admin.TabularInline):
    model = ParcelEvent
    extra = 0
    # A tuple fits both attributes' declared types (a list would not: lists are invariant).
    fields = readonly_fields = (
        "occurred_at",
        "kind",
        "station",
        "actor_user",
        "actor_partner",
        "detail",
    )
    can_delete = False
    ordering = ["occurred_at", "id"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[ParcelEvent]:
        return (
            super().get_queryset(request).select_related("station", "actor_user", "actor_partner")
        )


@admin.register(Parcel)
class ParcelAdmin(ReadOnlyAdmin):
    list_display = [
        "tracking_number",
        "partner",
        "station",
        "status",
        "shelf_label",
        "hold_deadline",
        "updated_at",
    ]
    list_filter = ["status", "partner", ("station", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["tracking_number", "recipient_phone", "station__name"]
    search_help_text = _("An exact tracking number, a phone number, or part of a station's name.")
    list_select_related = ["partner", "station"]
    show_full_result_count = False
    inlines = [ParcelEventInline]
    actions = ["cancel"]
    exclude = ["pickup_token"]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Parcel], search_term: str
    ) -> tuple[QuerySet[Parcel], bool]:
        # Each branch is an indexed equality (or a join through the small station table); the
        # default LIKE over all three columns would read the whole parcel table.
        term = search_term.strip()
        if not term:
            return queryset, False
        match = Q(tracking_number=tracking.normalize(term))
        phone = to_python(term)
        if isinstance(phone, PhoneNumber) and phone.is_valid():
            match |= Q(recipient_phone=phone)
        stations = Station.objects.filter(name__icontains=term).values("pk")[:50]
        match |= Q(station__in=stations)
        return queryset.filter(match), False

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        # Parcels are read-only here; cancelling is an action for those who may change parcels.
        return request.user.has_perm("parcels.change_parcel")

    @admin.display(description=_("shelf slot"))
    def shelf_label(self, obj: Parcel) -> str:
        return obj.shelf_label

    @admin.action(description=_("Cancel the selected announced parcels"), permissions=["cancel"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Parcel]) -> None:
        done = 0
        for parcel in queryset:
            try:
                services.parcel_cancel(parcel=parcel, actor=admin_user(request), note="admin")
                done += 1
            except DomainError as exc:
                self.message_user(request, str(exc), messages.WARNING)
        if done:
            self.message_user(request, _("%(n)d parcels cancelled.") % {"n": done})


@admin.register(ParcelEvent)
class ParcelEventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "kind", "parcel", "station", "actor_user", "actor_partner"]
    list_filter = ["kind"]
    search_fields = ["=parcel__tracking_number"]
    list_select_related = ["parcel", "station", "actor_user", "actor_partner"]
    show_full_result_count = False


@admin.register(Handover)
class HandoverAdmin(ReadOnlyAdmin):
    list_display = ["handed_over_at", "parcel", "station", "partner", "clerk", "method"]
    list_filter = ["method", "partner"]
    search_fields = ["=parcel__tracking_number", "station__name"]
    list_select_related = ["parcel", "station", "partner", "clerk"]
    show_full_result_count = False


@admin.register(HandBack)
class HandBackAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "station", "partner", "courier_name", "clerk"]
    list_filter = ["partner"]
    search_fields = ["station__name", "courier_name"]
    list_select_related = ["station", "partner", "clerk"]
    show_full_result_count = False


@admin.register(Notice)
class NoticeAdmin(ReadOnlyAdmin):
    """Messages to buyers: filter by *failed* to see what could not be delivered, and why."""

    list_display = [
        "created_at",
        "parcel",
        "kind",
        "channel",
        "status",
        "attempts",
        "due_at",
        "last_error",
    ]
    list_filter = ["status", "kind", "channel"]
    search_fields = ["=parcel__tracking_number"]
    list_select_related = ["parcel"]
    show_full_result_count = False
