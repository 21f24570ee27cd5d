"""The parcel lifecycle. Every change of a parcel's status happens here and nowhere else.

Each public function runs in its own transaction, locks the rows it changes, re-checks their
status under the lock, appends a ParcelEvent per parcel, and raises a `ParcelError` (with a stable
code) when the move is not allowed, in which case nothing was written.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from phonenumber_field.phonenumber import PhoneNumber, to_python

from config import sql
from partners import webhooks
from partners.models import Partner, Tariff
from stations.models import LedgerLine, Station, User

from . import codes, notices, selectors, tracking
from .exceptions import InvalidInput, ParcelError, ParcelNotFound, StationUnavailable, WrongStatus
from .models import TRANSITIONS, HandBack, Handover, Parcel, ParcelEvent, shelf_label

logger = logging.getLogger(__name__)

Actor = User | Partner | None  # None: the system itself (a sweep, a task)

# The timestamp column each status sets, and the event each move appends.
_STATUS_TIMESTAMP = {
    Parcel.Status.AT_STATION: "checked_in_at",
    Parcel.Status.PICKED_UP: "picked_up_at",
    Parcel.Status.RETURN_DUE: "return_due_at",
    Parcel.Status.RETURNED: "returned_at",
    Parcel.Status.CANCELLED: "cancelled_at",
}
_EVENT_KIND = {
    Parcel.Status.ANNOUNCED: "parcel.announced",
    Parcel.Status.AT_STATION: "parcel.checked_in",
    Parcel.Status.PICKED_UP: "parcel.picked_up",
    Parcel.Status.RETURN_DUE: "parcel.return_due",
    Parcel.Status.RETURNED: "parcel.returned",
    Parcel.Status.CANCELLED: "parcel.cancelled",
}


# --- helpers ------------------------------------------------------------------------------------


def normalize_tracking_number(value: str) -> str:
    """Tracking numbers are compared as scanners print them: no spaces, upper case."""
    return tracking.normalize(value)


def _tracking_number(value: object, *, empty_message: str) -> str:
    """The normalized tracking number, or InvalidInput: every way a number gets stored comes
    through here, so none outside the rules (parcels/tracking.py) can be, and nothing is cut."""
    number = normalize_tracking_number(value) if isinstance(value, str) else None
    if number == "":
        raise InvalidInput(empty_message, field="tracking_number")
    if number is None or not tracking.is_valid(number):
        raise InvalidInput(tracking.INVALID_MESSAGE, field="tracking_number")
    return number


def _parse_phone(raw: str | PhoneNumber) -> PhoneNumber:
    phone = to_python(raw)
    if not isinstance(phone, PhoneNumber) or not phone.is_valid():
        raise InvalidInput(
            _("Enter a valid phone number, with the country code if it is not local."),
            code="invalid_phone",
            field="recipient_phone",
        )
    return phone


def _column_text(value: str, field: str) -> str:
    """`value` without surrounding space, if the parcel's column can hold it (PostgreSQL text
    has no NUL, and the column has a length)."""
    value = value.strip()
    if "\x00" in value:
        raise InvalidInput(_("This text contains a character that is not allowed."), field=field)
    limit = Parcel._meta.get_field(field).max_length
    if limit is not None and len(value) > limit:
        raise InvalidInput(_("Use at most %(limit)d characters.") % {"limit": limit}, field=field)
    return value


def _actor_fields(actor: Actor) -> dict[str, Any]:
    return {
        "actor_user": actor if isinstance(actor, User) else None,
        "actor_partner": actor if isinstance(actor, Partner) else None,
    }


def hold_deadline_for(start: dt.datetime, days: int, station: Station) -> dt.datetime:
    """The end of the station's local day, `days` days after `start`: buyers are told a date."""
    tz = station.tzinfo
    last_day = start.astimezone(tz).date() + dt.timedelta(days=days)
    return dt.datetime.combine(last_day, dt.time(23, 59, 59), tzinfo=tz)


def _status_sentence(parcel: Parcel) -> str:
    when = {
        Parcel.Status.PICKED_UP: parcel.picked_up_at,
        Parcel.Status.RETURNED: parcel.returned_at,
        Parcel.Status.CANCELLED: parcel.cancelled_at,
    }.get(parcel.status)
    when_text = (
        date_format(timezone.localtime(when, parcel.station.tzinfo), "DATETIME_FORMAT")
        if when
        else ""
    )
    sentences = {
        Parcel.Status.ANNOUNCED: _("it has not been checked in at the station yet."),
        Parcel.Status.AT_STATION: _("it is already on the shelf, in slot %(slot)s.")
        % {"slot": parcel.shelf_label},
        Parcel.Status.PICKED_UP: _("it was already picked up (%(when)s).") % {"when": when_text},
        Parcel.Status.RETURN_DUE: _("it is due back to the partner."),
        Parcel.Status.RETURNED: _("it was already handed back to the partner (%(when)s).")
        % {"when": when_text},
        Parcel.Status.CANCELLED: _("the partner cancelled it (%(when)s).") % {"when": when_text},
    }
    return sentences[Parcel.Status(parcel.status)]


_ACTION_LABEL = {
    "check_in": gettext_noop("Parcel %(tracking)s cannot be checked in: %(why)s"),
    "hand_over": gettext_noop("Parcel %(tracking)s cannot be handed over: %(why)s"),
    "mark_return_due": gettext_noop("Parcel %(tracking)s cannot be marked for return: %(why)s"),
    "hand_back": gettext_noop("Parcel %(tracking)s cannot be handed back: %(why)s"),
    "cancel": gettext_noop("Parcel %(tracking)s cannot be cancelled: %(why)s"),
}


def wrong_status_error(parcel: Parcel, action: str) -> WrongStatus:
    message = _(_ACTION_LABEL[action]) % {
        "tracking": parcel.tracking_number,
        "why": _status_sentence(parcel),
    }
    return WrongStatus(message, status=parcel.status, tracking_number=parcel.tracking_number)


def _lock(
    parcel_ids: Sequence[int],
    *,
    actor: Actor = None,
    skip_locked: bool = False,
    station: Station | None = None,
) -> list[Parcel]:
    """Lock the parcels' rows for this transaction, in id order so two batches cannot deadlock.

    A partner acting only ever reaches its own parcels, whatever scope the caller entered. With
    `skip_locked`, rows another transaction holds are left out instead of waited for. A caller
    that already holds the parcels' `station` passes it, and it is not read again.
    """
    qs = Parcel.objects.select_for_update(of=("self",), skip_locked=skip_locked).filter(
        pk__in=parcel_ids
    )
    if isinstance(actor, Partner):
        qs = qs.filter(partner=actor)
    if station is None:
        return list(qs.select_related("partner", "station").order_by("pk"))
    parcels = list(qs.filter(station=station).select_related("partner").order_by("pk"))
    for parcel in parcels:
        parcel.station = station
    return parcels


class _Stale(Exception):
    """A parcel read without a lock changed before the move could claim it (see `_move`)."""


def _move(
    parcels: Sequence[Parcel],
    action: str,
    *,
    actor: Actor,
    now: dt.datetime,
    changes: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
    unchanged: Sequence[str] = (),
) -> None:
    """Apply one allowed move to parcels locked by `_lock`, and append their events.

    Must run inside the caller's transaction. Raises WrongStatus, writing nothing, if any parcel
    is not in a status the move may start from. A caller that read its one parcel without a
    lock names in `unchanged` the fields it relied on besides the status; if one of them was set
    or cleared in the meantime, `_Stale` is raised and the caller reads the parcel again.

    Every state change of a parcel comes through here, so the UPDATE and the events are plain
    SQL (config/sql.py).
    """
    allowed, target = TRANSITIONS[action]
    # Race: where the statuses were read under the row lock, a concurrent move has either
    # committed before we read (and we refuse here) or waits for our commit. Where they were not
    # (a hand-over), the conditional UPDATE below decides.
    for parcel in parcels:
        if parcel.status not in allowed:
            raise wrong_status_error(parcel, action)
    fields: dict[str, Any] = {
        "status": target,
        "updated_at": now,
        _STATUS_TIMESTAMP[target]: now,
        **(changes or {}),
    }
    ids = [p.pk for p in parcels]
    where = [
        f"id IN ({sql.placeholders(len(ids))})",
        f"status IN ({sql.placeholders(len(allowed))})",
    ]
    params = [*ids, *allowed]
    if unchanged:
        [parcel] = parcels  # read without a lock: one parcel at a time
        for name in unchanged:  # still set, or still unset, as when it was read
            column = Parcel._meta.get_field(name).column
            where.append(f"{column} IS {'' if getattr(parcel, name) is None else 'NOT '}NULL")
    updated = sql.update(Parcel, fields, " AND ".join(where), params)
    # Race: the conditional UPDATE is the guard where the rows were not locked first (SQLite has
    # no row locks; a hand-over reads its parcel before the transaction). On PostgreSQL it waits
    # for a concurrent move to commit, then matches nothing. A short count means someone else
    # moved a parcel first: say what became of it.
    if updated != len(ids):
        moved = Parcel.objects.filter(pk__in=ids).exclude(status__in=allowed).first()
        if moved is not None:
            raise wrong_status_error(moved, action)
        if unchanged:
            raise _Stale
        raise WrongStatus(_("Another person changed this parcel at the same moment. Try again."))
    for parcel in parcels:
        for name, value in fields.items():
            setattr(parcel, name, value)
    webhooks.enqueue_parcel_event(parcels, _EVENT_KIND[target], now=now)
    sql.insert(
        [
            ParcelEvent(
                parcel=parcel,
                kind=_EVENT_KIND[target],
                occurred_at=now,
                station_id=parcel.station_id,
                detail=detail or {},
                **_actor_fields(actor),
            )
            for parcel in parcels
        ]
    )


def _ledger_lines(
    parcels: Sequence[Parcel],
    kind: LedgerLine.Kind,
    *,
    now: dt.datetime,
    earned_at: dt.datetime | None = None,
) -> list[LedgerLine]:
    """One ledger line per parcel at its partner's tariff in force that day at the station.

    A parcel the partner never announced earns nothing yet: a station could otherwise invent
    parcels and pay itself. The partner's later announcement of it confirms it, and the fee is
    paid then (`parcel_announce`).
    """
    tariffs: dict[tuple[int, dt.date], Tariff | None] = {}
    lines = []
    for parcel in parcels:
        if parcel.announced_at is None:
            continue
        day = (earned_at or now).astimezone(parcel.station.tzinfo).date()
        key = (parcel.partner_id, day)
        if key not in tariffs:
            tariffs[key] = Tariff.current_for(parcel.partner, day)
        tariff = tariffs[key]
        if tariff is None:
            logger.warning(
                "partner %s has no tariff on %s; parcel %s earns 0",
                parcel.partner_id,
                day,
                parcel.pk,
            )
            amount, currency = 0, parcel.partner.currency
        else:
            amount = tariff.handover_fee if kind == LedgerLine.Kind.HANDOVER else tariff.return_fee
            currency = tariff.currency
        lines.append(
            LedgerLine(
                station=parcel.station,
                partner=parcel.partner,
                parcel=parcel,
                tariff=tariff,
                kind=kind,
                amount=amount,
                currency=currency,
                created_at=now,
            )
        )
    sql.insert(lines)
    return lines


# --- the lifecycle ------------------------------------------------------------------------------


def _new_parcel(
    *,
    partner: Partner,
    station: Station,
    tracking_number: str,
    recipient_name: str,
    recipient_phone: str | PhoneNumber,
    recipient_email: str,
    language: str,
    now: dt.datetime,
) -> Parcel:
    """An unsaved `announced` parcel, after checking what a new parcel needs: an active partner,
    the recipient's name and a valid phone number, and a language we write messages in.

    Everything the database would refuse is refused here, with the field's message: a batch
    inserts its parcels together, and one refused row would abort them all.
    """
    if not partner.active:
        raise InvalidInput(_("This partner is not active."), code="partner_inactive")
    if not tracking.is_valid(tracking_number):
        raise InvalidInput(tracking.INVALID_MESSAGE, field="tracking_number")
    recipient_name = _column_text(recipient_name, "recipient_name")
    if not recipient_name:
        raise InvalidInput(_("Enter the recipient's name."), field="recipient_name")
    phone = _parse_phone(recipient_phone)
    recipient_email = _column_text(recipient_email, "recipient_email")
    if language not in Parcel.Language.values:
        raise InvalidInput(_("Unknown language."), field="language")
    return Parcel(
        partner=partner,
        station=station,
        tracking_number=tracking_number,
        recipient_name=recipient_name,
        recipient_phone=phone,
        recipient_phone_last4=str(phone.national_number)[-4:],
        recipient_email=recipient_email,
        language=language,
        status=Parcel.Status.ANNOUNCED,
        created_at=now,
        updated_at=now,
    )


def _already_announced_message(tracking_number: str) -> str:
    return _("Parcel %(tracking)s was already announced to another station.") % {
        "tracking": tracking_number
    }


def _station_inactive_message(station: Station) -> str:
    return _("%(station)s is not taking parcels.") % {"station": station.name}


def parcel_announce(
    *,
    partner: Partner,
    station: Station,
    tracking_number: str,
    recipient_name: str,
    recipient_phone: str | PhoneNumber,
    recipient_email: str = "",
    language: str = Parcel.Language.EN,
    actor: Actor = None,
) -> tuple[Parcel, bool]:
    """Tell a station a parcel is on its way. Returns (parcel, created).

    Announcing a tracking number the partner already announced returns the existing parcel
    unchanged, so a partner can safely repeat a request.
    """
    tracking_number = _tracking_number(tracking_number, empty_message=_("Enter a tracking number."))
    existing = Parcel.objects.filter(partner=partner, tracking_number=tracking_number).first()
    if existing is not None:
        if existing.station_id != station.pk:
            raise InvalidInput(
                _already_announced_message(tracking_number),
                code="already_announced",
                field="tracking_number",
            )
        if existing.announced_at is None:
            existing = _confirm_unannounced(existing, actor=actor)
        return existing, False
    if not station.is_active:
        raise StationUnavailable(_station_inactive_message(station), code="station_inactive")
    now = timezone.now()
    parcel = _new_parcel(
        partner=partner,
        station=station,
        tracking_number=tracking_number,
        recipient_name=recipient_name,
        recipient_phone=recipient_phone,
        recipient_email=recipient_email,
        language=language,
        now=now,
    )
    parcel.announced_at = now
    try:
        with transaction.atomic():
            parcel.save(force_insert=True)
            ParcelEvent.objects.create(
                parcel=parcel,
                kind=_EVENT_KIND[Parcel.Status.ANNOUNCED],
                occurred_at=now,
                station=station,
                **_actor_fields(actor),
            )
    except IntegrityError:
        # Race: the same tracking number announced at the same moment; the first one wins.
        existing = Parcel.objects.filter(partner=partner, tracking_number=tracking_number).first()
        if existing is None:
            raise
        return existing, False
    return parcel, True


def _confirm_unannounced(parcel: Parcel, *, actor: Actor) -> Parcel:
    """The partner announces a parcel a station took in unannounced: it is now confirmed, and
    the fees it earned meanwhile are paid, at the tariffs of the days they were earned."""
    now = timezone.now()
    with transaction.atomic():
        [parcel] = _lock([parcel.pk])
        # Race: a conditional UPDATE, so two announcements confirm (and pay) once.
        if not Parcel.objects.filter(pk=parcel.pk, announced_at__isnull=True).update(
            announced_at=now, updated_at=now
        ):
            return parcel
        parcel.announced_at = now
        ParcelEvent.objects.create(
            parcel=parcel,
            kind="parcel.confirmed",
            occurred_at=now,
            station=parcel.station,
            **_actor_fields(actor),
        )
        if parcel.status == Parcel.Status.PICKED_UP:
            _ledger_lines(
                [parcel], LedgerLine.Kind.HANDOVER, now=now, earned_at=parcel.picked_up_at
            )
        elif parcel.status == Parcel.Status.RETURNED:
            _ledger_lines([parcel], LedgerLine.Kind.RETURN, now=now, earned_at=parcel.returned_at)
    return parcel


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
    tracking_number = _tracking_number(
        tracking_number, empty_message=_("Scan or type a tracking number.")
    )
    now = timezone.now()
    with transaction.atomic():
        # Race: the station row lock serialises check-ins at one station, so two clerks cannot
        # both take the last free slot, the same slot, or the same pickup code. NO KEY UPDATE,
        # because every event insert takes KEY SHARE on the station row (its foreign key): a full
        # FOR UPDATE here deadlocks with a concurrent cancel or hand-over of the same parcel.
        station = Station.objects.select_for_update(no_key=True).get(pk=station.pk)
        if not station.is_active:
            raise StationUnavailable(
                _("%(station)s is %(status)s and cannot take parcels in.")
                % {"station": station.name, "status": station.get_status_display().lower()},
                code="station_inactive",
            )
        matches = selectors.parcels_by_tracking_number(
            station=station, tracking_number=tracking_number, partner=partner
        )
        if len(matches) > 1:
            raise InvalidInput(
                _("Several partners sent a parcel numbered %(tracking)s. Choose the partner.")
                % {"tracking": tracking_number},
                code="choose_partner",
                field="partner",
            )
        parcel = _lock([matches[0].pk], station=station)[0] if matches else None
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
            parcel = _create_unannounced(
                station=station,
                tracking_number=tracking_number,
                partner=partner,
                recipient_name=recipient_name,
                recipient_phone=recipient_phone,
                recipient_email=recipient_email,
                language=language,
                now=now,
            )
        slot = occupancy.first_free_slot(station.capacity)
        changes = {
            "shelf_slot": slot,
            "pickup_token": codes.new_token(),
            "pickup_code": codes.new_code(occupancy.codes),
            "hold_deadline": hold_deadline_for(now, parcel.partner.default_hold_days, station),
        }
        _move(
            [parcel],
            "check_in",
            actor=actor,
            now=now,
            changes=changes,
            detail={"slot": shelf_label(slot), "announced": parcel.announced_at is not None},
        )
        notices.schedule_for_check_in(parcel, now=now)
    return parcel


def _create_unannounced(
    *,
    station: Station,
    tracking_number: str,
    partner: Partner | None,
    recipient_name: str,
    recipient_phone: str | PhoneNumber,
    recipient_email: str,
    language: str,
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
    parcel = _new_parcel(
        partner=partner,
        station=station,
        tracking_number=tracking_number,
        recipient_name=recipient_name,
        recipient_phone=recipient_phone,
        recipient_email=recipient_email,
        language=language,
        now=now,
    )
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


def parcel_hand_over(
    *,
    station: Station,
    credential: str,
    actor: User,
    refused: bool = False,
    note: str = "",
    found: Parcel | None = None,
) -> Parcel:
    """Give a parcel to the buyer who shows its QR code (the pickup link) or its 6-digit code.

    With `refused=True` the buyer inspected the parcel and refused it: it goes to `return_due`
    instead, with the reason `refused`, and nobody is paid. A caller that has just looked the
    credential up (the check-out page does, to show the parcel) passes what it `found`, which
    saves a second lookup.

    The parcel is not read again under a lock first: the move's conditional UPDATE (still
    `at_station`, still as announced as when it was read) locks the row and decides, so of two
    clerks scanning the same code one hands it over and the other is told it was just picked
    up. The announcement is the one other column a hand-over depends on and that can change on
    the shelf (it decides whether the fee is paid now); if it changed, the parcel is read again
    under its lock.
    """
    credential = credential.strip()
    typed = codes.is_code("".join(credential.split()))
    method = Handover.Method.CODE if typed else Handover.Method.TOKEN
    if found is not None and found.station_id != station.pk:
        found = None
    elif found is None and typed:
        found = selectors.parcel_by_code(
            station=station, code="".join(credential.split()), user_id=actor.pk
        )
    elif found is None:
        token = codes.token_from_scan(credential)
        found = selectors.parcel_by_token(station=station, token=token) if token else None
    if found is None:
        raise ParcelNotFound(
            _(
                "No parcel at this station has this pickup code. Check the digits, or ask the "
                "buyer to show the QR code."
            ),
            code="unknown_code",
        )
    found.station = station  # the station the lookup was filtered on
    hand_over = {"actor": actor, "method": method, "refused": refused, "note": note}
    try:
        return _hand_over(found, unchanged=("announced_at",), **hand_over)
    except _Stale:
        # Race: the partner confirmed the parcel between our read and the update.
        with transaction.atomic():
            [parcel] = _lock([found.pk], station=station)
            return _hand_over(parcel, **hand_over)


def _hand_over(
    parcel: Parcel,
    *,
    actor: User,
    method: str,
    refused: bool,
    note: str,
    unchanged: Sequence[str] = (),
) -> Parcel:
    now = timezone.now()
    with transaction.atomic():
        if refused:
            _move(
                [parcel],
                "mark_return_due",
                actor=actor,
                now=now,
                changes={"return_reason": Parcel.ReturnReason.REFUSED},
                detail={"reason": Parcel.ReturnReason.REFUSED, "note": note[:500]},
                unchanged=unchanged,
            )
            return parcel
        _move(
            [parcel],
            "hand_over",
            actor=actor,
            now=now,
            detail={"method": method},
            unchanged=unchanged,
        )
        # A second Handover for the parcel would violate its one-to-one key: a last guard.
        sql.insert(
            [
                Handover(
                    parcel=parcel,
                    station=parcel.station,
                    partner=parcel.partner,
                    clerk=actor,
                    method=method,
                    handed_over_at=now,
                )
            ]
        )
        _ledger_lines([parcel], LedgerLine.Kind.HANDOVER, now=now)
    return parcel


def parcel_mark_return_due(*, parcel: Parcel, reason: str, actor: Actor, note: str = "") -> Parcel:
    """Take a parcel off pickup: it waits on the shelf for the partner's courier.

    `reason` is one of Parcel.ReturnReason: overdue (the sweep), refused (at inspection),
    recalled (the partner asked for it back).
    """
    if reason not in Parcel.ReturnReason.values:
        raise InvalidInput(_("Unknown return reason."), field="reason")
    now = timezone.now()
    with transaction.atomic():
        locked = _lock([parcel.pk], actor=actor)
        if not locked:
            raise ParcelNotFound(_("No such parcel."))
        _move(
            locked,
            "mark_return_due",
            actor=actor,
            now=now,
            changes={"return_reason": reason},
            detail={"reason": reason, "note": note[:500]},
        )
        notices.schedule_returned(locked, now=now)
    return locked[0]


def parcels_hand_back(
    *, station: Station, parcel_ids: Sequence[int], courier_name: str, actor: User
) -> HandBack:
    """Give parcels that are due back to one partner's courier, all or none.

    Writes one HandBack for the batch, marks each parcel returned, and pays the return fee.
    """
    courier_name = courier_name.strip()
    if not courier_name:
        raise InvalidInput(_("Enter the courier's name."), field="courier_name")
    ids = sorted(set(parcel_ids))
    if not ids:
        raise InvalidInput(_("Choose at least one parcel to hand back."), field="parcels")
    now = timezone.now()
    with transaction.atomic():
        parcels = _lock(ids, station=station)
        if len(parcels) != len(ids):
            raise ParcelNotFound(_("Some of the chosen parcels are not at this station."))
        partner_ids = {p.partner_id for p in parcels}
        if len(partner_ids) > 1:
            raise InvalidInput(
                _("A courier takes one partner's parcels. Choose parcels of one partner."),
                code="mixed_partners",
                field="parcels",
            )
        hand_back = HandBack.objects.create(
            station=station,
            partner=parcels[0].partner,
            courier_name=courier_name,
            clerk=actor,
            created_at=now,
        )
        _move(
            parcels,
            "hand_back",
            actor=actor,
            now=now,
            changes={"hand_back": hand_back},
            detail={"hand_back": hand_back.pk},
        )
        _ledger_lines(parcels, LedgerLine.Kind.RETURN, now=now)
    return hand_back


def parcel_cancel(*, parcel: Parcel, actor: Actor, note: str = "") -> Parcel:
    """Withdraw an announced parcel before it reaches the station."""
    now = timezone.now()
    with transaction.atomic():
        locked = _lock([parcel.pk], actor=actor)
        if not locked:
            raise ParcelNotFound(_("No such parcel."))
        _move(locked, "cancel", actor=actor, now=now, detail={"note": note[:500]})
    return locked[0]


def parcel_extend_hold(*, parcel: Parcel, actor: Actor = None) -> Parcel:
    """The buyer's one extension: the deadline moves by the partner's extension days.

    Only while the parcel is on the shelf and before its deadline, and only once.
    """
    now = timezone.now()
    with transaction.atomic():
        locked = _lock([parcel.pk], actor=actor)
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
        ParcelEvent.objects.create(
            parcel=parcel,
            kind="parcel.hold_extended",
            occurred_at=now,
            station=parcel.station,
            detail={"from": old.isoformat(), "to": new.isoformat()},
            **_actor_fields(actor),
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
            _move(
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


def parcels_announce_batch(
    *, partner: Partner, items: Sequence[Mapping[str, Any]], actor: Actor = None
) -> list[dict[str, Any]]:
    """Announce up to 1,000 parcels at once. Returns one result per item, in order:
    `{"status": "created" | "exists", "parcel": Parcel}` or `{"status": "error", "code", "errors"}`.

    Items are independent: each is checked on its own, in the order and with the codes and
    messages of `parcel_announce` (an unknown station, then a number announced elsewhere, then an
    inactive station, then the parcel's own fields), and a bad item is reported and leaves nothing
    behind. Every check the database would make is made first, so the good items always go in,
    with one INSERT (plus one for their events). A tracking number already announced to the
    same station is "exists"; to another station it is an error.
    """
    from stations.models import Station

    now = timezone.now()
    results: list[dict[str, Any]] = [{} for _ in items]
    numbers: dict[int, str] = {}  # index → normalized number, for the items that have one
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            results[index] = _item_error(
                "invalid", {"non_field_errors": [_("Each parcel is an object of its fields.")]}
            )
            continue
        try:
            numbers[index] = _tracking_number(
                item.get("tracking_number"), empty_message=_("Enter a tracking number.")
            )
        except InvalidInput as exc:
            results[index] = _input_error(exc)
    slugs = {items[i].get("station") for i in numbers}
    stations = {
        s.slug: s
        for s in Station.objects.filter(
            # PostgreSQL cannot compare text with NUL; no slug has one.
            slug__in=[s for s in slugs if isinstance(s, str) and "\x00" not in s]
        )
    }
    existing = {
        p.tracking_number: p
        for p in Parcel.objects.filter(partner=partner, tracking_number__in=set(numbers.values()))
    }
    to_create: dict[str, tuple[int, Parcel]] = {}
    for index, number in numbers.items():
        item = items[index]
        slug = item.get("station")
        station = stations.get(slug) if isinstance(slug, str) else None
        if station is None:
            results[index] = _item_error("invalid", {"station": [_("No station has this slug.")]})
            continue
        if number in existing:
            found = existing[number]
            if found.station_id != station.pk:
                results[index] = _item_error(
                    "already_announced",
                    {"tracking_number": [_already_announced_message(number)]},
                )
            else:
                if found.announced_at is None:
                    # A station took it in unannounced: this announcement confirms it.
                    found = _confirm_unannounced(found, actor=actor)
                results[index] = {"status": "exists", "parcel": found}
            continue
        if number in to_create:
            results[index] = _item_error(
                "duplicate_in_batch",
                {"tracking_number": [_("The same tracking number is earlier in this batch.")]},
            )
            continue
        if not station.is_active:
            results[index] = _item_error(
                "station_inactive", {"station": [_station_inactive_message(station)]}
            )
            continue
        try:
            parcel = _new_parcel(
                partner=partner,
                station=station,
                tracking_number=number,
                recipient_name=_item_text(item, "recipient_name"),
                recipient_phone=_item_text(item, "recipient_phone", phone=True),
                recipient_email=_item_text(item, "recipient_email"),
                language=_item_text(item, "language") or Parcel.Language.EN,
                now=now,
            )
        except InvalidInput as exc:
            results[index] = _input_error(exc)
            continue
        parcel.announced_at = now
        to_create[number] = (index, parcel)
    if not partner.active and to_create:
        for index, _parcel in to_create.values():
            results[index] = _item_error(
                "partner_inactive", {"non_field_errors": [_("This partner is not active.")]}
            )
        to_create = {}
    if to_create:
        with transaction.atomic():
            # Race: a concurrent request may insert some of the same numbers; those rows are
            # skipped here and reported as existing below.
            # In tracking-number order, so two batches with overlapping numbers take the unique
            # index's locks in the same order and cannot deadlock.
            Parcel.objects.bulk_create(
                [p for _n, (_i, p) in sorted(to_create.items())], ignore_conflicts=True
            )
            saved = {
                p.tracking_number: p
                for p in Parcel.objects.filter(partner=partner, tracking_number__in=list(to_create))
            }
            created = [p for p in saved.values() if p.created_at == now and p.announced_at == now]
            ParcelEvent.objects.bulk_create(
                [
                    ParcelEvent(
                        parcel=p,
                        kind=_EVENT_KIND[Parcel.Status.ANNOUNCED],
                        occurred_at=now,
                        station_id=p.station_id,
                        **_actor_fields(actor),
                    )
                    for p in created
                ]
            )
        created_numbers = {p.tracking_number for p in created}
        for number, (index, wanted) in to_create.items():
            found = saved[number]
            if number not in created_numbers and found.station_id != wanted.station_id:
                # Race: a concurrent request announced it to another station first.
                results[index] = _item_error(
                    "already_announced",
                    {"tracking_number": [_already_announced_message(number)]},
                )
                continue
            results[index] = {
                "status": "created" if number in created_numbers else "exists",
                "parcel": found,
            }
    return results


def _item_error(code: str, errors: dict[str, list[str]]) -> dict[str, Any]:
    return {"status": "error", "code": code, "errors": errors}


def _input_error(exc: InvalidInput) -> dict[str, Any]:
    return _item_error(exc.code, {exc.context.get("field") or "non_field_errors": [str(exc)]})


def _item_text(item: Mapping[str, Any], field: str, *, phone: bool = False) -> Any:
    """A batch item's text field; missing or null is empty (as `parcel_announce`'s defaults)."""
    value = item.get(field)
    if value is None:
        return ""
    if isinstance(value, str) or (phone and isinstance(value, PhoneNumber)):
        return value
    raise InvalidInput(_("Enter text."), field=field)


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
    return ParcelEvent.objects.create(
        parcel=parcel,
        kind=f"partner.{kind}",
        occurred_at=occurred_at,
        actor_partner=partner,
        detail={"location": location[:120], "description": description[:300]},
    )
