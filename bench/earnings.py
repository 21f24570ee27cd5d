"""Benchmark: close a month for 1,600 stations with 200,000 ledger lines, and render the earnings
page of a station with 100,000 lines. Writes var/bench/earnings.json. Part of `make bench`.

    python bench/earnings.py [--stations 1600] [--lines 200000] [--big 100000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.common import fresh_database, save_result  # noqa: E402
from partners.models import Partner  # noqa: E402
from stations import earnings  # noqa: E402
from stations.models import Membership, Statement, Station, User  # noqa: E402
from stations.tenancy import network_scope  # noqa: E402


def prepare(stations: int, lines: int, big: int, month: dt.date) -> Station:
    fresh_database()
    partners = [Partner.objects.create(name=f"Carrier {i}", slug=f"c{i}") for i in range(3)]
    Station.objects.bulk_create(
        Station(
            name=f"Station {i:04d}",
            slug=f"station-{i:04d}",
            address="1 Bench Road",
            postal_code="100000",
            latitude="1.3",
            longitude="103.8",
            phone="+6561234567",
            capacity=300,
            status="active",
        )
        for i in range(stations)
    )
    first = Station.objects.order_by("pk").values_list("pk", flat=True)[0]
    start, _end = earnings.month_bounds(month, dt.timezone(dt.timedelta(hours=8)))
    with connection.cursor() as cur:
        # `lines` lines spread over the month and the stations, and `big` more for one station
        # over the last 30 days (its earnings page is the second measurement).
        cur.execute(
            """
            INSERT INTO stations_ledgerline
                (station_id, partner_id, parcel_id, tariff_id, kind, amount, currency, reason,
                 created_by_id, created_at)
            SELECT %(first)s + (n %% %(stations)s), %(partner)s + (n %% 3), NULL, NULL,
                   CASE WHEN n %% 10 = 0 THEN 'return' ELSE 'handover' END,
                   CASE WHEN n %% 10 = 0 THEN 20 ELSE 45 END, 'SGD', '', NULL,
                   %(start)s::timestamptz + (n %% 2592000) * interval '1 second'
            FROM generate_series(0, %(lines)s - 1) AS n
            """,
            {
                "first": first,
                "stations": stations,
                "partner": partners[0].pk,
                "start": start,
                "lines": lines,
            },
        )
        cur.execute(
            """
            INSERT INTO stations_ledgerline
                (station_id, partner_id, parcel_id, tariff_id, kind, amount, currency, reason,
                 created_by_id, created_at)
            SELECT %(first)s, %(partner)s + (n %% 3), NULL, NULL, 'handover', 45, 'SGD', '',
                   NULL, now() - (n %% 2592000) * interval '1 second'
            FROM generate_series(0, %(big)s - 1) AS n
            """,
            {"first": first, "partner": partners[0].pk, "big": big},
        )
        cur.execute("ANALYZE stations_ledgerline")
    owner = User.objects.filter(email="bench-owner@example.com").first() or (
        User.objects.create_user("bench-owner@example.com", "bench-pass-123")
    )
    station = Station.objects.get(pk=first)
    Membership.objects.create(user=owner, station=station, role="owner")
    return station


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=1600)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--big", type=int, default=100_000)
    args = parser.parse_args()
    month = dt.date(2026, 10, 1)
    station = prepare(args.stations, args.lines, args.big, month)

    with network_scope():
        started = time.perf_counter()
        created = earnings.statements_close_month(month=month)
        close_s = time.perf_counter() - started
        assert created == args.stations, (created, args.stations)
        assert earnings.statements_close_month(month=month) == 0  # idempotent
        total = sum(Statement.objects.filter(month=month).values_list("total", flat=True))

    client = Client()
    client.force_login(User.objects.get(email="bench-owner@example.com"))
    url = f"/s/{station.slug}/earnings/"
    client.get(url)  # warm
    timings = []
    for _ in range(5):
        with CaptureQueriesContext(connection) as ctx:
            started = time.perf_counter()
            response = client.get(url, HTTP_HOST="127.0.0.1")
            timings.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    timings.sort()
    result = {
        "stations": args.stations,
        "ledger_lines": args.lines,
        "close_month_s": round(close_s, 2),
        "statements": created,
        "statement_sum": total,
        "earnings_page_lines": args.big,
        "earnings_page_median_ms": round(timings[len(timings) // 2] * 1000),
        "earnings_page_queries": len(ctx.captured_queries),
    }
    print(
        f"close month: {created:,} statements from {args.lines:,} lines in {close_s:.2f} s; "
        f"earnings page with {args.big:,} lines: median {result['earnings_page_median_ms']} ms, "
        f"{result['earnings_page_queries']} queries"
    )
    save_result("earnings", result)


if __name__ == "__main__":
    main()
