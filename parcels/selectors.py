"""Reads about parcels. Every function is called inside a tenant scope (see stations.tenancy)."""

from __future__ import annotations

from dataclasses import dataclass, field

from partners.models import Partner
from stations.models import Station

from .models import Parcel


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
    """One query over the parcels on the shelf (bounded by the station's capacity)."""
    rows = list(
        Parcel.objects.filter(station=station, status__in=Parcel.ON_SHELF).values_list(
            "shelf_slot", "pickup_code", "status"
        )
    )
    return ShelfOccupancy(
        slots=frozenset(slot for slot, _, _ in rows if slot is not None),
        codes=frozenset(
            code for _, code, status in rows if code and status == Parcel.Status.AT_STATION
        ),
        count=len(rows),
    )


def parcels_by_tracking_number(
    *, station: Station, tracking_number: str, partner: Partner | None = None
) -> list[Parcel]:
    qs = Parcel.objects.filter(station=station, tracking_number=tracking_number)
    if partner is not None:
        qs = qs.filter(partner=partner)
    return list(qs.order_by("pk")[:2])


def parcel_by_code(*, station: Station, code: str) -> Parcel | None:
    """The parcel on the shelf with this code; failing that, the latest that had it (so a used
    code is reported as used, not as unknown)."""
    qs = Parcel.objects.filter(station=station, pickup_code=code)
    return (
        qs.filter(status=Parcel.Status.AT_STATION).first() or qs.order_by("-checked_in_at").first()
    )


def parcel_by_token(*, station: Station, token: str) -> Parcel | None:
    return Parcel.objects.filter(station=station, pickup_token=token).first()


def parcel_for_buyer(*, token: str) -> Parcel | None:
    """The parcel behind a pickup link, with what its page shows."""
    return Parcel.objects.select_related("station", "partner").filter(pickup_token=token).first()
