"""The parcel lifecycle as one table: per action, where it may start, where it leads, and what it
leaves behind.

    announced ──check_in──► at_station ──hand_over──► picked_up
        │                       │
        └─cancel─► cancelled    └─mark_return_due─► return_due ──hand_back──► returned

`parcels.services` reads this table for every status change (`services/moves.py` applies it);
nothing else decides which moves are allowed, which timestamp a status sets, which event a move
records, which fee it earns the station or how a refusal is worded. A hand-over the buyer
refuses is `mark_return_due`'s row.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_noop

from stations.models import LedgerLine

from .models import Parcel


@dataclass(frozen=True)
class Transition:
    """One allowed move.

    `sources`: the statuses it may start from (none for `announce`, which creates the parcel).
    `target`: the status it leads to. `timestamp_field`: the parcel's column it sets to the moment
    of the move. `event_kind`: the ParcelEvent (and webhook) it records. `refusal`: the message,
    untranslated, when the parcel is elsewhere; `%(tracking)s` is its number and `%(why)s` what
    became of it. `fee`: the kind of ledger line the move earns the station (stations/earnings.py
    finds the amount), if any.
    """

    action: str
    sources: frozenset[str]
    target: str
    timestamp_field: str
    event_kind: str
    refusal: str = ""
    fee: str = ""


_S = Parcel.Status

# One row per action, read across: where it may start, where it leads, the column it stamps,
# the event it records, the wording of its refusal, and the fee it earns the station.
# fmt: off
TRANSITIONS: dict[str, Transition] = {t.action: t for t in (
    #          action             from                        to             stamps           records              refusal (%(why)s: what became of it)                                     fee
    Transition("announce",        frozenset(),                _S.ANNOUNCED,  "announced_at",  "parcel.announced"),
    Transition("check_in",        frozenset({_S.ANNOUNCED}),  _S.AT_STATION, "checked_in_at", "parcel.checked_in", gettext_noop("Parcel %(tracking)s cannot be checked in: %(why)s")),
    Transition("hand_over",       frozenset({_S.AT_STATION}), _S.PICKED_UP,  "picked_up_at",  "parcel.picked_up",  gettext_noop("Parcel %(tracking)s cannot be handed over: %(why)s"),      LedgerLine.Kind.HANDOVER),
    Transition("mark_return_due", frozenset({_S.AT_STATION}), _S.RETURN_DUE, "return_due_at", "parcel.return_due", gettext_noop("Parcel %(tracking)s cannot be marked for return: %(why)s")),
    Transition("hand_back",       frozenset({_S.RETURN_DUE}), _S.RETURNED,   "returned_at",   "parcel.returned",   gettext_noop("Parcel %(tracking)s cannot be handed back: %(why)s"),      LedgerLine.Kind.RETURN),
    Transition("cancel",          frozenset({_S.ANNOUNCED}),  _S.CANCELLED,  "cancelled_at",  "parcel.cancelled",  gettext_noop("Parcel %(tracking)s cannot be cancelled: %(why)s")),
)}
# fmt: on

# What happens to a parcel without moving it, recorded as events all the same.
CONFIRMED = "parcel.confirmed"  # the partner announced a parcel a station took in unannounced
HOLD_EXTENDED = "parcel.hold_extended"  # the buyer's one extension of the deadline
PARTNER_PREFIX = "partner."  # upstream tracking events the partner posts (`partner.dispatched`)

# Every event the network itself records (the partner's upstream ones aside).
NETWORK_EVENTS = frozenset(
    {CONFIRMED, HOLD_EXTENDED, *(t.event_kind for t in TRANSITIONS.values())}
)


def transition_into(status: str) -> Transition:
    """The move that leads to `status` (each status has one), e.g. to read when a parcel got
    there or what getting there earned."""
    return _INTO[status]


_INTO = {t.target: t for t in TRANSITIONS.values()}
