"""Profile one request in-process with pyinstrument: where a check-out, a check-in or a buyer's
pickup page spends its time, through every middleware, the view, the service and the template.

Prepares the same stations and parcels as bench/handover.py, sends `--requests` requests with
Django's test client (production settings, DEBUG off) and writes the profile as text to the
terminal and as HTML to var/bench/profile-<flow>.html.

    python bench/profile.py [--flow checkout|checkin|pickup] [--requests 300] [--no-profile]
"""

from __future__ import annotations

import argparse
import contextlib
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
from django.test import Client  # noqa: E402
from pyinstrument import Profiler  # noqa: E402

from bench import floor  # noqa: E402
from bench.handover import PASSWORD, prepare  # noqa: E402
from stations.models import Station  # noqa: E402
from stations.tenancy import network_scope  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flow", choices=("checkout", "checkin", "pickup"), default="checkout")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--no-profile", action="store_true", help="only time the requests")
    args = parser.parse_args()

    layout = prepare(1, args.requests + 20)
    with network_scope():
        flow = "checkout" if args.flow == "pickup" else args.flow  # pages of parcels on a shelf
        station = Station.objects.get(pk=layout[flow, "app"][0])
    if args.flow == "pickup":
        from bench.pickup import draw_qr_codes

        draw_qr_codes([station.pk], args.requests + 10)  # as the pickup notice's task does
        buyer = Client()

        def send(j: int):
            return buyer.get(
                f"/p/{floor.checkout_token(station.pk, j)}/", HTTP_ACCEPT_LANGUAGE="en"
            )

        measure(send, args)
        return
    client = Client(enforce_csrf_checks=True)
    if not client.login(email="clerk00@bench.invalid", password=PASSWORD):
        sys.exit("could not log in")
    page = f"/s/{station.slug}/{args.flow.replace('check', 'check-')}/"
    client.get(page)
    csrf = client.cookies["csrftoken"].value

    def form(j: int) -> dict:
        if args.flow == "checkout":
            return {"credential": f"/p/{floor.checkout_token(station.pk, j)}/", "action": "confirm"}
        return {"tracking_number": floor.checkin_tracking(station.pk, j)}

    def send(j: int):
        return client.post(page, form(j), HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=csrf)

    measure(send, args)


def measure(send, args: argparse.Namespace) -> None:
    """`send(j)` for j = 0 … 9 to warm up, then timed (and profiled) for the next `--requests`."""
    for j in range(10):  # warm up: imports, template loading, connection
        send(j)
    profiler = Profiler(interval=0.0005)
    started, cpu_started = time.perf_counter(), time.process_time()
    with profiler if not args.no_profile else contextlib.nullcontext():
        for j in range(10, args.requests + 10):
            response = send(j)
            if response.status_code != 200:
                sys.exit(f"request {j}: {response.status_code}")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(
        f"{args.requests} {args.flow} requests in {elapsed:.2f} s: "
        f"{elapsed / args.requests * 1000:.1f} ms each ({cpu / args.requests * 1000:.1f} ms of "
        f"CPU in this process{'' if args.no_profile else ', profiler included'})"
    )
    if args.no_profile:
        return
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    out = Path(settings.VAR_DIR) / "bench" / f"profile-{args.flow}.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(profiler.output_html())
    print(f"written {out}")


if __name__ == "__main__":
    main()
