"""Benchmark: the overdue sweep over 1,000,000 parcels of which 100,000 are overdue.

Runs against PostgreSQL (a database of its own, `stationkeeper_bench`, created if missing), times
`parcels_sweep_overdue` and, next to it, a naive loop that moves parcels one at a time through
`parcel_mark_return_due`, on a 10,000 sample scaled to 100,000. Prints both and writes them to
var/bench/sweep.json. Not part of the test run: `make bench`.

    python bench/sweep.py [--parcels 1000000] [--overdue 100000] [--sample 10000]
"""

from __future__ import annotations

import argparse
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
from django.utils import timezone  # noqa: E402

from bench.common import fresh_database, save_result  # noqa: E402
from parcels import services  # noqa: E402
from parcels.models import Parcel  # noqa: E402
from partners.models import Partner, Tariff  # noqa: E402
from stations.models import Station  # noqa: E402
from stations.tenancy import network_scope  # noqa: E402

STATIONS = 1600
PER_STATION_ON_SHELF = 250  # capacity is 300: the shelf is never over-full


def prepare(parcels: int, overdue: int) -> None:
    """A network of 1,600 stations and `parcels` parcels; `overdue` of those on the shelf are
    past their deadline, the rest of the shelf is not, and the remainder is picked-up history."""
    fresh_database()
    today = timezone.localdate()
    partners = [Partner.objects.create(name=f"Carrier {i}", slug=f"carrier-{i}") for i in range(3)]
    for p in partners:
        Tariff.objects.create(
            partner=p, handover_fee=45, return_fee=20, currency="SGD", valid_from=today
        )
    Station.objects.bulk_create(
        Station(
            name=f"Station {i:04d}",
            slug=f"station-{i:04d}",
            address=f"{i} Bench Road",
            postal_code=f"{100000 + i}",
            latitude="1.300000",
            longitude="103.800000",
            phone="+6561234567",
            capacity=300,
            status=Station.Status.ACTIVE,
        )
        for i in range(STATIONS)
    )
    on_shelf = STATIONS * PER_STATION_ON_SHELF
    if overdue > on_shelf or parcels < on_shelf:
        sys.exit(f"need overdue <= {on_shelf} <= parcels")
    # One INSERT … SELECT over generate_series: n = 0 … parcels-1. The first `on_shelf` rows sit
    # on shelves (slot = n / STATIONS + 1 per station), the first `overdue` of them past their
    # deadline; the rest is history, picked up last month.
    first_partner = partners[0].pk
    first_station = Station.objects.order_by("pk").values_list("pk", flat=True)[0]
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO parcels_parcel (
                partner_id, station_id, tracking_number, recipient_name, recipient_phone,
                recipient_phone_last4, recipient_email, language, status, return_reason,
                shelf_slot, pickup_token, pickup_code, hold_deadline, hold_extended,
                announced_at, checked_in_at, picked_up_at, created_at, updated_at)
            SELECT
                %(partner)s + (n %% 3), %(station)s + (n %% %(stations)s),
                'BENCH' || lpad(n::text, 9, '0'), 'Bench Buyer', '+6591234567', '4567', '',
                'en',
                CASE WHEN n < %(on_shelf)s THEN 'at_station' ELSE 'picked_up' END, '',
                CASE WHEN n < %(on_shelf)s THEN n / %(stations)s + 1 END,
                md5(n::text) || md5((n + 1)::text),
                CASE WHEN n < %(on_shelf)s THEN lpad((n / %(stations)s)::text, 6, '0') END,
                CASE WHEN n < %(overdue)s THEN now() - interval '1 hour'
                     WHEN n < %(on_shelf)s THEN now() + interval '3 days' END,
                false,
                now() - interval '10 days', now() - interval '8 days',
                CASE WHEN n >= %(on_shelf)s THEN now() - interval '30 days' END,
                now() - interval '10 days', now() - interval '8 days'
            FROM generate_series(0, %(parcels)s - 1) AS n
            """,
            {
                "partner": first_partner,
                "station": first_station,
                "stations": STATIONS,
                "on_shelf": on_shelf,
                "overdue": overdue,
                "parcels": parcels,
            },
        )
        cur.execute("ANALYZE parcels_parcel")


def naive(sample: int) -> float:
    """One parcel at a time through the service: what a per-row loop would cost."""
    with network_scope():
        ids = list(
            Parcel.objects.filter(status="at_station", hold_deadline__lt=timezone.now())
            .order_by("pk")
            .values_list("pk", flat=True)[:sample]
        )
        started = time.perf_counter()
        for parcel in Parcel.objects.filter(pk__in=ids).order_by("pk").iterator():
            services.parcel_mark_return_due(parcel=parcel, reason="overdue", actor=None)
        elapsed = time.perf_counter() - started
        # Put the sample back, so the sweep below moves all of the overdue parcels.
        with connection.cursor() as cur:
            cur.execute("DELETE FROM parcels_notice WHERE parcel_id = ANY(%s)", [ids])
            cur.execute("DELETE FROM parcels_parcelevent WHERE parcel_id = ANY(%s)", [ids])
            cur.execute(
                "UPDATE parcels_parcel SET status = 'at_station', return_reason = '',"
                " return_due_at = NULL WHERE id = ANY(%s)",
                [ids],
            )
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parcels", type=int, default=1_000_000)
    parser.add_argument("--overdue", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=10_000)
    args = parser.parse_args()

    started = time.perf_counter()
    prepare(args.parcels, args.overdue)
    print(
        f"prepared {args.parcels:,} parcels ({args.overdue:,} overdue) "
        f"in {time.perf_counter() - started:.1f} s"
    )

    naive_s = naive(args.sample)
    naive_scaled = naive_s * args.overdue / args.sample

    with network_scope():
        started = time.perf_counter()
        moved = services.parcels_sweep_overdue(now=timezone.now())
        sweep_s = time.perf_counter() - started
    assert moved == args.overdue, (moved, args.overdue)

    result = {
        "parcels": args.parcels,
        "overdue": args.overdue,
        "sweep_s": round(sweep_s, 2),
        "sweep_per_s": round(moved / sweep_s),
        "naive_sample": args.sample,
        "naive_sample_s": round(naive_s, 2),
        "naive_scaled_s": round(naive_scaled, 1),
        "naive_per_s": round(args.sample / naive_s),
        "speedup": round(naive_scaled / sweep_s, 1),
    }
    print(
        f"sweep: {moved:,} overdue parcels moved in {sweep_s:.1f} s "
        f"({result['sweep_per_s']:,}/s)\n"
        f"naive loop: {args.sample:,} in {naive_s:.1f} s, "
        f"scaled to {args.overdue:,}: {naive_scaled:.0f} s "
        f"({result['speedup']}x slower than the sweep)"
    )
    save_result("sweep", result)


if __name__ == "__main__":
    main()
