"""Reads about stations and their people."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from config import sql
from partners.models import Partner

from . import earnings
from .models import Invitation, LedgerLine, Membership, Statement, Station, User


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    """The stations a person works at, with their role, for the station switcher."""
    return Membership.objects.filter(user=user).select_related("station").order_by("station__name")


def membership_for(*, user_id: int, station_slug: str) -> Membership | None:
    """The membership of the person `user_id` of the station with this slug, with the station
    and the person; None if none. Read on every portal request, before the person is (the
    portal's middleware hands them to the session's sign-in check: stations.accounts), so in
    one statement of plain SQL (config/sql.py)."""
    return sql.first(
        Membership,
        "t0.user_id = %s AND t1.slug = %s",
        [user_id, station_slug],
        related=("station", "user"),
    )


def earnings_this_month(*, station: Station) -> list[Mapping[str, Any]]:
    """This month's earnings (station's local month) per currency, summed in the database."""
    local = timezone.now().astimezone(station.tzinfo)
    start = dt.datetime.combine(local.date().replace(day=1), dt.time.min, tzinfo=station.tzinfo)
    return list(
        LedgerLine.objects.filter(station=station, created_at__gte=start)
        .values("currency")
        .annotate(total=Sum("amount"), lines=Count("pk"))
        .order_by("currency")
    )


def station_people(*, station: Station) -> tuple[list[Membership], list[Invitation]]:
    members = list(
        Membership.objects.filter(station=station)
        .select_related("user")
        .order_by("role", "user__email")
    )
    invitations = list(
        Invitation.objects.filter(station=station, accepted_at__isnull=True).order_by("email")
    )
    return members, invitations


def earnings_overview(*, station: Station, days: int = 30) -> dict:
    """The earnings page's figures: this month per partner, and the last `days` days per day.

    Summed in the database, grouped in the station's time zone: three queries whatever the
    number of lines.
    """
    tz = station.tzinfo
    local_today = timezone.now().astimezone(tz).date()
    start, end = earnings.month_bounds(local_today, tz)
    lines = LedgerLine.objects.filter(station=station)
    by_partner = list(
        lines.filter(created_at__gte=start, created_at__lt=end)
        .values("partner__name", "currency")
        .annotate(
            total=Sum("amount"),
            handovers=Count("pk", filter=Q(kind="handover")),
            returns=Count("pk", filter=Q(kind="return")),
        )
        .order_by("partner__name", "currency")
    )
    first_day = local_today - dt.timedelta(days=days - 1)
    since = dt.datetime.combine(first_day, dt.time.min, tzinfo=tz)
    per_day = {
        (row["day"], row["currency"]): row["total"]
        for row in lines.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("day", "currency")
        .annotate(total=Sum("amount"))
        .order_by()
    }
    currencies = sorted({c for _d, c in per_day} | {r["currency"] for r in by_partner}) or ["SGD"]
    currency = currencies[0]
    series = [
        (
            first_day + dt.timedelta(days=i),
            per_day.get((first_day + dt.timedelta(days=i), currency), 0),
        )
        for i in range(days)
    ]
    return {
        "month": local_today.replace(day=1),
        "by_partner": by_partner,
        "month_totals": _totals_per_currency(by_partner),
        "series": series,
        "series_currency": currency,
    }


def _totals_per_currency(rows: Sequence[Mapping[str, Any]]) -> list[dict]:
    """The month per currency, from the per-partner rows already summed in the database."""
    totals: dict[str, int] = {}
    for row in rows:
        totals[row["currency"]] = totals.get(row["currency"], 0) + row["total"]
    return [{"currency": c, "total": t} for c, t in sorted(totals.items())]


def ledger_page_lines(*, station: Station) -> QuerySet[LedgerLine]:
    return (
        LedgerLine.objects.filter(station=station)
        .select_related("partner", "parcel")
        .order_by("-created_at", "-pk")
    )


def statements_for(*, station: Station) -> list[Statement]:
    return list(Statement.objects.filter(station=station).order_by("-month", "currency")[:24])


def statement_for(*, station: Station, statement_id: int) -> Statement | None:
    return Statement.objects.filter(station=station, pk=statement_id).first()


# --- the partner API's station search ---------------------------------------------------------


def station_by_slug(*, slug: str) -> Station | None:
    return Station.objects.filter(slug=slug).first()


def station_slugs(*, rows: Sequence[Any]) -> dict[int, str]:
    """The station slugs of rows that have a `station` (parcels, events): from the stations they
    already carry (a move or a batch has its stations at hand), reading only the others."""
    slugs: dict[int, str] = {}
    missing: set[int] = set()
    for row in rows:
        field = type(row)._meta.get_field("station")
        if field.is_cached(row):
            slugs[row.station_id] = row.station.slug
        else:
            missing.add(row.station_id)
    if missing - slugs.keys():
        found = Station.objects.filter(pk__in=missing - slugs.keys()).values_list("pk", "slug")
        slugs.update(found)
    return slugs


def stations_active() -> QuerySet[Station]:
    """The stations that take parcels, for the network's list (the caller pages them)."""
    return Station.objects.filter(status=Station.Status.ACTIVE)


def stations_near(
    *, lat: float, lng: float, radius_km: float, limit: int = 200
) -> list[tuple[float, Station]]:
    """Active stations within `radius_km` of (lat, lng) as (distance in km, station), nearest
    first (equal distances by name), at most `limit`.

    A bounding box in the database, the exact (great-circle) distance in Python for what is
    inside it."""
    dlat = radius_km / 111.0
    dlng = radius_km / (111.0 * max(math.cos(math.radians(lat)), 0.01))
    inside = stations_active().filter(
        latitude__range=(lat - dlat, lat + dlat), longitude__range=(lng - dlng, lng + dlng)
    )
    rows = []
    for station in inside.order_by("pk")[:5000]:
        d = _distance_km(lat, lng, float(station.latitude), float(station.longitude))
        if d <= radius_km:
            rows.append((d, station))
    rows.sort(key=lambda r: (r[0], r[1].name))
    return rows[:limit]


def _distance_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def invoice_for(*, partner: Partner, month: dt.date) -> dict[str, Any]:
    """What the partner owes the stations for `month`, each station's month in its own time zone:
    per station (slug) and currency the handovers and returns and their fees, and the totals per
    currency. Summed in the database exactly as the stations' statements are
    (`stations.earnings.ledger_month_sums`)."""
    rows = earnings.ledger_month_sums(
        month=month,
        by=("station__slug", "currency"),
        lines=LedgerLine.objects.filter(partner=partner),
    ).order_by("station__slug", "currency")
    lines = [{**r, "station": r.pop("station__slug")} for r in rows]
    totals = {t["currency"]: t["total"] for t in _totals_per_currency(lines)}
    return {"totals": totals, "stations": lines}
