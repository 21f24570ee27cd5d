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
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()


from bench.common import fresh_database, save_result  # noqa: E402
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


def start_server(workers: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "0",  # plain HTTP on loopback
        "DJANGO_STATIC_MANIFEST": "0",
        "API_RATE_PER_KEY": "1000000/min",
    }
    server = subprocess.Popen(  # noqa: S603 - our own venv's gunicorn
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--workers",
            str(workers),
            "--timeout",
            "120",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    for _ in range(100):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
            conn.request("GET", "/api/v1/schema/")
            conn.getresponse().read()
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    sys.exit("gunicorn did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parcels", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    key, slugs = prepare()
    batches = [
        json.dumps(
            {
                "parcels": [
                    {
                        "tracking_number": f"HTTP{n:09d}",
                        "station": slugs[n % len(slugs)],
                        "recipient_name": "Bench Buyer",
                        "recipient_phone": "+6591234567",
                        "language": "en",
                    }
                    for n in range(start, min(start + args.batch, args.parcels))
                ]
            }
        ).encode()
        for start in range(0, args.parcels, args.batch)
    ]
    server = start_server(args.workers)
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
        server.terminate()
        server.wait(timeout=30)
    with network_scope():
        stored = Parcel.objects.count()
    if failures or stored != args.parcels:
        sys.exit(f"lost or failed: stored {stored}, failures {failures[:3]}")
    latencies.sort()
    result = {
        "parcels": args.parcels,
        "batch": args.batch,
        "clients": args.clients,
        "gunicorn_workers": args.workers,
        "seconds": round(elapsed, 1),
        "parcels_per_s": round(args.parcels / elapsed),
        "batch_p50_ms": round(latencies[len(latencies) // 2] * 1000),
        "batch_p95_ms": round(latencies[int(len(latencies) * 0.95)] * 1000),
    }
    print(
        f"announce: {args.parcels:,} parcels over HTTP in batches of {args.batch:,} in "
        f"{elapsed:.1f} s = {result['parcels_per_s']:,} parcels/s "
        f"(batch p50 {result['batch_p50_ms']} ms, p95 {result['batch_p95_ms']} ms; "
        f"{args.clients} clients, {args.workers} gunicorn workers)"
    )
    save_result("announce", result)


if __name__ == "__main__":
    main()
