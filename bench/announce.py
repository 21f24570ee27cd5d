"""Benchmark: announce 100,000 parcels through the HTTP API in batches of 1,000.

Starts gunicorn with production settings (DEBUG off) on 127.0.0.1 against the benchmark database,
posts the batches from a few client threads over keep-alive connections, and reports parcels per
second. Writes var/bench/announce.json. `make bench` runs it after the sweep benchmark.

    python bench/announce.py [--parcels 100000] [--batch 1000] [--clients 2] [--workers 2]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()


from django.db import connection  # noqa: E402

from bench.common import fresh_database, ratio, save_result, start_gunicorn, stop  # noqa: E402
from parcels.models import Parcel  # noqa: E402
from partners.models import Partner  # noqa: E402
from partners.services import api_key_create  # noqa: E402
from stations.models import Station  # noqa: E402
from stations.tenancy import network_scope  # noqa: E402

PORT = 8765


def prepare() -> tuple[str, list[str]]:
    fresh_database()
    partner = Partner.objects.create(name="Bench Carrier", slug="bench-carrier")
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
        for i in range(1600)
    )
    _key, raw = api_key_create(partner=partner, name="bench")
    return raw, list(Station.objects.values_list("slug", flat=True))


_RAW_BATCH = [
    "SELECT * FROM stations_station WHERE slug = ANY(%(slugs)s)",
    "SELECT * FROM parcels_parcel WHERE partner_id = %(partner)s"
    " AND tracking_number = ANY(%(tracking)s)",
]
_RAW_INSERT_PARCELS = """
    INSERT INTO parcels_parcel (
        partner_id, station_id, tracking_number, recipient_name, recipient_phone,
        recipient_phone_last4, recipient_email, language, status, return_reason, hold_extended,
        announced_at, created_at, updated_at)
    SELECT %(partner)s, s.id, t.tracking, 'Bench Buyer', '+6591234567', '4567', '', 'en',
           'announced', '', false, now(), now(), now()
    FROM unnest(%(tracking)s::text[], %(slugs)s::text[]) AS t(tracking, slug)
    JOIN stations_station s ON s.slug = t.slug
    RETURNING id, station_id
"""
_RAW_INSERT_EVENTS = """
    INSERT INTO parcels_parcelevent (parcel_id, kind, occurred_at, station_id, actor_user_id,
        actor_partner_id, detail, created_at)
    SELECT p, 'parcel.announced', now(), s, NULL, %(partner)s, '{}', now()
    FROM unnest(%(ids)s::bigint[], %(stations)s::bigint[]) AS t(p, s)
"""


def raw_reference(partner_id: int, batches: list[list[dict]], clients: int) -> float:
    """The same batches written by plain SQL (psycopg, no Django): look up the stations and
    any parcel announced before, insert the parcels and their events, one transaction each.
    What PostgreSQL takes to store them; returns the seconds."""
    import psycopg

    db = connection.settings_dict
    queue = list(range(len(batches)))
    lock = threading.Lock()

    def client() -> None:
        with psycopg.connect(
            host=db["HOST"] or "127.0.0.1",
            port=db["PORT"] or 5432,
            user=db["USER"],
            password=db["PASSWORD"] or None,
            dbname=db["NAME"],
        ) as conn:
            while True:
                with lock:
                    if not queue:
                        return
                    index = queue.pop()
                items = batches[index]
                params = {
                    "partner": partner_id,
                    "tracking": [f"RAW{i['tracking_number']}" for i in items],
                    "slugs": [i["station"] for i in items],
                }
                with conn.transaction(), conn.cursor() as cur:
                    for sql in _RAW_BATCH:
                        cur.execute(sql, params)
                        cur.fetchall()
                    cur.execute(_RAW_INSERT_PARCELS, params)
                    rows = cur.fetchall()
                    cur.execute(
                        _RAW_INSERT_EVENTS,
                        {
                            "partner": partner_id,
                            "ids": [r[0] for r in rows],
                            "stations": [r[1] for r in rows],
                        },
                    )

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parcels", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    key, slugs = prepare()
    item_batches = [
        [
            {
                "tracking_number": f"HTTP{n:09d}",
                "station": slugs[n % len(slugs)],
                "recipient_name": "Bench Buyer",
                "recipient_phone": "+6591234567",
                "language": "en",
            }
            for n in range(start, min(start + args.batch, args.parcels))
        ]
        for start in range(0, args.parcels, args.batch)
    ]
    batches = [json.dumps({"parcels": items}).encode() for items in item_batches]
    server = start_gunicorn(
        port=PORT, workers=args.workers, env={"API_RATE_PER_KEY": "1000000/min"}
    )
    queue = list(range(len(batches)))
    lock = threading.Lock()
    latencies: list[float] = []
    failures: list[str] = []

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=120)
        while True:
            with lock:
                if not queue:
                    break
                index = queue.pop()
            started = time.perf_counter()
            conn.request(
                "POST",
                "/api/v1/parcels/batch/",
                body=batches[index],
                headers={"Authorization": f"Api-Key {key}", "Content-Type": "application/json"},
            )
            response = conn.getresponse()
            body = json.loads(response.read())
            latencies.append(time.perf_counter() - started)
            if response.status != 200 or body.get("failed"):
                failures.append(f"batch {index}: {response.status} {str(body)[:200]}")

    try:
        started = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    finally:
        stop(server)
    with network_scope():
        stored = Parcel.objects.count()
    if failures or stored != args.parcels:
        sys.exit(f"lost or failed: stored {stored}, failures {failures[:3]}")
    latencies.sort()
    with network_scope():
        partner_id = Partner.objects.get().pk
    raw_s = raw_reference(partner_id, item_batches, args.clients)
    with network_scope():
        stored_raw = Parcel.objects.filter(tracking_number__startswith="RAW").count()
    if stored_raw != args.parcels:
        sys.exit(f"the plain SQL reference stored {stored_raw} of {args.parcels}")
    result = {
        "parcels": args.parcels,
        "batch": args.batch,
        "clients": args.clients,
        "gunicorn_workers": args.workers,
        "seconds": round(elapsed, 1),
        "parcels_per_s": round(args.parcels / elapsed),
        "batch_p50_ms": round(latencies[len(latencies) // 2] * 1000),
        "batch_p95_ms": round(latencies[int(len(latencies) * 0.95)] * 1000),
        "plain_sql_per_s": round(args.parcels / raw_s),
        "ratio_to_plain_sql": ratio(args.parcels / elapsed, args.parcels / raw_s),
    }
    print(
        f"announce: {args.parcels:,} parcels over HTTP in batches of {args.batch:,} in "
        f"{elapsed:.1f} s = {result['parcels_per_s']:,} parcels/s "
        f"(batch p50 {result['batch_p50_ms']} ms, p95 {result['batch_p95_ms']} ms; "
        f"{args.clients} clients, {args.workers} gunicorn workers) | plain SQL "
        f"{result['plain_sql_per_s']:,}/s (ratio {result['ratio_to_plain_sql']})",
        flush=True,
    )
    save_result("announce", result)


if __name__ == "__main__":
    main()
