"""The parcel lifecycle. Every change of a parcel's status happens here and nowhere else.

Each public function runs in its own transaction, locks the rows it changes, re-checks their
status under the lock, appends a ParcelEvent per parcel, and raises a `ParcelError` (with a stable
code) when the move is not allowed, in which case nothing was written. The allowed moves are one
table, `parcels.lifecycle.TRANSITIONS`, which `moves.move` applies; `events.py` writes every event.

The modules, by subject: announce.py and announce_batch.py (what partners announce, cancel and
report), intake.py (what a new parcel needs), check_in.py, hand_over.py, returns.py (taken off
pickup, handed back), hold.py (deadline, extension, overdue sweep). Callers import from here,
which also names the errors the services raise.
"""

from __future__ import annotations

from parcels import selectors
from parcels.exceptions import (
    InvalidInput,
    ParcelError,
    ParcelNotFound,
    StationUnavailable,
    WrongStatus,
)

from .announce import parcel_add_partner_event, parcel_announce, parcel_cancel
from .announce_batch import parcels_announce_batch
from .check_in import parcel_check_in
from .events import Actor, parcel_events_record
from .hand_over import parcel_hand_over
from .hold import hold_deadline_for, parcel_extend_hold, parcels_sweep_overdue
from .moves import wrong_status_error
from .returns import parcel_mark_return_due, parcels_hand_back

__all__ = [
    "Actor",
    "InvalidInput",
    "ParcelError",
    "ParcelNotFound",
    "StationUnavailable",
    "WrongStatus",
    "hold_deadline_for",
    "parcel_add_partner_event",
    "parcel_announce",
    "parcel_cancel",
    "parcel_check_in",
    "parcel_events_record",
    "parcel_extend_hold",
    "parcel_hand_over",
    "parcel_mark_return_due",
    "parcels_announce_batch",
    "parcels_hand_back",
    "parcels_sweep_overdue",
    "selectors",
    "wrong_status_error",
]
