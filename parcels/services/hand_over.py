"""Hand-over: the buyer shows the QR code or the 6-digit code and takes the parcel (or refuses
it at inspection)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config import sql
from parcels import codes, selectors
from parcels.exceptions import ParcelNotFound
from parcels.lifecycle import TRANSITIONS
from parcels.models import Handover, Parcel
from stations import earnings
from stations.models import Station, User

from .moves import Stale, lock, move


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
    shown = codes.parse_credential(credential)
    method = Handover.Method.CODE if shown.typed else Handover.Method.TOKEN
    if found is not None and found.station_id != station.pk:
        found = None
    elif found is None:
        found = selectors.parcel_by_credential(station=station, credential=shown, user_id=actor.pk)
    if found is None:
        raise ParcelNotFound(
            _(
                "No parcel at this station has this pickup code. Check the digits, or ask the "
                "buyer to show the QR code."
            ),
            code="unknown_code",
        )
    found.station = station  # the station the lookup was filtered on
    hand_over: dict[str, Any] = {"actor": actor, "method": method, "refused": refused, "note": note}
    try:
        return _hand_over(found, unchanged=("announced_at",), **hand_over)
    except Stale:
        # Race: the partner confirmed the parcel between our read and the update.
        with transaction.atomic():
            [parcel] = lock([found.pk], station=station)
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
            move(
                [parcel],
                "mark_return_due",
                actor=actor,
                now=now,
                changes={"return_reason": Parcel.ReturnReason.REFUSED},
                detail={"reason": Parcel.ReturnReason.REFUSED, "note": note[:500]},
                unchanged=unchanged,
            )
            return parcel
        move(
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
        earnings.ledger_earn(parcels=[parcel], kind=TRANSITIONS["hand_over"].fee, now=now)
    return parcel
