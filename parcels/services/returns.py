"""Returns: a parcel taken off pickup (overdue, refused, recalled by its partner) waits on the
shelf for the partner's courier, who takes it back (a hand-back)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from parcels import notices
from parcels.exceptions import InvalidInput, ParcelNotFound
from parcels.lifecycle import TRANSITIONS
from parcels.models import HandBack, Parcel
from stations import earnings
from stations.models import Station, User

from .events import Actor
from .moves import lock, move


def parcel_mark_return_due(*, parcel: Parcel, reason: str, actor: Actor, note: str = "") -> Parcel:
    """Take a parcel off pickup: it waits on the shelf for the partner's courier.

    `reason` is one of Parcel.ReturnReason: overdue (the sweep), refused (at inspection),
    recalled (the partner asked for it back).
    """
    if reason not in Parcel.ReturnReason.values:
        raise InvalidInput(_("Unknown return reason."), field="reason")
    now = timezone.now()
    with transaction.atomic():
        locked = lock([parcel.pk], actor=actor)
        if not locked:
            raise ParcelNotFound(_("No such parcel."))
        move(
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
        parcels = lock(ids, station=station)
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
        move(
            parcels,
            "hand_back",
            actor=actor,
            now=now,
            changes={"hand_back": hand_back},
            detail={"hand_back": hand_back.pk},
        )
        earnings.ledger_earn(parcels=parcels, kind=TRANSITIONS["hand_back"].fee, now=now)
    return hand_back
