"""Applying the lifecycle table (parcels/lifecycle.py): the row lock, the one transition
function with its conditional UPDATE and re-check, and the wording of a refusal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from config import sql
from parcels.exceptions import WrongStatus
from parcels.lifecycle import TRANSITIONS, transition_into
from parcels.models import Parcel
from partners.models import Partner
from stations.models import Station

from .events import Actor, parcel_events_record


def _status_sentence(parcel: Parcel) -> str:
    """What became of the parcel, as the second half of a refusal."""
    # A parcel that is done with says when: the moment its last move set.
    when = (
        getattr(parcel, transition_into(parcel.status).timestamp_field)
        if parcel.status in Parcel.TERMINAL
        else None
    )
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


def wrong_status_error(parcel: Parcel, action: str) -> WrongStatus:
    """The refusal of `action` (a row of the lifecycle table) for a parcel in another status."""
    message = _(TRANSITIONS[action].refusal) % {
        "tracking": parcel.tracking_number,
        "why": _status_sentence(parcel),
    }
    return WrongStatus(message, status=parcel.status, tracking_number=parcel.tracking_number)


def lock(
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


class Stale(Exception):
    """A parcel read without a lock changed before the move could claim it (see `move`)."""


def move(
    parcels: Sequence[Parcel],
    action: str,
    *,
    actor: Actor,
    now: dt.datetime,
    changes: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
    unchanged: Sequence[str] = (),
) -> None:
    """Apply the lifecycle table's row `action` to parcels locked by `lock`, and record its event.

    Must run inside the caller's transaction. Raises WrongStatus, writing nothing, if any parcel
    is not in a status the move may start from. A caller that read its one parcel without a
    lock names in `unchanged` the fields it relied on besides the status; if one of them was set
    or cleared in the meantime, `Stale` is raised and the caller reads the parcel again.

    Every state change of a parcel comes through here, so the UPDATE is plain SQL (config/sql.py).
    """
    transition = TRANSITIONS[action]
    allowed = transition.sources
    # Race: where the statuses were read under the row lock, a concurrent move has either
    # committed before we read (and we refuse here) or waits for our commit. Where they were not
    # (a hand-over), the conditional UPDATE below decides.
    for parcel in parcels:
        if parcel.status not in allowed:
            raise wrong_status_error(parcel, action)
    fields: dict[str, Any] = {
        "status": transition.target,
        "updated_at": now,
        transition.timestamp_field: now,
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
            field = Parcel._meta.get_field(name)
            assert isinstance(field, models.Field)  # a column of the parcel, not a relation
            column = field.column
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
            raise Stale
        raise WrongStatus(_("Another person changed this parcel at the same moment. Try again."))
    for parcel in parcels:
        for name, value in fields.items():
            setattr(parcel, name, value)
    parcel_events_record(
        parcels=parcels, kind=transition.event_kind, actor=actor, occurred_at=now, detail=detail
    )
