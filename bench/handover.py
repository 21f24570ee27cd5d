"""Benchmark: check-outs and check-ins per second at the counter, against what the database and
what Django alone can do on this machine.

16 clients (threads of this process), each logged in as the clerk of its own station, send the
portal's real requests (the htmx POST the check-out and check-in pages make, with the session
cookie and the CSRF header) to gunicorn with production settings, for a fixed time. Each client
hands over (or checks in) distinct parcels. In the same run, two references do the same SQL work:

- pgbench: the statements of one request as one pgbench transaction (what PostgreSQL can do);
- floor: a minimal Django view (bench/floor.py: no middleware, no ORM, no templates) that runs the
  same statements through Django's connection (what Django itself can do).

The app and the minimal view are both served throughout, and the load alternates between them
in short rounds (`--rounds`, A B A B …), so that noise from elsewhere on the machine falls on
both sides alike; the ratio is the median of the per-round ratios, with their spread (lowest
and highest). pgbench runs after them.

The SQL both references run is in bench/floor.py; `--show-sql` prints what one real request
issues, to compare. Writes var/bench/handover.json. `make bench` runs it.

    python bench/handover.py [--clients 16] [--seconds 45] [--rounds 15] [--workers 4] [--show-sql]
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.contrib.sessions.models import Session  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench import floor  # noqa: E402
from bench.common import (  # noqa: E402
    alternate,
    fresh_database,
    merged,
    paired_ratio,
    ratio,
    save_result,
    start_floor,
    start_gunicorn,
    stop,
)
from parcels.models import Handover  # noqa: E402
from partners.models import Partner, Tariff  # noqa: E402
from stations.models import Membership, Station, User  # noqa: E402
from stations.tenancy import network_scope  # noqa: E402

PORT, FLOOR_PORT = 8765, 8767
PASSWORD = "bench-clerk-password"  # noqa: S105 - a throwaway benchmark login
POOLS = ("app", "floor", "pgbench")  # each run takes parcels no other run touches
ON_SHELF_AT_CHECK_IN = 100  # what the check-in stations already hold


def _station_row(name: str, capacity: int) -> Station:
    return Station(
        name=name,
        slug=name.lower().replace(" ", "-"),
        address="1 Bench Road",
        postal_code="100001",
        latitude="1.300000",
        longitude="103.800000",
        phone="+6561234567",
        capacity=capacity,
        status=Station.Status.ACTIVE,
    )


def prepare(clients: int, per_station: int) -> dict:
    """For each pool and client: a check-out station with `per_station` parcels on the shelf and
    a check-in station with `per_station` parcels announced to it. One clerk per client index is
    a member of all of that client's stations."""
    fresh_database()
    User.objects.filter(email__endswith="@bench.invalid").delete()
    partner = Partner.objects.create(name="Bench Carrier", slug="bench-carrier")
    Tariff.objects.create(
        partner=partner, handover_fee=45, return_fee=20, currency="SGD", valid_from="2020-01-01"
    )
    password = make_password(PASSWORD)
    clerks = User.objects.bulk_create(
        User(email=f"clerk{c:02d}@bench.invalid", password=password) for c in range(clients)
    )
    capacity = per_station + ON_SHELF_AT_CHECK_IN + 10
    layout: dict = {"partner": partner.pk, "per_station": per_station}
    memberships = []
    for pool in POOLS:
        for flow in ("checkout", "checkin"):
            stations = Station.objects.bulk_create(
                _station_row(f"{flow} {pool} {c:02d}", capacity) for c in range(clients)
            )
            layout[(flow, pool)] = [s.pk for s in stations]
            memberships += [
                Membership(user=clerks[c], station=s, role=Membership.Role.CLERK)
                for c, s in enumerate(stations)
            ]
    Membership.objects.bulk_create(memberships)
    layout["clerks"] = [u.pk for u in clerks]
    if layout["clerks"] != list(range(clerks[0].pk, clerks[0].pk + clients)):
        sys.exit("pgbench needs the clerks numbered consecutively")
    # The floor and pgbench clients read a session each, as the middleware does.
    Session.objects.bulk_create(
        Session(
            session_key=floor.session_key(c),
            session_data=floor.SESSION_DATA,
            expire_date=timezone.now() + dt.timedelta(days=14),
        )
        for c in range(clients)
    )
    with connection.cursor() as cur:
        for pool in POOLS:
            # Check-out: parcel n (per station i, j = 0 … per_station-1) sits in slot j+1 with
            # code j and the token the pickup link carries: floor.checkout_token(station, j).
            for station_id in layout[("checkout", pool)]:
                cur.execute(
                    _INSERT_PARCELS,
                    {
                        "partner": partner.pk,
                        "station": station_id,
                        "count": per_station,
                        "status": "at_station",
                        "tracking": f"CO{station_id:04d}-",
                    },
                )
            # Check-in: parcels announced as floor.checkin_tracking(station, j), and a shelf
            # that already holds ON_SHELF_AT_CHECK_IN.
            for station_id in layout[("checkin", pool)]:
                cur.execute(
                    _INSERT_PARCELS,
                    {
                        "partner": partner.pk,
                        "station": station_id,
                        "count": ON_SHELF_AT_CHECK_IN,
                        "status": "at_station",
                        "tracking": f"SH{station_id:04d}-",
                    },
                )
                cur.execute(
                    _INSERT_PARCELS,
                    {
                        "partner": partner.pk,
                        "station": station_id,
                        "count": per_station,
                        "status": "announced",
                        "tracking": f"CI{station_id:04d}-",
                    },
                )
        cur.execute("ANALYZE")
    return layout


# Parcels j = 0 … count-1 at one station. On the shelf: slot j+1, code j, token
# floor.checkout_token; announced: no slot, code or token yet.
_INSERT_PARCELS = """
    INSERT INTO parcels_parcel (
        partner_id, station_id, tracking_number, recipient_name, recipient_phone,
        recipient_phone_last4, recipient_email, language, status, return_reason,
        shelf_slot, pickup_token, pickup_code, hold_deadline, hold_extended,
        announced_at, checked_in_at, created_at, updated_at)
    SELECT
        %(partner)s, %(station)s, %(tracking)s || lpad(j::text, 6, '0'),
        'Bench Buyer', '+659' || lpad(((%(station)s * 7919 + j) %% 10000000)::text, 7, '0'),
        right(lpad(((%(station)s * 7919 + j) %% 10000000)::text, 7, '0'), 4),
        '', 'en', %(status)s::varchar, '',
        CASE WHEN %(status)s::varchar = 'at_station' THEN j + 1 END,
        CASE WHEN %(status)s::varchar = 'at_station'
            THEN 'bench' || md5(%(station)s || '-' || j) END,
        CASE WHEN %(status)s::varchar = 'at_station' THEN lpad(j::text, 6, '0') END,
        CASE WHEN %(status)s::varchar = 'at_station' THEN now() + interval '3 days' END,
        false, now() - interval '1 day',
        CASE WHEN %(status)s::varchar = 'at_station' THEN now() - interval '1 hour' END,
        now() - interval '1 day', now() - interval '1 day'
    FROM generate_series(0, %(count)s - 1) AS j
"""


# --- the clients --------------------------------------------------------------------------------

_CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_CSRF_HEADER = re.compile(r'"X-CSRFToken": "([^"]+)"')


class Browser:
    """One clerk's browser: a keep-alive connection, its cookies and the page's CSRF token."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def request(
        self, method: str, path: str, form: dict | None = None, headers: dict | None = None
    ) -> tuple[int, str]:
        all_headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form)
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
            all_headers["Origin"] = f"http://127.0.0.1:{self.port}"
        all_headers.update(headers or {})
        self.conn.request(method, path, body=body, headers=all_headers)
        response = self.conn.getresponse()
        text = response.read().decode()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return response.status, text

    def log_in(self, email: str, next_page: str) -> None:
        status, page = self.request("GET", "/accounts/login/")
        token = _CSRF_FIELD.search(page)
        if status != 200 or not token:
            sys.exit(f"login page: {status}")
        status, _ = self.request(
            "POST",
            "/accounts/login/",
            form={"login": email, "password": PASSWORD, "csrfmiddlewaretoken": token.group(1)},
        )
        if status != 302 or "sessionid" not in self.cookies:
            sys.exit(f"log in as {email}: {status}")
        self.open(next_page)

    def open(self, page: str) -> None:
        """Open a portal page, as the clerk does before scanning: it carries the CSRF token."""
        status, html = self.request("GET", page)
        token = _CSRF_HEADER.search(html)
        if status != 200 or not token:
            sys.exit(f"{page}: {status}")
        self.csrf = token.group(1)

    def htmx_post(self, path: str, form: dict, target: str = "scan-panel") -> tuple[int, str]:
        """As htmx posts a form: `target` is the id of the part of the page it redraws."""
        return self.request(
            "POST",
            path,
            form=form,
            headers={"HX-Request": "true", "X-CSRFToken": self.csrf, "HX-Target": target},
        )


def checkout_steps(browsers: list[Browser], slugs: list[str], ids: list[int], n: int) -> list:
    """One step function per clerk: scan the next buyer's QR code, confirm the handover (the
    found card's button, which redraws the answer below the scan form)."""

    def make(browser: Browser, slug: str, station_id: int):
        parcels = iter(range(n))
        path = f"/s/{slug}/check-out/"

        def step() -> bool | None:
            j = next(parcels, None)
            if j is None:
                return None
            link = f"https://stationkeeper.example/p/{floor.checkout_token(station_id, j)}/"
            status, html = browser.htmx_post(
                path, {"credential": link, "action": "confirm"}, target="scan-result"
            )
            return status == 200 and "done-line" in html

        return step

    return [make(b, s, i) for b, s, i in zip(browsers, slugs, ids, strict=True)]


def checkin_steps(browsers: list[Browser], slugs: list[str], ids: list[int], n: int) -> list:
    """One step function per clerk: scan the next parcel's tracking number."""

    def make(browser: Browser, slug: str, station_id: int):
        parcels = iter(range(n))
        path = f"/s/{slug}/check-in/"

        def step() -> bool | None:
            j = next(parcels, None)
            if j is None:
                return None
            tracking = floor.checkin_tracking(station_id, j)
            status, html = browser.htmx_post(path, {"tracking_number": tracking})
            return status == 200 and "slot-big" in html

        return step

    return [make(b, s, i) for b, s, i in zip(browsers, slugs, ids, strict=True)]


def floor_steps(flow: str, layout: dict, n: int) -> list:
    """The minimal view's clients: the same parcels, a bare POST, no session cookie or CSRF
    (the view reads the client's session row by its number)."""
    ids = layout[flow, "floor"]

    def make(client: int, station_id: int):
        conn = http.client.HTTPConnection("127.0.0.1", FLOOR_PORT, timeout=60)
        parcels = iter(range(n))
        fields = {
            "client": client,
            "user": layout["clerks"][client],
            "station": station_id,
            "slug": f"{flow}-floor-{client:02d}",
        }

        def step() -> bool | None:
            j = next(parcels, None)
            if j is None:
                return None
            conn.request(
                "POST",
                f"/{flow}/",
                body=urlencode({**fields, "j": j}),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            response = conn.getresponse()
            return response.status == 200 and response.read() == b"ok"

        return step

    return [make(c, i) for c, i in enumerate(ids)]


# --- pgbench ------------------------------------------------------------------------------------


def run_pgbench(flow: str, ids: list[int], first_user: int, seconds: float) -> dict:
    """The flow's statements as one pgbench transaction; client k works at station ids[k].
    pgbench numbers clients from 0 and keeps each client's variables between transactions."""
    if len(set(b - a for a, b in itertools.pairwise(ids))) > 1:
        sys.exit("pgbench needs the pool's stations numbered consecutively")
    script = floor.pgbench_script(flow)
    db = settings.DATABASES["default"]
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(  # noqa: S603
            [
                shutil.which("pgbench") or "/usr/bin/pgbench",
                "-n",
                "-h",
                db["HOST"] or "127.0.0.1",
                "-p",
                str(db["PORT"] or 5432),
                "-U",
                db["USER"] or "postgres",
                "-c",
                str(len(ids)),
                "-j",
                "2",
                "-T",
                str(int(seconds)),
                "-D",
                f"first_station={ids[0]}",
                "-D",
                f"first_user={first_user}",
                "-D",
                "j=-1",
                "-f",
                f.name,
                db["NAME"],
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PGPASSWORD": db["PASSWORD"] or ""},
            check=False,
        )
    finally:
        os.unlink(f.name)
    tps = re.search(r"tps = ([\d.]+)", out.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", out.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", out.stdout)
    if out.returncode != 0 or not tps or (failed and int(failed.group(1))):
        sys.exit(f"pgbench {flow} failed:\n{out.stdout}\n{out.stderr}")
    return {"tps": float(tps.group(1)), "latency_avg_ms": float(latency.group(1))}


# --- the run ------------------------------------------------------------------------------------


def show_sql(layout: dict) -> None:
    """Print the statements one real check-out and one real check-in issue (via the test
    client, through every middleware), to hold floor.py's statements against."""
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    clerk = User.objects.get(email="clerk00@bench.invalid")
    client = Client(enforce_csrf_checks=False)
    client.force_login(clerk)
    with network_scope():
        checkout = Station.objects.get(pk=layout[("checkout", "app")][0])
        checkin = Station.objects.get(pk=layout[("checkin", "app")][0])
    requests = [
        (
            f"/s/{checkout.slug}/check-out/",
            {
                "credential": f"/p/{floor.checkout_token(checkout.pk, 0)}/",
                "action": "confirm",
            },
        ),
        (
            f"/s/{checkin.slug}/check-in/",
            {"tracking_number": floor.checkin_tracking(checkin.pk, 0)},
        ),
    ]
    for path, form in requests:
        with CaptureQueriesContext(connection) as queries:
            response = client.post(path, form, HTTP_HX_REQUEST="true")
        print(f"\n{path} → {response.status_code}, {len(queries)} statements")
        for q in queries:
            print("  ", q["sql"])


def verify(layout: dict, handovers_expected: int) -> None:
    with network_scope():
        handovers = Handover.objects.filter(station_id__in=layout[("checkout", "app")]).count()
    if handovers != handovers_expected:
        sys.exit(f"handovers in the database {handovers} != answered {handovers_expected}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--seconds", type=float, default=45, help="measured time per side, all rounds together"
    )
    parser.add_argument("--rounds", type=int, default=15, help="rounds per side, alternated")
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--per-station", type=int, default=2000)
    parser.add_argument("--show-sql", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    layout = prepare(args.clients, args.per_station)
    print(f"prepared in {time.perf_counter() - started:.1f} s")
    if args.show_sql:
        show_sql(layout)
        return

    n = args.per_station
    results: dict = {}
    # Both servers run throughout; the load alternates between them (bench/common.alternate).
    app = start_gunicorn(port=PORT, workers=args.workers)
    floor_server = None
    try:
        floor_server = start_floor(port=FLOOR_PORT, workers=args.workers)
        browsers = [Browser(PORT) for _ in range(args.clients)]
        slugs = {}
        with network_scope():
            for key in (("checkout", "app"), ("checkin", "app")):
                by_pk = dict(Station.objects.filter(pk__in=layout[key]).values_list("pk", "slug"))
                slugs[key] = [by_pk[pk] for pk in layout[key]]
        for c, browser in enumerate(browsers):
            browser.log_in(f"clerk{c:02d}@bench.invalid", f"/s/{slugs['checkout', 'app'][c]}/")
        for flow, make_steps in (("checkout", checkout_steps), ("checkin", checkin_steps)):
            for c, browser in enumerate(browsers):
                browser.open(f"/s/{slugs[flow, 'app'][c]}/{flow.replace('check', 'check-')}/")
            results[flow] = alternate(
                {
                    "app": make_steps(browsers, slugs[flow, "app"], layout[flow, "app"], n),
                    "floor": floor_steps(flow, layout, n),
                },
                rounds=args.rounds,
                seconds=args.seconds,
                warmup=args.warmup,
            )
            failures = merged(results[flow]["app"]).failures
            if flow == "checkout" and failures:
                print("first failures:", failures[:3])
    finally:
        stop(app)
        stop(floor_server)
    for flow in ("checkout", "checkin"):
        results[flow]["pgbench"] = run_pgbench(
            flow, layout[flow, "pgbench"], layout["clerks"][0], args.seconds
        )

    out = {}
    for flow in ("checkout", "checkin"):
        rounds, pg = results[flow], results[flow]["pgbench"]
        app_load, floor_load = merged(rounds["app"]), merged(rounds["floor"])
        a, f = app_load.summary(), floor_load.summary()
        paired = paired_ratio(rounds["app"], rounds["floor"])
        if app_load.exhausted or floor_load.exhausted:
            print(f"warning: {flow}: clients ran out of parcels; raise --per-station")
        out[flow] = {
            **a,
            "clients": args.clients,
            "gunicorn_workers": args.workers,
            "rounds": args.rounds,
            "django_floor_per_s": f["per_s"],
            "django_floor_p99_ms": f["p99_ms"],
            "ratio_to_django_floor": paired["median"],
            "ratio_spread": paired["spread"],
            "p99_to_django_floor": ratio(a["p99_ms"], f["p99_ms"]),
            "pgbench_tps": pg["tps"],
            "ratio_to_pgbench": ratio(a["per_s"], pg["tps"]),
        }
        low, high = paired["spread"] or (None, None)
        print(
            f"{flow}: {a['per_s']:.0f}/s (p50 {a['p50_ms']} ms, p95 {a['p95_ms']} ms, "
            f"p99 {a['p99_ms']} ms, {a['failures']} failed) | floor {f['per_s']:.0f}/s, "
            f"p99 {f['p99_ms']} ms (ratio {paired['median']}, {low}–{high} over "
            f"{args.rounds} rounds; p99 ratio {out[flow]['p99_to_django_floor']}) | "
            f"pgbench {pg['tps']:.0f} tps (ratio {out[flow]['ratio_to_pgbench']})"
        )
    verify(layout, merged(results["checkout"]["app"]).answered_ok)
    save_result("handover", out)
    if any(out[flow]["failures"] for flow in out):
        sys.exit("some requests failed")


if __name__ == "__main__":
    main()
