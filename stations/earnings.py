"""Station earnings: the fee a parcel earns (at its partner's tariff), corrections, monthly
statements and their payout, and the month's sums that both the statements and the partner API's
invoices are made of (`ledger_month_sums`). Every amount a station is owed is written here."""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from config import sql
from config.celery import queue_on_commit
from config.errors import DomainError
from partners.models import Partner, Tariff

from .models import LedgerLine, Statement, Station, User

if TYPE_CHECKING:
    from parcels.models import Parcel

logger = logging.getLogger(__name__)


class EarningsError(DomainError):
    code = "earnings_error"


def month_bounds(month: dt.date, tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime]:
    """The start and end of a calendar month in a time zone, as aware datetimes."""
    first = month.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return (
        dt.datetime.combine(first, dt.time.min, tzinfo=tz),
        dt.datetime.combine(following, dt.time.min, tzinfo=tz),
    )


def tariff_in_force(*, partner: Partner, day: dt.date) -> Tariff | None:
    """The partner's tariff on a day: the latest one that starts on or before it. Every
    hand-over asks, so in plain SQL (config/sql.py)."""
    return sql.first(
        Tariff,
        "t0.partner_id = %s AND t0.valid_from <= %s",
        [partner.pk, day],
        order_by="t0.valid_from DESC",
    )


# The tariff's column for each kind of line a parcel earns.
_FEE_FIELD: dict[str, str] = {
    LedgerLine.Kind.HANDOVER: "handover_fee",
    LedgerLine.Kind.RETURN: "return_fee",
}


def ledger_earn(
    *,
    parcels: Sequence[Parcel],
    kind: str,
    now: dt.datetime,
    earned_at: dt.datetime | None = None,
) -> list[LedgerLine]:
    """One ledger line per parcel for its hand-over or hand-back (`kind`), at its partner's
    tariff in force that day at the station (the day of `earned_at`, by default `now`).

    A parcel the partner never announced earns nothing yet: a station could otherwise invent
    parcels and pay itself. The partner's later announcement of it confirms it, and the fee is
    paid then (`parcel_announce`). Must run in the transaction of the move, whose parcel the
    line's unique key allows one of.
    """
    tariffs: dict[tuple[int, dt.date], Tariff | None] = {}
    lines = []
    for parcel in parcels:
        if parcel.announced_at is None:
            continue
        day = (earned_at or now).astimezone(parcel.station.tzinfo).date()
        key = (parcel.partner_id, day)
        if key not in tariffs:
            tariffs[key] = tariff_in_force(partner=parcel.partner, day=day)
        tariff = tariffs[key]
        if tariff is None:
            logger.warning(
                "partner %s has no tariff on %s; parcel %s earns 0",
                parcel.partner_id,
                day,
                parcel.pk,
            )
            amount, currency = 0, parcel.partner.currency
        else:
            amount, currency = getattr(tariff, _FEE_FIELD[kind]), tariff.currency
        lines.append(
            LedgerLine(
                station=parcel.station,
                partner=parcel.partner,
                parcel=parcel,
                tariff=tariff,
                kind=kind,
                amount=amount,
                currency=currency,
                created_at=now,
            )
        )
    sql.insert(lines)
    return lines


def ledger_month_sums(
    *,
    month: dt.date,
    by: Sequence[str] = ("station_id", "currency"),
    lines: QuerySet[LedgerLine] | None = None,
) -> QuerySet[LedgerLine, dict[str, Any]]:
    """The ledger lines of `month`, each in its station's own local month, summed in the database
    per `by` (a station field and the currency): how many handovers and returns and their totals,
    the adjustments' total and the whole total, as `.values()` rows.

    `lines` narrows what is summed (a partner's lines for its invoice); by default every line
    the caller's scope reaches. One query, with one time range per time zone in use."""
    in_month = Q()
    for tz_name in Station.objects.order_by().values_list("timezone", flat=True).distinct():
        start, end = month_bounds(month, zoneinfo.ZoneInfo(tz_name))
        in_month |= Q(station__timezone=tz_name, created_at__gte=start, created_at__lt=end)
    kind = LedgerLine.Kind
    return (
        (LedgerLine.objects.all() if lines is None else lines)
        .filter(in_month)
        .values(*by)
        .annotate(
            handovers=Count("pk", filter=Q(kind=kind.HANDOVER)),
            handover_total=Sum("amount", filter=Q(kind=kind.HANDOVER), default=0),
            returns=Count("pk", filter=Q(kind=kind.RETURN)),
            return_total=Sum("amount", filter=Q(kind=kind.RETURN), default=0),
            adjustment_total=Sum("amount", filter=Q(kind=kind.ADJUSTMENT), default=0),
            total=Sum("amount", default=0),
        )
        .order_by()
    )


def ledger_adjust(
    *,
    station: Station,
    partner_id: int,
    amount: int,
    currency: str,
    reason: str,
    created_by: User,
    parcel_id: int | None = None,
) -> LedgerLine:
    """A correction: a new line with a reason, never an edit of an old one."""
    reason = reason.strip()
    if not reason:
        raise EarningsError(
            _("Give the reason for the correction."), code="invalid", field="reason"
        )
    if amount == 0:
        raise EarningsError(
            _("A correction of zero changes nothing."), code="invalid", field="amount"
        )
    return LedgerLine.objects.create(
        station=station,
        partner_id=partner_id,
        parcel_id=parcel_id,
        kind=LedgerLine.Kind.ADJUSTMENT,
        amount=amount,
        currency=currency.upper(),
        reason=reason[:300],
        created_by=created_by,
    )


def statements_close_month(*, month: dt.date) -> int:
    """Write the statements of `month` for every station that earned something in it.

    Set-based: one aggregate query (`ledger_month_sums`, a station's month is its own local one)
    and one INSERT; safe to run again (the unique key skips statements already written). Returns
    how many statements it wrote.
    """
    month = month.replace(day=1)
    with transaction.atomic():
        statements = [Statement(month=month, **row) for row in ledger_month_sums(month=month)]
        before = Statement.objects.filter(month=month).count()
        Statement.objects.bulk_create(statements, ignore_conflicts=True, batch_size=2000)
        created = Statement.objects.filter(month=month).count() - before
        if created:
            queue_on_commit("stations.tasks.send_statements", month.isoformat())
    return created


def month_to_close(now: dt.datetime) -> dt.date | None:
    """The month the beat task should close now: the previous one, once it has ended in every time
    zone (from the 2nd of the month, UTC). None before that."""
    today = now.astimezone(dt.UTC).date()
    if today.day < 2:
        return None
    return (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def statement_mark_paid(*, statement: Statement, reference: str) -> Statement:
    reference = reference.strip()
    if not reference:
        raise EarningsError(
            _("Enter the payout reference."), code="invalid", field="payout_reference"
        )
    # Race: a conditional UPDATE, so a statement is marked paid once.
    updated = Statement.objects.filter(pk=statement.pk, paid_at__isnull=True).update(
        paid_at=timezone.now(), payout_reference=reference[:120]
    )
    statement.refresh_from_db()
    if not updated:
        raise EarningsError(_("This statement was already marked paid."), code="already_paid")
    return statement
