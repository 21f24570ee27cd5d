"""Parcels, their tracking timeline, and the records of what left the shelf.

The lifecycle (see ARCHITECTURE.md):

    announced ──check_in──► at_station ──hand_over──► picked_up
        │                       │
        └─cancel─► cancelled    └─mark_return_due─► return_due ──hand_back──► returned

A parcel's status is only ever changed by `parcels.services`; the allowed moves are one table,
`parcels.lifecycle.TRANSITIONS`.
"""

from __future__ import annotations

from typing import ClassVar, Self

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager
from phonenumber_field.modelfields import PhoneNumberField

from config.indexes import partial_index, partial_unique
from stations.models import StationPartnerScoped
from stations.sizes import Size

SHELF_ROW_SIZE = 50


class Parcel(StationPartnerScoped):
    """A parcel a partner sends to a station for a buyer to collect."""

    class Status(models.TextChoices):
        ANNOUNCED = "announced", _("Announced")
        AT_STATION = "at_station", _("At the station")
        PICKED_UP = "picked_up", _("Picked up")
        RETURN_DUE = "return_due", _("Due back to the partner")
        RETURNED = "returned", _("Returned to the partner")
        CANCELLED = "cancelled", _("Cancelled")

    class ReturnReason(models.TextChoices):
        OVERDUE = "overdue", _("Not collected in time")
        REFUSED = "refused", _("Refused at inspection")
        RECALLED = "recalled", _("Recalled by the partner")

    class Language(models.TextChoices):
        EN = "en", "English"
        ZH_HANS = "zh-hans", "简体中文"
        MS = "ms", "Bahasa Melayu"

    # Statuses in which the parcel physically sits on the station's shelf and takes a slot.
    ON_SHELF = (Status.AT_STATION, Status.RETURN_DUE)
    TERMINAL = (Status.PICKED_UP, Status.RETURNED, Status.CANCELLED)

    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="parcels"
    )
    station = models.ForeignKey(
        "stations.Station", on_delete=models.PROTECT, related_name="parcels"
    )
    tracking_number = models.CharField(_("tracking number"), max_length=64)
    recipient_name = models.CharField(_("recipient name"), max_length=150)
    recipient_phone = PhoneNumberField(_("recipient phone"))
    # The last four digits, kept apart so the shelf can be searched by them with an index.
    recipient_phone_last4 = models.CharField(max_length=4, blank=True, editable=False)
    recipient_email = models.EmailField(_("recipient e-mail"), blank=True)
    language = models.CharField(
        _("language"), max_length=8, choices=Language.choices, default=Language.EN
    )
    # Its size class and measures, as the partner gave them (stations/sizes.py); "" or None:
    # not given. A parcel of unknown size counts as M.
    size = models.CharField(
        _("size"), max_length=2, choices=Size.choices, blank=True, default="", db_default=""
    )
    length_cm = models.PositiveSmallIntegerField(_("length (cm)"), null=True, blank=True)
    width_cm = models.PositiveSmallIntegerField(_("width (cm)"), null=True, blank=True)
    height_cm = models.PositiveSmallIntegerField(_("height (cm)"), null=True, blank=True)
    weight_g = models.PositiveIntegerField(_("weight (g)"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.ANNOUNCED
    )
    return_reason = models.CharField(
        _("return reason"), max_length=10, choices=ReturnReason.choices, blank=True
    )
    shelf_slot = models.PositiveIntegerField(_("shelf slot"), null=True, blank=True)
    # NULL, not "", until check-in: the unique constraints below skip NULLs.
    pickup_token = models.CharField(max_length=64, null=True, blank=True, editable=False)  # noqa: DJ001
    pickup_code = models.CharField(  # noqa: DJ001
        _("pickup code"), max_length=6, null=True, blank=True, editable=False
    )
    hold_deadline = models.DateTimeField(_("hold deadline"), null=True, blank=True)
    hold_extended = models.BooleanField(_("hold extended"), default=False)
    hand_back = models.ForeignKey(
        "parcels.HandBack", on_delete=models.PROTECT, null=True, blank=True, related_name="parcels"
    )

    announced_at = models.DateTimeField(_("announced at"), null=True, blank=True)
    checked_in_at = models.DateTimeField(_("checked in at"), null=True, blank=True)
    picked_up_at = models.DateTimeField(_("picked up at"), null=True, blank=True)
    return_due_at = models.DateTimeField(_("due back since"), null=True, blank=True)
    returned_at = models.DateTimeField(_("returned at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    _default_manager: ClassVar[ScopedManager[Self]]  # django-stubs reads each model's own

    class Meta:
        verbose_name = _("parcel")
        verbose_name_plural = _("parcels")
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "tracking_number"], name="parcel_partner_tracking_uniq"
            ),
            partial_unique("parcel_pickup_token_uniq", "pickup_token", pickup_token__isnull=False),
            # A code identifies a parcel on one station's shelf; once it leaves the shelf the code
            # may be issued again.
            partial_unique(
                "parcel_station_code_on_shelf_uniq", "station", "pickup_code", status="at_station"
            ),
            partial_unique(
                "parcel_station_slot_on_shelf_uniq",
                "station",
                "shelf_slot",
                status__in=["at_station", "return_due"],
            ),
            models.CheckConstraint(
                condition=models.Q(
                    status__in=[
                        "announced",
                        "at_station",
                        "picked_up",
                        "return_due",
                        "returned",
                        "cancelled",
                    ]
                ),
                name="parcel_status_valid",
            ),
        ]
        indexes = [
            # The station's screens: shelf by status, parcels nearest their deadline, check-in
            # lookup by tracking number.
            models.Index(
                fields=["station", "status", "hold_deadline"], name="parcel_station_deadline_idx"
            ),
            # Exact and prefix look-ups (pattern ops let PostgreSQL use it for LIKE 'AB12%').
            models.Index(
                fields=["station", "tracking_number"],
                name="parcel_station_tracking_idx",
                opclasses=["", "varchar_pattern_ops"],
            ),
            # The shelf's history, newest change first.
            models.Index(fields=["station", "-updated_at"], name="parcel_station_updated_idx"),
            # A typed code that is no longer on the shelf is looked up to say it was used.
            models.Index(fields=["station", "pickup_code"], name="parcel_station_code_idx"),
            # The overdue sweep across all stations.
            partial_index("parcel_overdue_idx", "hold_deadline", status="at_station"),
            # The partner API: list by recent change.
            models.Index(fields=["partner", "updated_at"], name="parcel_partner_updated_idx"),
            # The admin's look-ups across the network: exact tracking number or phone.
            models.Index(fields=["tracking_number"], name="parcel_tracking_idx"),
            models.Index(fields=["recipient_phone"], name="parcel_phone_idx"),
            models.Index(
                fields=["station", "recipient_phone_last4"], name="parcel_station_phone4_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.tracking_number

    def get_status_display(self) -> str:  # type: ignore[no-redef]  # replaces Django's, on purpose
        # Django's own builds a dict of every choice, translating each label, on every call; a
        # list of 30 parcels paid that 30 times.
        try:
            return str(self.Status(self.status).label)
        except ValueError:
            return self.status

    @property
    def shelf_label(self) -> str:
        """The slot as written on the shelf: a letter per row of 50 and a number, e.g. B-07."""
        if self.shelf_slot is None:
            return ""
        return shelf_label(self.shelf_slot)

    @property
    def is_on_shelf(self) -> bool:
        return self.status in self.ON_SHELF


def shelf_label(slot: int) -> str:
    row, position = divmod(slot - 1, SHELF_ROW_SIZE)
    letters = ""
    row += 1
    while row:
        row, rem = divmod(row - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return f"{letters}-{position + 1:02d}"


class ParcelScoped(models.Model):
    """A record of one parcel (its `parcel`), scoped as the parcel is: by its station and its
    partner."""

    # Typed for mypy as StationPartnerScoped's, and declared again by each subclass likewise.
    objects: ClassVar[ScopedManager[Self]] = ScopedManager(
        station="parcel__station", partner="parcel__partner"
    )
    _default_manager: ClassVar[ScopedManager[Self]]

    class Meta:
        abstract = True


class ParcelEvent(ParcelScoped):
    """One entry of a parcel's timeline. Append-only.

    `kind` is a dotted name: `parcel.*` for what happens in the network (`parcel.checked_in`),
    `partner.*` for upstream tracking events a partner posts (`partner.dispatched`).
    """

    parcel = models.ForeignKey(Parcel, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=60)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)
    station = models.ForeignKey(
        "stations.Station",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Where it happened, if at a station."),
    )
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_partner = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    _default_manager: ClassVar[ScopedManager[Self]]  # django-stubs reads each model's own

    class Meta:
        verbose_name = _("parcel event")
        verbose_name_plural = _("parcel events")
        ordering = ["occurred_at", "id"]
        indexes = [
            models.Index(fields=["parcel", "occurred_at"], name="event_parcel_time_idx"),
            # The check-in page lists what its clerk checked in at the station this session.
            partial_index(
                "event_checked_in_by_idx",
                "station",
                "actor_user",
                "occurred_at",
                kind="parcel.checked_in",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} @ {self.occurred_at:%Y-%m-%d %H:%M}"

    @property
    def actor_label(self) -> str:
        if self.actor_user_id:
            return str(self.actor_user)
        if self.actor_partner_id:
            return str(self.actor_partner)
        return "system"


class Handover(StationPartnerScoped):
    """The record that a buyer collected a parcel. One per parcel, enforced by the database."""

    class Method(models.TextChoices):
        TOKEN = "token", _("QR code")
        CODE = "code", _("Pickup code")

    parcel = models.OneToOneField(Parcel, on_delete=models.PROTECT, related_name="handover")
    station = models.ForeignKey(
        "stations.Station", on_delete=models.PROTECT, related_name="handovers"
    )
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="handovers"
    )
    clerk = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="handovers"
    )
    method = models.CharField(_("method"), max_length=8, choices=Method.choices)
    handed_over_at = models.DateTimeField(_("handed over at"), default=timezone.now)

    _default_manager: ClassVar[ScopedManager[Self]]  # django-stubs reads each model's own

    class Meta:
        verbose_name = _("handover")
        verbose_name_plural = _("handovers")
        indexes = [
            models.Index(fields=["station", "handed_over_at"], name="handover_station_time_idx")
        ]

    def __str__(self) -> str:
        return f"{self.parcel} @ {self.handed_over_at:%Y-%m-%d %H:%M}"


class HandBack(StationPartnerScoped):
    """A batch of parcels a station gave back to one partner's courier."""

    station = models.ForeignKey(
        "stations.Station", on_delete=models.PROTECT, related_name="hand_backs"
    )
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="hand_backs"
    )
    courier_name = models.CharField(_("courier name"), max_length=120)
    clerk = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="hand_backs"
    )
    created_at = models.DateTimeField(_("handed back at"), default=timezone.now)

    _default_manager: ClassVar[ScopedManager[Self]]  # django-stubs reads each model's own

    class Meta:
        verbose_name = _("hand-back")
        verbose_name_plural = _("hand-backs")
        indexes = [models.Index(fields=["station", "created_at"], name="handback_station_time_idx")]

    def __str__(self) -> str:
        return f"{self.partner} · {self.courier_name} @ {self.created_at:%Y-%m-%d %H:%M}"


class Notice(ParcelScoped):
    """A message to a buyer, recorded once per parcel, kind and channel (the outbox).

    Rows are written in the transaction that makes them due (a check-in, a return) with the time
    they are due; the worker sends them and records the outcome. A failed attempt is retried later
    (a new `due_at`) until `MAX_ATTEMPTS`, then it is `failed` and shows in the admin.
    """

    class Kind(models.TextChoices):
        PICKUP = "pickup", _("Ready for pickup")
        REMINDER = "reminder", _("Reminder")
        FINAL = "final", _("Final notice")
        RETURNED = "returned", _("Going back to the sender")

    class Channel(models.TextChoices):
        SMS = "sms", "SMS"
        EMAIL = "email", _("E-mail")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped (no longer relevant)")

    parcel = models.ForeignKey(Parcel, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    channel = models.CharField(_("channel"), max_length=6, choices=Channel.choices)
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.PENDING
    )
    due_at = models.DateTimeField(_("due at"))
    # Queued for the worker until then: the beat sweep does not queue it again meanwhile.
    queued_until = models.DateTimeField(null=True, blank=True, editable=False)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    _default_manager: ClassVar[ScopedManager[Self]]  # django-stubs reads each model's own

    class Meta:
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        constraints = [
            models.UniqueConstraint(
                fields=["parcel", "kind", "channel"], name="notice_parcel_kind_channel_uniq"
            )
        ]
        indexes = [
            # The beat sweep: pending notices by due time.
            partial_index("notice_pending_due_idx", "due_at", status="pending"),
            models.Index(fields=["status", "created_at"], name="notice_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.channel}) for parcel {self.parcel_id}"
