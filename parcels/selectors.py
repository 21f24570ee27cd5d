"""Reads about parcels. Every function is called inside a tenant scope (see stations.tenancy)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from config import sql
from partners.models import Partner
from stations.models import Station

from . import codes, throttle, tracking
from .lifecycle import TRANSITIONS
from .models import HandBack, Handover, Parcel, ParcelEvent, shelf_label


@dataclass(frozen=True)
class ShelfOccupancy:
    """Which slots and codes are taken on a station's shelf right now."""

    slots: frozenset[int] = field(default_factory=frozenset)
    codes: frozenset[str] = field(default_factory=frozenset)
    count: int = 0

    def first_free_slot(self, capacity: int) -> int:
        # The lowest free number keeps parcels near the front of the shelf; with fewer parcels
        # than slots one of 1..capacity is always free.
        for slot in range(1, capacity + 1):
            if slot not in self.slots:
                return slot
        raise ValueError("no free slot")


def shelf_occupancy(*, station: Station) -> ShelfOccupancy:
    """One query over the parcels on the shelf (bounded by the station's capacity); every
    check-in reads it, so in plain SQL."""
    rows = sql.values(
        Parcel,
        ["t0.shelf_slot", "t0.pickup_code", "t0.status"],
        f"t0.station_id = %s AND t0.status IN ({sql.placeholders(len(Parcel.ON_SHELF))})",
        [station.pk, *Parcel.ON_SHELF],
    )
    return ShelfOccupancy(
        slots=frozenset(slot for slot, _, _ in rows if slot is not None),
        codes=frozenset(
            code for _, code, status in rows if code and status == Parcel.Status.AT_STATION
        ),
        count=len(rows),
    )


def parcel_by_code(*, station: Station, code: str, user_id: int) -> Parcel | None:
    """The parcel on the shelf with this code; failing that, the latest that had it (so a used
    code is reported as used, not as unknown).

    A 6-digit code can be guessed, so this is the one way to look a parcel up by its code
    (check-out, hand-over, the shelf search), and it keeps the wrong-code limits
    (parcels/throttle.py) for the person `user_id` and the station: while either is exceeded it
    raises CodesPaused without looking, and a code no parcel here has counts as a wrong one.
    """
    if throttle.is_blocked(user_id=user_id, station_id=station.pk):
        raise throttle.CodesPaused
    parcel = _parcel_by_code(station=station, code=code)
    if parcel is None:
        throttle.record_wrong_code(user_id=user_id, station_id=station.pk)
    return parcel


def parcel_by_credential(
    *, station: Station, credential: codes.Credential, user_id: int
) -> Parcel | None:
    """The parcel at the station that a counter credential names: a typed code through
    `parcel_by_code` (so it counts towards the wrong-code limits, and raises CodesPaused while
    they are exceeded), a token (192 bits, not guessable) directly; None if neither names one."""
    if credential.typed:
        return parcel_by_code(station=station, code=credential.code, user_id=user_id)
    if credential.token:
        return parcel_by_token(station=station, token=credential.token)
    return None


def _parcel_by_code(*, station: Station, code: str) -> Parcel | None:
    on_shelf = _at_counter(
        "t0.station_id = %s AND t0.pickup_code = %s AND t0.status = %s",
        [station.pk, code, Parcel.Status.AT_STATION],
        order_by="t0.id",
    )
    return on_shelf or _at_counter(
        "t0.station_id = %s AND t0.pickup_code = %s",
        [station.pk, code],
        order_by="t0.checked_in_at DESC, t0.id",
    )


def parcel_by_token(*, station: Station, token: str) -> Parcel | None:
    return _at_counter(
        "t0.station_id = %s AND t0.pickup_token = %s", [station.pk, token], order_by="t0.id"
    )


def _at_counter(where: str, params: list, *, order_by: str) -> Parcel | None:
    """The first parcel (with its partner) a check-out lookup finds. Every scan at the counter
    runs one, so it is plain SQL (config/sql.py); the caller's WHERE names the station."""
    return sql.first(Parcel, where, params, related=("partner",), order_by=order_by)


def parcel_for_buyer(*, token: str) -> Parcel | None:
    """The parcel behind a pickup link, with what its page shows. Every buyer's page opens with
    it, so it is plain SQL (config/sql.py): the ORM took a third of the page's time building it.
    """
    return sql.first(
        Parcel, "t0.pickup_token = %s", [token], related=("station", "partner"), order_by="t0.id"
    )


# --- the station portal ---------------------------------------------------------------------------


def local_day_bounds(
    station: Station, now: dt.datetime | None = None
) -> tuple[dt.datetime, dt.datetime]:
    """Start and end of the station's current local day, as aware datetimes."""
    local = (now or timezone.now()).astimezone(station.tzinfo)
    start = dt.datetime.combine(local.date(), dt.time.min, tzinfo=station.tzinfo)
    return start, start + dt.timedelta(days=1)


def dashboard_counts(*, station: Station) -> dict[str, int]:
    """The dashboard's figures in two queries, whatever the number of parcels. `taking_slots` is
    what the shelf holds as everywhere else (Parcel.ON_SHELF: waiting for pickup or due back)."""
    start, end = local_day_bounds(station)
    counts = Parcel.objects.filter(station=station).aggregate(
        taking_slots=Count("pk", filter=Q(status__in=Parcel.ON_SHELF)),
        on_shelf=Count("pk", filter=Q(status=Parcel.Status.AT_STATION)),
        due_back=Count("pk", filter=Q(status=Parcel.Status.RETURN_DUE)),
        checked_in_today=Count("pk", filter=Q(checked_in_at__gte=start, checked_in_at__lt=end)),
    )
    counts["handed_over_today"] = Handover.objects.filter(
        station=station, handed_over_at__gte=start, handed_over_at__lt=end
    ).count()
    return counts


def closest_deadlines(*, station: Station, limit: int = 8) -> list[Parcel]:
    return list(
        Parcel.objects.filter(station=station, status=Parcel.Status.AT_STATION)
        .select_related("partner")
        .order_by("hold_deadline", "pk")[:limit]
    )


def shelf(
    *,
    station: Station,
    user_id: int,
    query: str = "",
    status: str = "",
    partner_id: int | None = None,
) -> QuerySet[Parcel]:
    """Parcels at the station, newest first; `query` is a tracking number (or its start), a
    6-digit pickup code, or the last 4 digits of the recipient's phone.

    A pickup code is looked up as at check-out (`parcel_by_code`), for the person `user_id`: a
    code no parcel here has counts as a wrong code, and while typed codes are paused this raises
    CodesPaused. Otherwise the search would guess codes with no limit."""
    qs = Parcel.objects.filter(station=station).select_related("partner")
    # By default, what is physically at the station; a status filter reaches the history.
    qs = qs.filter(status=status) if status else qs.filter(status__in=Parcel.ON_SHELF)
    if partner_id:
        qs = qs.filter(partner_id=partner_id)
    query = query.strip()
    if query:
        number = tracking.normalize(query)
        match = Q(tracking_number__startswith=number)
        if len(number) == 4 and number.isdigit():
            match |= Q(recipient_phone_last4=number)
        # Six digits may be the start of a tracking number: then the search is one, and is not
        # counted (it can try at most the codes that start a number here). Otherwise it is a
        # typed pickup code, counted as at check-out.
        elif codes.is_code(number) and (
            qs.filter(tracking_number__startswith=number).exists()
            or parcel_by_code(station=station, code=number, user_id=user_id)
        ):
            match |= Q(pickup_code=number)
        qs = qs.filter(match)
    return qs.order_by("-updated_at", "-pk")


@dataclass(frozen=True)
class CheckedIn:
    """A line of the check-in page's list of the clerk's latest check-ins."""

    shelf_label: str
    tracking_number: str
    partner_name: str
    status_label: str


def parcels_checked_in(
    *, station: Station, user_id: int, since: dt.datetime, limit: int = 30
) -> list[CheckedIn]:
    """What the person `user_id` checked in at the station since `since` (their session's first
    check-in), newest first: only the columns the list shows, in plain SQL, since every check-in
    renders the list again. Whole rows, each parsing its recipient's phone number, made this
    the slowest part of a check-in; keeping the list in the session made every check-in write
    the session too."""
    rows = sql.values(
        Parcel,
        ["t0.shelf_slot", "t0.tracking_number", "t1.name", "t0.status"],
        "t0.station_id = %s AND t0.id IN (SELECT e.parcel_id FROM parcels_parcelevent e"
        " WHERE e.station_id = %s AND e.actor_user_id = %s AND e.kind = %s"
        " AND e.occurred_at >= %s)",
        [station.pk, station.pk, user_id, TRANSITIONS["check_in"].event_kind, since],
        related=("partner",),
        order_by="t0.checked_in_at DESC, t0.id DESC",
        limit=limit,
    )
    labels = {status: str(label) for status, label in Parcel.Status.choices}
    return [
        CheckedIn(shelf_label(slot) if slot else "", number, partner, labels[status])
        for slot, number, partner, status in rows
    ]


def same_recipient_on_shelf(*, parcel: Parcel) -> list[Parcel]:
    """Other parcels on the shelf for the same phone number, to hand over together."""
    return list(
        Parcel.objects.filter(
            station_id=parcel.station_id,
            status=Parcel.Status.AT_STATION,
            recipient_phone=parcel.recipient_phone,
        )
        .exclude(pk=parcel.pk)
        .select_related("partner")
        .order_by("shelf_slot")[:20]
    )


def due_back_by_partner(*, station: Station) -> list[tuple[Partner, list[Parcel]]]:
    """Parcels waiting for their partner's courier, grouped by partner (bounded by capacity)."""
    groups: dict[int, tuple[Partner, list[Parcel]]] = {}
    parcels = (
        Parcel.objects.filter(station=station, status=Parcel.Status.RETURN_DUE)
        .select_related("partner")
        .order_by("partner__name", "shelf_slot")
    )
    for parcel in parcels:
        groups.setdefault(parcel.partner_id, (parcel.partner, []))[1].append(parcel)
    return list(groups.values())


def hand_back_with_parcels(*, station: Station, hand_back_id: int) -> HandBack | None:
    return (
        HandBack.objects.filter(station=station, pk=hand_back_id)
        .select_related("partner", "clerk", "station")
        .prefetch_related(Prefetch("parcels", queryset=Parcel.objects.order_by("shelf_slot", "pk")))
        .first()
    )


# --- the partner API ------------------------------------------------------------------------------


def parcels_for_partner(
    *,
    partner: Partner,
    status: str = "",
    station_slug: str = "",
    updated_since: dt.datetime | None = None,
) -> QuerySet[Parcel]:
    """The partner's parcels, with their station, narrowed by what is given ("" or None: no
    filter). Called in the partner's scope; the caller orders and pages them."""
    qs = Parcel.objects.filter(partner=partner).select_related("station")
    if status:
        qs = qs.filter(status=status)
    if station_slug:
        # No station's slug has a NUL in it, and PostgreSQL cannot compare text with one.
        qs = qs.none() if "\x00" in station_slug else qs.filter(station__slug=station_slug)
    if updated_since is not None:
        qs = qs.filter(updated_at__gte=updated_since)
    return qs


def parcel_for_partner(*, partner: Partner, tracking_number: str) -> Parcel | None:
    """The partner's parcel with this tracking number (as typed: it is normalised and checked
    here), with its station; None if the number is outside the rules or names none of its."""
    number = tracking.parse(tracking_number)
    if number is None:
        return None
    return (
        Parcel.objects.filter(partner=partner, tracking_number=number)
        .select_related("station")
        .first()
    )


def parcel_timeline(*, parcel: Parcel) -> list[ParcelEvent]:
    """Every event of the parcel, the partner's own and the network's, oldest first (plain SQL,
    as the buyer's page reads it on every visit)."""
    return sql.select(
        ParcelEvent, "t0.parcel_id = %s", [parcel.pk], order_by="t0.occurred_at, t0.id"
    )


def on_shelf_counts(*, station_ids: list[int]) -> dict[int, int]:
    """How many parcels take a slot on each station's shelf now, in one grouped query.

    Free capacity is network information (no parcel details), so this counts every partner's
    parcels, outside the caller's scope."""
    return dict(
        Parcel.objects.with_scopes_disabled()
        .filter(station_id__in=station_ids, status__in=Parcel.ON_SHELF)
        .values("station_id")
        .annotate(n=Count("pk"))
        .values_list("station_id", "n")
    )


def shelf_count(*, station: Station) -> int:
    """How many parcels are on the station's shelf now, in the caller's scope: what a new capacity
    must hold (stations.services asks it under the station's lock; stations may not import
    parcels, so the page that changes a capacity passes this)."""
    return Parcel.objects.filter(station=station, status__in=Parcel.ON_SHELF).count()


def stations_listed(*, rows: list[tuple[float | None, Station]]) -> list[dict[str, Any]]:
    """The stations as the API lists them, each with its free capacity now and its distance (when
    searched near a point): one grouped query for the whole list."""
    on_shelf = on_shelf_counts(station_ids=[st.pk for _d, st in rows])
    return [
        {
            "slug": st.slug,
            "name": st.name,
            "kind": st.kind,
            "address": st.address,
            "postal_code": st.postal_code,
            "latitude": float(st.latitude),
            "longitude": float(st.longitude),
            "timezone": st.timezone,
            "opening_hours": st.opening_hours,
            "capacity": st.capacity,
            "free_capacity": max(st.capacity - on_shelf.get(st.pk, 0), 0),
            "distance_km": round(d, 3) if d is not None else None,
        }
        for d, st in rows
    ]
