"""The hold on the shelf: its deadline, the buyer's one extension, and the sweep that takes
parcels past it off pickup."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from parcels import notices
from parcels.exceptions import ParcelError, ParcelNotFound, WrongStatus
from parcels.lifecycle import HOLD_EXTENDED
from parcels.models import Parcel
from stations.models import Station

from .events import Actor, parcel_events_record
from .moves import lock, move


def hold_deadline_for(start: dt.datetime, days: int, station: Station) -> dt.datetime:
    """The end of the station's local day, `days` days after `start`: buyers are told a date."""
    tz = station.tzinfo
    last_day = start.astimezone(tz).date() + dt.timedelta(days=days)
    return dt.datetime.combine(last_day, dt.time(23, 59, 59), tzinfo=tz)


def parcel_extend_hold(*, parcel: Parcel, actor: Actor = None) -> Parcel:
    """The buyer's one extension: the deadline moves by the partner's extension days.

    Only while the parcel is on the shelf and before its deadline, and only once.
    """
    now = timezone.now()
    with transaction.atomic():
        locked = lock([parcel.pk], actor=actor)
        if not locked:
            raise ParcelNotFound(_("No such parcel."))
        parcel = locked[0]
        # Race: re-checked under the row lock, so two clicks extend once.
        if parcel.status != Parcel.Status.AT_STATION:
            raise WrongStatus(
                _("This parcel is no longer waiting for pickup, so its hold cannot be extended.")
            )
        if parcel.hold_extended:
            raise ParcelError(
                _("The pickup deadline was already extended once."), code="already_extended"
            )
        assert parcel.hold_deadline is not None  # at the station: check-in set its deadline
        if parcel.hold_deadline <= now:
            raise ParcelError(
                _("The pickup deadline has passed, so it can no longer be extended."),
                code="deadline_passed",
            )
        old = parcel.hold_deadline
        new = hold_deadline_for(old, parcel.partner.extension_days, parcel.station)
        Parcel.objects.filter(pk=parcel.pk).update(
            hold_deadline=new, hold_extended=True, updated_at=now
        )
        parcel.hold_deadline, parcel.hold_extended, parcel.updated_at = new, True, now
        parcel_events_record(
            parcels=[parcel],
            kind=HOLD_EXTENDED,
            actor=actor,
            occurred_at=now,
            detail={"from": old.isoformat(), "to": new.isoformat()},
        )
        notices.reschedule_reminders(parcel)
    return parcel


def parcels_sweep_overdue(*, now: dt.datetime, batch_size: int = 1000) -> int:
    """Move every parcel left on the shelf past its deadline to `return_due` (reason overdue).

    Set-based, in batches: each batch is one transaction that locks up to `batch_size` overdue
    rows (skipping rows another sweep or a clerk holds), moves them with one UPDATE, and writes
    their events and the buyers' notices in bulk. Safe to run twice and concurrently.
    """
    moved = 0
    while True:
        with transaction.atomic():
            # One query picks and locks the batch: the oldest overdue rows nobody else holds
            # (a clerk handing one over, another sweep), with just the columns the move needs.
            parcels = list(
                Parcel.objects.select_for_update(skip_locked=True)
                .filter(status=Parcel.Status.AT_STATION, hold_deadline__lt=now)
                .order_by("hold_deadline")
                .only(
                    "pk", "status", "station_id", "partner_id", "tracking_number", "recipient_email"
                )[:batch_size]
            )
            if not parcels:
                break
            move(
                parcels,
                "mark_return_due",
                actor=None,
                now=now,
                changes={"return_reason": Parcel.ReturnReason.OVERDUE},
                detail={"reason": Parcel.ReturnReason.OVERDUE},
            )
            notices.schedule_returned(parcels, now=now)
        moved += len(parcels)
        if len(parcels) < batch_size:
            break
    return moved
