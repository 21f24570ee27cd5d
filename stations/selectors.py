"""Reads about stations and their people."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from config import sql

from .models import Invitation, LedgerLine, Membership, Station, User


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    """The stations a person works at, with their role, for the station switcher."""
    return Membership.objects.filter(user=user).select_related("station").order_by("station__name")


def membership_for(*, user: User, station_slug: str) -> Membership | None:
    """The person's membership of the station with this slug, with the station; None if none.
    Read on every portal request, so in plain SQL (config/sql.py)."""
    return sql.first(
        Membership,
        "t0.user_id = %s AND t1.slug = %s",
        [user.pk, station_slug],
        related=("station",),
    )


def earnings_this_month(*, station: Station) -> list[dict]:
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
    from django.db.models.functions import TruncDate

    from .earnings import month_bounds

    tz = station.tzinfo
    local_today = timezone.now().astimezone(tz).date()
    start, end = month_bounds(local_today, tz)
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


def _totals_per_currency(rows: list[dict]) -> list[dict]:
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


def statements_for(*, station: Station) -> list:
    from .models import Statement

    return list(Statement.objects.filter(station=station).order_by("-month", "currency")[:24])


def statement_for(*, station: Station, statement_id: int):  # -> Statement | None
    from .models import Statement

    return Statement.objects.filter(station=station, pk=statement_id).first()
