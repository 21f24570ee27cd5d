"""Check-in: a parcel goes on the station's shelf, with a slot, a pickup token and a code."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from phonenumber_field.phonenumber import PhoneNumber

from config import sql
from parcels import codes, notices, selectors
from parcels.exceptions import InvalidInput, ParcelError, ParcelNotFound, StationUnavailable
from parcels.models import Parcel, shelf_label
from partners.models import Partner
from stations.models import Station, User

from . import intake
from .hold import hold_deadline_for
from .moves import move, wrong_status_error


def parcel_check_in(
    *,
    station: Station,
    tracking_number: str,
    actor: User,
    partner: Partner | None = None,
    recipient_name: str = "",
    recipient_phone: str | PhoneNumber = "",
    recipient_email: str = "",
    language: str = Parcel.Language.EN,
) -> Parcel:
    """Put a parcel on the station's shelf: give it a slot, a pickup token and a code.

    A parcel announced to this station is matched by tracking number (and partner, if given). A
    parcel nobody announced is created on the spot, which needs its partner and recipient.
    """
    tracking_number = intake.tracking_number(
        tracking_number, empty_message=_("Scan or type a tracking number.")
    )
    now = timezone.now()
    with transaction.atomic():
        # Race: the station row lock serialises check-ins at one station, so two clerks cannot
        # both take the last free slot, the same slot, or the same pickup code. NO KEY UPDATE,
        # because every event insert takes KEY SHARE on the station row (its foreign key): a full
        # FOR UPDATE here deadlocks with a concurrent cancel or hand-over of the same parcel.
        station = _locked(station)
        if not station.is_active:
            raise StationUnavailable(
                _("%(station)s is %(status)s and cannot take parcels in.")
                % {"station": station.name, "status": station.get_status_display().lower()},
                code="station_inactive",
            )
        matches = _numbered(station, tracking_number, partner)
        if len(matches) > 1:
            raise InvalidInput(
                _("Several partners sent a parcel numbered %(tracking)s. Choose the partner.")
                % {"tracking": tracking_number},
                code="choose_partner",
                field="partner",
            )
        parcel = matches[0] if matches else None
        if parcel is not None and parcel.status != Parcel.Status.ANNOUNCED:
            raise wrong_status_error(parcel, "check_in")

        occupancy = selectors.shelf_occupancy(station=station)
        if occupancy.count >= station.capacity:
            raise StationUnavailable(
                _(
                    "The shelf is full (%(count)s of %(capacity)s slots). Hand parcels back "
                    "or over before checking more in."
                )
                % {"count": occupancy.count, "capacity": station.capacity},
                code="station_full",
            )
        if parcel is None:
            recipient = intake.Recipient(recipient_name, recipient_phone, recipient_email, language)
            parcel = _create_unannounced(partner, station, tracking_number, recipient, now=now)
        slot = occupancy.first_free_slot(station.capacity)
        changes = {
            "shelf_slot": slot,
            "pickup_token": codes.new_token(),
            "pickup_code": codes.new_code(occupancy.codes),
            "hold_deadline": hold_deadline_for(now, parcel.partner.default_hold_days, station),
        }
        move(
            [parcel],
            "check_in",
            actor=actor,
            now=now,
            changes=changes,
            detail={"slot": shelf_label(slot), "announced": parcel.announced_at is not None},
        )
        notices.schedule_for_check_in(parcel, now=now)
    return parcel


def _locked(station: Station) -> Station:
    """The station read again under its row lock (NO KEY UPDATE: see parcel_check_in)."""
    locked = sql.first(Station, "t0.id = %s", [station.pk], lock="no key update")
    if locked is None:
        raise Station.DoesNotExist
    return locked


def _numbered(station: Station, tracking_number: str, partner: Partner | None) -> list[Parcel]:
    """The parcels numbered `tracking_number` at the station (of `partner`, if given), read and
    locked in one statement; ones still in play (announced or on the shelf) first, so that a
    finished parcel of another partner does not make the match ambiguous. At most two: two say
    the number is ambiguous."""
    where, params = "t0.station_id = %s AND t0.tracking_number = %s", [station.pk, tracking_number]
    if partner is not None:
        where, params = f"{where} AND t0.partner_id = %s", [*params, partner.pk]
    found = sql.select(
        Parcel, where, params, related=("partner",), order_by="t0.id", limit=10, lock="update"
    )
    for parcel in found:
        parcel.station = station
    live = [p for p in found if p.status not in Parcel.TERMINAL]
    return (live or found)[:2]


def _create_unannounced(
    partner: Partner | None,
    station: Station,
    tracking_number: str,
    recipient: intake.Recipient,
    *,
    now: dt.datetime,
) -> Parcel:
    """A parcel that arrived with no announcement, created as `announced` and checked in at once
    (so it goes through the same move, in the same transaction, as any other check-in)."""
    if partner is None:
        raise ParcelNotFound(
            _(
                "No parcel %(tracking)s is announced for this station. To check it in anyway, "
                "choose its partner and enter the recipient."
            )
            % {"tracking": tracking_number},
            code="not_announced",
        )
    parcel = intake.new_parcel(partner, station, tracking_number, recipient, now=now)
    try:
        with transaction.atomic():
            parcel.save(force_insert=True)
            return parcel
    except IntegrityError:
        raise ParcelError(
            _(
                "%(partner)s announced parcel %(tracking)s to another station. Ask the courier "
                "to take it there."
            )
            % {"partner": partner.name, "tracking": tracking_number},
            code="announced_elsewhere",
        ) from None
