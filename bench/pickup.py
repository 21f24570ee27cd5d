"""Benchmark: the buyer's pickup page under 50 concurrent buyers.

50 clients (threads of this process) each open pickup pages (`/p/<token>/`) of parcels waiting
on a shelf, a different parcel every time, so the page is rendered cold; its QR code was drawn
beforehand, as the pickup notice's task draws it once the parcel is on the shelf (`--drawn`),
against gunicorn with production settings, for a fixed time. Reports pages per second,
p50/p95/p99 latency, and the peak resident memory of the busiest web worker (VmHWM). The
reference is a minimal Django view (bench/floor.py) running the page's two queries; both are
served throughout and the load alternates between them in short rounds (bench/common.alternate),
the ratio being the median of the per-round ratios with their spread. Writes
var/bench/pickup.json. `make bench` runs it.

    python bench/pickup.py [--clients 50] [--seconds 30] [--rounds 15] [--workers 4]
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.urls import reverse  # noqa: E402

from bench import floor  # noqa: E402
from bench.common import (  # noqa: E402
    alternate,
    merged,
    paired_ratio,
    peak_rss_mib,
    save_result,
    start_floor,
    start_gunicorn,
    stop,
    worker_pids,
)
from bench.handover import FLOOR_PORT, PORT, prepare  # noqa: E402
from parcels import codes  # noqa: E402


def draw_qr_codes(stations: list[int], count: int) -> None:
    """Draw the QR codes of the first `count` parcels of each station into the cache, as the
    pickup notice's task does once a parcel is on the shelf (the benchmark's parcels are put
    there in SQL, with no notice). Drawn in two processes; stored by this one."""
    links = [
        settings.SITE_URL + reverse("pickup", args=[floor.checkout_token(s, j)])
        for s in stations
        for j in range(count)
    ]
    with multiprocessing.get_context("fork").Pool(2) as pool:
        drawn = pool.map(codes.draw_qr_svg, links, chunksize=200)
    for start in range(0, len(links), 1000):
        cache.set_many(
            {
                codes.qr_cache_key(link): svg
                for link, svg in zip(
                    links[start : start + 1000], drawn[start : start + 1000], strict=True
                )
            },
            codes.QR_CACHE_SECONDS,
        )


def page_steps(port: int, path_for, stations: list[int], n: int, marker: bytes) -> list:
    """One step function per buyer: open the next parcel's page at the buyer's station."""

    def make(station_id: int):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        parcels = iter(range(n))

        def step() -> bool | None:
            j = next(parcels, None)
            if j is None:
                return None
            conn.request("GET", path_for(station_id, j), headers={"Accept-Language": "en"})
            response = conn.getresponse()
            return response.status == 200 and marker in response.read()

        return step

    return [make(s) for s in stations]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument(
        "--seconds", type=float, default=30, help="measured time per side, all rounds together"
    )
    parser.add_argument("--rounds", type=int, default=15, help="rounds per side, alternated")
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--per-station", type=int, default=1500)
    parser.add_argument(
        "--drawn",
        type=int,
        default=800,
        help="parcels per station whose QR the notice task has drawn (the buyers open these;"
        " enough that no buyer runs out on either side)",
    )
    args = parser.parse_args()

    layout = prepare(args.clients, args.per_station)
    stations = layout["checkout", "app"]  # shelves full of parcels waiting for their buyers
    n = min(args.per_station, args.drawn)
    started = time.perf_counter()
    draw_qr_codes(stations, n)
    print(f"{len(stations) * n} QR codes drawn in {time.perf_counter() - started:.0f} s")

    # Both servers run throughout; the load alternates between them (bench/common.alternate).
    app = start_gunicorn(port=PORT, workers=args.workers)
    floor_server = None
    try:
        floor_server = start_floor(port=FLOOR_PORT, workers=args.workers)
        rounds = alternate(
            {
                "app": page_steps(
                    PORT, lambda s, j: f"/p/{floor.checkout_token(s, j)}/", stations, n, b"qr-svg"
                ),
                "floor": page_steps(
                    FLOOR_PORT, lambda s, j: f"/pickup/{s}/{j}/", stations, n, b"ok"
                ),
            },
            rounds=args.rounds,
            seconds=args.seconds,
            warmup=args.warmup,
        )
        peak = max(peak_rss_mib(pid) for pid in worker_pids(app))
    finally:
        stop(app)
        stop(floor_server)

    load, floor_load = merged(rounds["app"]), merged(rounds["floor"])
    paired = paired_ratio(rounds["app"], rounds["floor"])
    a, f = load.summary(), floor_load.summary()
    result = {
        **a,
        "clients": args.clients,
        "gunicorn_workers": args.workers,
        "rounds": args.rounds,
        "worker_peak_rss_mib": round(peak, 1),
        "django_floor_per_s": f["per_s"],
        "django_floor_p99_ms": f["p99_ms"],
        "ratio_to_django_floor": paired["median"],
        "ratio_spread": paired["spread"],
    }
    if load.exhausted or floor_load.exhausted:
        print("warning: buyers ran out of parcels; raise --drawn (and --per-station)")
    print(
        f"pickup page: {a['per_s']:.0f}/s at {args.clients} buyers (p50 {a['p50_ms']} ms, "
        f"p95 {a['p95_ms']} ms, p99 {a['p99_ms']} ms, {a['failures']} failed); "
        f"busiest worker peak {peak:.0f} MiB | floor {f['per_s']:.0f}/s "
        f"(ratio {paired['median']}, {(paired['spread'] or ['', ''])[0]}–"
        f"{(paired['spread'] or ['', ''])[1]} over {args.rounds} rounds)",
        flush=True,
    )
    save_result("pickup", result)
    if a["failures"] or f["failures"]:
        sys.exit(f"failed requests: {load.failures[:3]} {floor_load.failures[:3]}")


if __name__ == "__main__":
    main()
