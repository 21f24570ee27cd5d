"""What a partner tells the network about its parcels: one announcement, the confirmation of a
parcel a station took in unannounced, a cancellation, and upstream tracking events.
(Announcing many at once: announce_batch.py. A recall is a return: returns.py.)"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from phonenumber_field.phonenumber import PhoneNumber

from parcels.exceptions import InvalidInput, ParcelNotFound, StationUnavailable
from parcels.lifecycle import CONFIRMED, PARTNER_PREFIX, TRANSITIONS, transition_into
from parcels.models import Parcel, ParcelEvent
from partners.models import Partner
from stations import earnings, sizes
from stations.models import Station

from . import intake
from .events import Actor, parcel_events_record
from .moves import lock, move


def parcel_announce(
    *,
    partner: Partner,
    station: Station,
    tracking_number: str,
    recipient_name: str,
    recipient_phone: str | PhoneNumber,
    recipient_email: str = "",
    language: str = Parcel.Language.EN,
    size: str = "",
    measured: sizes.Measures = sizes.UNMEASURED,
    actor: Actor = None,
) -> tuple[Parcel, bool]:
    """Tell a station a parcel is on its way. Returns (parcel, created). Its `size` class and
    `measured` edges and weight are optional (intake.parcel_size).

    Announcing a tracking number the partner already announced returns the existing parcel
    unchanged, so a partner can safely repeat a request.
    """
    tracking_number = intake.tracking_number(
        tracking_number, empty_message=_("Enter a tracking number.")
    )
    existing = Parcel.objects.filter(partner=partner, tracking_number=tracking_number).first()
    if existing is not None:
        if existing.station_id != station.pk:
            raise InvalidInput(
                intake.already_announced_message(tracking_number),
                code="already_announced",
                field="tracking_number",
            )
        if existing.announced_at is None:
            existing = confirm_unannounced(existing, actor=actor)
        return existing, False
    if not station.is_active:
        raise StationUnavailable(intake.station_inactive_message(station), code="station_inactive")
    now = timezone.now()
    recipient = intake.Recipient(recipient_name, recipient_phone, recipient_email, language)
    parcel = intake.new_parcel(
        partner, station, tracking_number, recipient, now=now, size=size, measured=measured
    )
    announce = TRANSITIONS["announce"]
    setattr(parcel, announce.timestamp_field, now)
    try:
        with transaction.atomic():
            parcel.save(force_insert=True)
            parcel_events_record(
                parcels=[parcel], kind=announce.event_kind, actor=actor, occurred_at=now
            )
    except IntegrityError:
        # Race: the same tracking number announced at the same moment; the first one wins.
        existing = Parcel.objects.filter(partner=partner, tracking_number=tracking_number).first()
        if existing is None:
            raise
        return existing, False
    return parcel, True


def confirm_unannounced(parcel: Parcel, *, actor: Actor) -> Parcel:
    """The partner announces a parcel a station took in unannounced: it is now confirmed, and
    the fees it earned meanwhile are paid, at the tariffs of the days they were earned."""
    now = timezone.now()
    with transaction.atomic():
        [parcel] = lock([parcel.pk])
        # Race: a conditional UPDATE, so two announcements confirm (and pay) once.
        if not Parcel.objects.filter(pk=parcel.pk, announced_at__isnull=True).update(
            announced_at=now, updated_at=now
        ):
            return parcel
        parcel.announced_at = now
        parcel_events_record(parcels=[parcel], kind=CONFIRMED, actor=actor, occurred_at=now)
        # The move that brought it where it is, if one earns a fee (a hand-over, a hand-back).
        reached = transition_into(parcel.status)
        if reached.fee:
            earnings.ledger_earn(
                parcels=[parcel],
                kind=reached.fee,
                now=now,
                earned_at=getattr(parcel, reached.timestamp_field),
            )
    return parcel


def parcel_cancel(*, parcel: Parcel, actor: Actor, note: str = "") -> Parcel:
    """Withdraw an announced parcel before it reaches the station."""
    now = timezone.now()
    with transaction.atomic():
        locked = lock([parcel.pk], actor=actor)
        if not locked:
            raise ParcelNotFound(_("No such parcel."))
        move(locked, "cancel", actor=actor, now=now, detail={"note": note[:500]})
    return locked[0]


def parcel_add_partner_event(
    *,
    parcel: Parcel,
    partner: Partner,
    kind: str,
    occurred_at: dt.datetime,
    location: str = "",
    description: str = "",
) -> ParcelEvent:
    """An upstream tracking event from the partner (dispatched, customs cleared, …), shown on
    the buyer's timeline. It changes no status."""
    if parcel.partner_id != partner.pk:
        raise ParcelNotFound(_("No such parcel."))
    [event] = parcel_events_record(
        parcels=[parcel],
        kind=f"{PARTNER_PREFIX}{kind}",
        actor=partner,
        occurred_at=occurred_at,
        detail={"location": location[:120], "description": description[:300]},
        at_station=False,
    )
    return event
