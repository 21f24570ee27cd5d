"""The one writer of ParcelEvents: everything that happens to a parcel is recorded here.

The timeline, the partner API's event lists and the webhooks all read what this writes, so an
event and its webhook deliveries are written together, in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from config import sql
from parcels.models import Parcel, ParcelEvent
from partners import webhooks
from partners.models import Partner
from stations import selectors as station_selectors
from stations.models import User

Actor = User | Partner | None  # None: the system itself (a sweep, a task)


def parcel_events_record(
    *,
    parcels: Sequence[Parcel],
    kind: str,
    actor: Actor,
    occurred_at: dt.datetime,
    detail: Mapping[str, Any] | None = None,
    at_station: bool = True,
) -> list[ParcelEvent]:
    """Append the event `kind` to each parcel's timeline, and queue the webhooks of the partners
    that subscribed to it (none for a kind that is not a webhook event, at no cost).

    `actor` is the user or partner who acted, or None for the system. `detail` is stored as given:
    the caller leaves secrets out. With `at_station=False` the event names no station (an
    upstream event the partner reports from elsewhere). Must run inside the caller's transaction.
    """
    webhooks.enqueue_parcel_event(parcels, kind, now=occurred_at, station_slugs=_station_slugs_of)
    events = [
        ParcelEvent(
            parcel=parcel,
            kind=kind,
            occurred_at=occurred_at,
            station_id=parcel.station_id if at_station else None,
            detail=dict(detail or {}),
            actor_user=actor if isinstance(actor, User) else None,
            actor_partner=actor if isinstance(actor, Partner) else None,
        )
        for parcel in parcels
    ]
    # Every move of the counter writes one, so in plain SQL (config/sql.py); one statement for a
    # whole batch.
    sql.insert(events)
    return events


def _station_slugs_of(parcels: Sequence[Parcel]) -> dict[int, str]:
    return station_selectors.station_slugs(rows=parcels)
