"""A simulated day of the network, end to end, that checks nothing was lost or doubled.

At `--scale 0.1` (the default, one tenth of Singapore) 160 stations and 20,000 parcels; at
`--scale 1` 1,600 stations and 200,000 parcels. In order, each phase timed:

1. setup: three partners with tariffs, the stations (active), a clerk per station, API keys;
2. announce: gunicorn (production settings) takes the partners' batches of 1,000 over HTTP;
3. check-in: clerks check every parcel in through the service, a process pool split by station;
4. notices: a real Celery worker on Redis sends the pickup notices queued at check-in, with
   `send_due_notices` called as beat would; SMS go to bench/sms.py, which records each send;
5. pickup: nine in ten parcels are handed over (QR link or typed code) through the service;
6. sweep: the rest are swept overdue, with a `now` past their deadline (no waiting for days);
7. hand back: each station gives them back to each partner's courier;
8. close month: the statements of the month(s) the ledger lines fall in;
9. verify: every parcel terminal, one pickup notice each, sent once (the SMS record), handovers,
   events, ledger lines and statements equal to the tariffs times the handovers and returns.

It runs in a database, broker, port and folder of its own (stationkeeper_sim, Redis db 12, port
8766, var/sim/), all emptied first, and exits non-zero on any mismatch. Writes
var/bench/simulate.json.

    python bench/simulate.py [--scale 0.1] [--processes 4] [--beat-every 60]
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import math
import multiprocessing
import os
import subprocess
import sys
import threading
import time
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.util import Finalize
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIM_DATABASE = "stationkeeper_sim"
SERVER_URL = "postgres://postgres@127.0.0.1:5432"
BROKER_URL = "redis://127.0.0.1:6379/12"
PORT = 8766
SIM_DIR = ROOT / "var" / "sim"
SMS_RECORD = SIM_DIR / "sms-sent.log"

# The simulation's own database, broker and SMS recorder, whatever the caller's environment says
# (the Makefile's bench environment points at the benchmarks' database and broker). Everything
# started from here (gunicorn, the worker, the pool) inherits this environment.
os.environ["DATABASE_URL"] = f"{SERVER_URL}/{SIM_DATABASE}"
os.environ["CELERY_BROKER_URL"] = BROKER_URL
os.environ["SMS_BACKEND"] = "bench.sms.RecordingSmsBackend"
os.environ["SIM_SMS_RECORD"] = str(SMS_RECORD)
os.environ["STATIONKEEPER_VAR_DIR"] = str(ROOT / "var")
# DEBUG on would keep every query in memory (hundreds of thousands of them) and measure the wrong
# thing; `make bench` forces it off too.
os.environ["DJANGO_DEBUG"] = "0"
os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only-secret-key-not-for-production-use")
os.environ.setdefault("EMAIL_URL", "consolemail://")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "127.0.0.1,testserver")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("DJANGO_STATIC_MANIFEST", "0")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.db import connections  # noqa: E402
from django.db.models import Count, Max, Min, Q, Sum  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench import common  # noqa: E402
from bench.common import fresh_database, save_result  # noqa: E402
from parcels import services  # noqa: E402
from parcels.exceptions import DomainError  # noqa: E402
from parcels.models import HandBack, Handover, Notice, Parcel, ParcelEvent  # noqa: E402
from parcels.tasks import send_due_notices  # noqa: E402
from partners.models import Partner, Tariff  # noqa: E402
from partners.services import api_key_create  # noqa: E402
from stations import earnings  # noqa: E402
from stations.models import LedgerLine, Membership, Statement, Station, User  # noqa: E402
from stations.tenancy import network_scope, station_scope  # noqa: E402

FULL_STATIONS = 1600
FULL_PARCELS = 200_000
SHELF_MARGIN = 25  # free slots beyond a station's share of the day's parcels
RETURN_EVERY = 10  # one parcel in ten is never collected
# (name, slug, handover fee, return fee) in SGD cents.
PARTNERS = [
    ("Sim Express", "sim-express", 45, 20),
    ("Sim Post", "sim-post", 50, 25),
    ("Sim Logistics", "sim-logistics", 40, 15),
]
LANGUAGES = [Parcel.Language.EN, Parcel.Language.ZH_HANS, Parcel.Language.MS]


def say(text: str) -> None:
    print(text, flush=True)


def money(cents: int) -> str:
    return f"SGD {cents // 100:,}.{cents % 100:02d}"


class Phases:
    """Wall time per phase, printed as each one completes."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def run(self, name: str) -> Iterator[dict[str, str]]:
        note: dict[str, str] = {}
        say(f"-- {name} ...")
        started = time.perf_counter()
        yield note
        elapsed = time.perf_counter() - started
        self.seconds[name] = round(elapsed, 1)
        say(f"-- {name}: {elapsed:.1f} s  {note.get('detail', '')}".rstrip())


# --- the environment of the run -----------------------------------------------------------------


def ensure_database() -> None:
    with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as conn:
        found = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [SIM_DATABASE]
        ).fetchone()
        if not found:
            conn.execute(f'CREATE DATABASE "{SIM_DATABASE}"')


def empty_broker() -> None:
    """Our broker database only: tasks left by an interrupted run would point at rows that the
    fresh database no longer has."""
    redis.Redis.from_url(BROKER_URL).flushdb()


def start_process(args: list[str], log_name: str) -> subprocess.Popen:
    with (SIM_DIR / log_name).open("ab") as log:
        return subprocess.Popen(  # noqa: S603 - our own venv's programs
            args, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=log, stderr=log
        )


def start_gunicorn(workers: int) -> subprocess.Popen:
    return common.start_gunicorn(
        port=PORT, workers=workers, probe="/api/v1/schema/", log=SIM_DIR / "gunicorn.log"
    )


def start_worker(concurrency: int) -> subprocess.Popen:
    return start_process(
        [
            str(Path(sys.executable).parent / "celery"),
            "-A",
            "config",
            "worker",
            "--concurrency",
            str(concurrency),
            "--hostname",
            "simulate@%h",
            "--loglevel",
            "warning",
            "--without-gossip",
            "--without-mingle",
        ],
        "worker.log",
    )


def stop(process: subprocess.Popen | None) -> None:
    common.stop(process, timeout=60)  # a worker finishing its tasks may need longer


# --- the process pool ---------------------------------------------------------------------------


def _child_init() -> None:
    # The parent closed its connections before forking; each child opens its own and closes it
    # when the pool ends, instead of dropping it on the floor.
    Finalize(None, connections.close_all, exitpriority=16)


def run_pool(func: Callable[[Any], tuple], items: list, processes: int, label: str) -> list:
    """`func` over `items` (one per station) in forked processes; progress about every tenth."""
    connections.close_all()  # a forked child must not share the parent's socket
    results = []
    step = max(1, len(items) // 10)
    started = time.perf_counter()
    pool = multiprocessing.get_context("fork").Pool(processes, initializer=_child_init)
    try:
        for result in pool.imap_unordered(func, items, chunksize=2):
            results.append(result)
            if len(results) % step == 0 or len(results) == len(items):
                done = sum(r[1] for r in results)
                rate = done / max(time.perf_counter() - started, 1e-9)
                say(
                    f"   {label}: {len(results):,}/{len(items):,} stations, "
                    f"{done:,} parcels ({rate:,.0f}/s)"
                )
    except BaseException:
        pool.terminate()
        raise
    else:
        pool.close()  # the children finish and close their connections
    finally:
        pool.join()
    return results


def _errors(results: list) -> list[str]:
    return [f"station {r[0]}: {e}" for r in results for e in r[2]]


# --- 1. setup -----------------------------------------------------------------------------------


def setup(stations: int, parcels: int) -> dict:
    fresh_database()
    today = timezone.localdate()
    partners = []
    for name, slug, handover_fee, return_fee in PARTNERS:
        partner = Partner.objects.create(name=name, slug=slug)
        Tariff.objects.create(
            partner=partner,
            handover_fee=handover_fee,
            return_fee=return_fee,
            currency="SGD",
            valid_from=today - dt.timedelta(days=365),
        )
        partners.append(partner)
    capacity = math.ceil(parcels / stations) + SHELF_MARGIN
    Station.objects.bulk_create(
        Station(
            name=f"Sim Station {i:04d}",
            slug=f"sim-{i:04d}",
            address=f"{i + 1} Simulation Road",
            postal_code=f"{100000 + i}",
            latitude=f"{1.25 + (i % 40) * 0.004:.6f}",
            longitude=f"{103.65 + (i // 40) * 0.008:.6f}",
            phone="+6561234567",
            capacity=capacity,
            status=Station.Status.ACTIVE,
            approved_at=timezone.now(),
        )
        for i in range(stations)
    )
    station_rows = list(Station.objects.order_by("pk").values_list("pk", "slug"))
    # One clerk per station. Users survive the database reset (see bench.common), so reuse them;
    # nobody logs in, so no password is hashed.
    emails = [f"sim-clerk-{i:04d}@example.com" for i in range(stations)]
    known = set(User.objects.filter(email__in=emails).values_list("email", flat=True))
    User.objects.bulk_create(
        User(email=e, full_name="Sim Clerk", password=make_password(None))
        for e in emails
        if e not in known
    )
    clerk_ids = dict(User.objects.filter(email__in=emails).values_list("email", "pk"))
    clerks = {pk: clerk_ids[email] for (pk, _slug), email in zip(station_rows, emails, strict=True)}
    Membership.objects.bulk_create(
        Membership(user_id=clerks[pk], station_id=pk, role=Membership.Role.CLERK)
        for pk, _slug in station_rows
    )
    keys = {p.pk: api_key_create(partner=p, name="simulation")[1] for p in partners}
    return {
        "partners": partners,
        "stations": station_rows,
        "clerks": clerks,
        "keys": keys,
        "capacity": capacity,
    }


# --- 2. announce --------------------------------------------------------------------------------


def plan_parcels(parcels: int, world: dict) -> list[tuple[str, int, int]]:
    """(tracking number, partner id, station id) for parcel n: stations and partners in turn, so
    each station gets its share from all three partners."""
    stations = world["stations"]
    partners = world["partners"]
    return [
        (f"SIM{n:09d}", partners[n % len(partners)].pk, stations[n % len(stations)][0])
        for n in range(parcels)
    ]


def announce(plan: list[tuple[str, int, int]], world: dict, args: argparse.Namespace) -> int:
    slugs = dict(world["stations"])
    by_partner: dict[int, list[dict]] = defaultdict(list)
    for n, (tracking, partner_id, station_id) in enumerate(plan):
        by_partner[partner_id].append(
            {
                "tracking_number": tracking,
                "station": slugs[station_id],
                "recipient_name": "Sim Buyer",
                "recipient_phone": "+6591234567",
                "language": LANGUAGES[n % len(LANGUAGES)],
            }
        )
    batches = [
        (partner_id, items[start : start + args.batch])
        for partner_id, items in by_partner.items()
        for start in range(0, len(items), args.batch)
    ]
    # Partners take turns, as they would on a real day.
    batches.sort(key=lambda b: (b[1][0]["tracking_number"], b[0]))
    queue = list(reversed(batches))
    lock = threading.Lock()
    failures: list[str] = []
    created = [0]

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=300)
        while True:
            with lock:
                if not queue or failures:
                    break
                partner_id, items = queue.pop()
            try:
                conn.request(
                    "POST",
                    "/api/v1/parcels/batch/",
                    body=json.dumps({"parcels": items}).encode(),
                    headers={
                        "Authorization": f"Api-Key {world['keys'][partner_id]}",
                        "Content-Type": "application/json",
                    },
                )
                response = conn.getresponse()
                raw = response.read()
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    failures.append(f"batch from {items[0]['tracking_number']}: {exc!r}")
                break
            body = json.loads(raw) if raw.startswith(b"{") else {}
            with lock:
                if (
                    response.status != 200
                    or body.get("failed")
                    or body.get("created") != len(items)
                ):
                    failures.append(
                        f"batch from {items[0]['tracking_number']}: HTTP {response.status} "
                        f"{raw[:300]!r}"
                    )
                else:
                    created[0] += body["created"]
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise SystemExit("announce failed:\n  " + "\n  ".join(failures[:5]))
    with network_scope():
        stored = Parcel.objects.filter(status=Parcel.Status.ANNOUNCED).count()
    if stored != len(plan) or created[0] != len(plan):
        raise SystemExit(f"announce: sent {len(plan):,}, created {created[0]:,}, stored {stored:,}")
    return len(batches)


# --- 3. check-in --------------------------------------------------------------------------------


def at_the_counter(
    job: tuple[int, int, list[str]], act: Callable[[Station, User, str], object]
) -> tuple[int, int, list[str]]:
    """A station's clerk does `act` for each item of the job, one at a time, in the station's
    scope. Returns (station id, how many went through, what was refused and why)."""
    station_id, clerk_id, items = job
    station = Station.objects.get(pk=station_id)
    clerk = User.objects.get(pk=clerk_id)
    done, errors = 0, []
    with station_scope(station_id):
        for item in items:
            try:
                act(station, clerk, item)
            except DomainError as exc:
                errors.append(f"{item[-16:]}: {exc.code}")
            else:
                done += 1
    return station_id, done, errors


def check_in_station(job: tuple[int, int, list[str]]) -> tuple[int, int, list[str]]:
    """A clerk checks a station's parcels in, one scan at a time, as they come off the van."""
    return at_the_counter(
        job,
        lambda station, clerk, tracking: services.parcel_check_in(
            station=station, tracking_number=tracking, actor=clerk
        ),
    )


# --- 4. notices ---------------------------------------------------------------------------------


def wait_for_pickup_notices(
    worker: subprocess.Popen, expected: int, beat_every: float, timeout: float
) -> dict:
    """Beat's part (send_due_notices every `beat_every` s) while the worker drains the queue, until
    every pickup notice is sent. Fails if the worker dies, a notice fails, or time runs out."""
    started = time.perf_counter()
    next_beat = started + beat_every
    next_report = started
    beats = 0
    while True:
        with network_scope():
            counts = dict(
                Notice.objects.filter(kind=Notice.Kind.PICKUP)
                .values_list("status")
                .annotate(n=Count("pk"))
                .order_by()
            )
        sent = counts.get(Notice.Status.SENT, 0)
        pending = counts.get(Notice.Status.PENDING, 0)
        now = time.perf_counter()
        if sent == expected or now >= next_report:
            rate = sent / max(now - started, 1e-9)
            say(
                f"   notices: {sent:,}/{expected:,} sent, {pending:,} pending "
                f"({rate:,.0f}/s, {now - started:.0f} s)"
            )
            next_report = now + 15
        if sent == expected:
            return {"beats": beats, "statuses": counts}
        if pending == 0:
            raise SystemExit(f"pickup notices that will never be sent: {counts}")
        if worker.poll() is not None:
            raise SystemExit(f"the Celery worker exited ({worker.returncode}); see worker.log")
        if now - started > timeout:
            raise SystemExit(
                f"timed out after {timeout:.0f} s with {sent:,} of {expected:,} pickup notices "
                f"sent ({counts})"
            )
        if now >= next_beat:
            send_due_notices.delay()
            beats += 1
            next_beat = now + beat_every
        time.sleep(5)  # counting 200,000 notices is not free either


# --- 5. pickup ----------------------------------------------------------------------------------


def hand_over_station(job: tuple[int, int, list[str]]) -> tuple[int, int, list[str]]:
    """Buyers come to the counter; the clerk scans the QR link or types the code each shows."""
    return at_the_counter(
        job,
        lambda station, clerk, credential: services.parcel_hand_over(
            station=station, credential=credential, actor=clerk
        ),
    )


def plan_pickups(world: dict) -> tuple[list[tuple[int, int, list[str]]], int]:
    """At each station every tenth parcel (counting from a different place at each station, so
    that nine in ten of all parcels are collected) stays on the shelf; the rest are collected.
    One in four buyers reads out the code, the others show the QR code (the pickup link)."""
    with network_scope():
        rows = list(
            Parcel.objects.order_by("pk").values_list("station_id", "pickup_token", "pickup_code")
        )
    per_station: dict[int, list[str]] = defaultdict(list)
    seen: Counter[int] = Counter()
    left = 0
    for n, (station_id, token, code) in enumerate(rows):
        seen[station_id] += 1
        if (seen[station_id] + station_id) % RETURN_EVERY == 0:
            left += 1
            continue
        credential = code if n % 4 == 0 else settings.SITE_URL + reverse("pickup", args=[token])
        per_station[station_id].append(credential)
    jobs = [(sid, world["clerks"][sid], creds) for sid, creds in per_station.items()]
    return jobs, left


# --- 6. sweep, 7. hand back ---------------------------------------------------------------------


def hand_back_station(job: tuple[int, int, dict[int, list[int]]]) -> tuple[int, int, list[str]]:
    """Each partner's courier takes that partner's parcels that are due back, in one hand-back."""
    station_id, clerk_id, by_partner = job
    station = Station.objects.get(pk=station_id)
    clerk = User.objects.get(pk=clerk_id)
    done, errors = 0, []
    with station_scope(station_id):
        for partner_id, parcel_ids in sorted(by_partner.items()):
            try:
                services.parcels_hand_back(
                    station=station,
                    parcel_ids=parcel_ids,
                    courier_name=f"Courier of partner {partner_id}",
                    actor=clerk,
                )
            except DomainError as exc:
                errors.append(f"partner {partner_id}: {exc.code}")
            else:
                done += len(parcel_ids)
    return station_id, done, errors


def plan_hand_backs(world: dict) -> list[tuple[int, int, dict[int, list[int]]]]:
    with network_scope():
        rows = Parcel.objects.filter(status=Parcel.Status.RETURN_DUE).values_list(
            "station_id", "partner_id", "pk"
        )
        per_station: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
        for station_id, partner_id, pk in rows.iterator(chunk_size=5000):
            per_station[station_id][partner_id].append(pk)
    return [(sid, world["clerks"][sid], dict(parts)) for sid, parts in per_station.items()]


# --- 8. close month -----------------------------------------------------------------------------


def ledger_months() -> list[dt.date]:
    """The months, in each station's own time zone, that the ledger lines fall in (one, unless
    the run crosses midnight at the end of a month)."""
    months = set()
    with network_scope():
        for tz_name in Station.objects.order_by().values_list("timezone", flat=True).distinct():
            span = LedgerLine.objects.filter(station__timezone=tz_name).aggregate(
                first=Min("created_at"), last=Max("created_at")
            )
            if span["first"] is None:
                continue
            tz = zoneinfo.ZoneInfo(tz_name)
            first = span["first"].astimezone(tz).date().replace(day=1)
            last = span["last"].astimezone(tz).date().replace(day=1)
            month = first
            while month <= last:
                months.add(month)
                month = (month + dt.timedelta(days=32)).replace(day=1)
    return sorted(months)


# --- 9. verify ----------------------------------------------------------------------------------


def read_sms_record() -> list[tuple[int, int]]:
    if not SMS_RECORD.exists():
        return []
    pairs = []
    for line in SMS_RECORD.read_text().splitlines():
        notice_id, parcel_id = line.split()
        pairs.append((int(notice_id), int(parcel_id)))
    return pairs


def verify(world: dict, parcels: int, returns: int) -> tuple[list[str], dict]:
    """Every count and sum the day must add up to. Returns (what differs, the totals)."""
    problems: list[str] = []

    def expect(what: str, got: object, wanted: object) -> None:
        if got != wanted:
            problems.append(f"{what}: got {got!r}, expected {wanted!r}")

    handovers_wanted = parcels - returns
    tariffs = {
        p.pk: earnings.tariff_in_force(partner=p, day=timezone.localdate())
        for p in world["partners"]
    }
    with network_scope():
        # Parcels: all in a terminal state, in the numbers planned.
        statuses = dict(Parcel.objects.values_list("status").annotate(n=Count("pk")).order_by())
        expect("parcels", sum(statuses.values()), parcels)
        expect(
            "parcels by status",
            statuses,
            {
                k: v
                for k, v in {
                    Parcel.Status.PICKED_UP: handovers_wanted,
                    Parcel.Status.RETURNED: returns,
                }.items()
                if v
            },
        )
        picked_by_partner = dict(
            Parcel.objects.filter(status=Parcel.Status.PICKED_UP)
            .values_list("partner_id")
            .annotate(n=Count("pk"))
            .order_by()
        )
        returned_by_partner = dict(
            Parcel.objects.filter(status=Parcel.Status.RETURNED)
            .values_list("partner_id")
            .annotate(n=Count("pk"))
            .order_by()
        )

        # Handovers and hand-backs: one record per parcel that left the shelf.
        handovers = Handover.objects.count()
        expect("handovers", handovers, statuses.get(Parcel.Status.PICKED_UP, 0))
        expect(
            "handovers by partner",
            dict(Handover.objects.values_list("partner_id").annotate(n=Count("pk")).order_by()),
            picked_by_partner,
        )
        expect(
            "returned parcels without a hand-back",
            Parcel.objects.filter(status=Parcel.Status.RETURNED, hand_back__isnull=True).count(),
            0,
        )
        hand_backs = HandBack.objects.count()

        # The timeline: announced and checked in once each, then one way off the shelf.
        events = dict(ParcelEvent.objects.values_list("kind").annotate(n=Count("pk")).order_by())
        expect(
            "events by kind",
            events,
            {
                k: v
                for k, v in {
                    "parcel.announced": parcels,
                    "parcel.checked_in": parcels,
                    "parcel.picked_up": handovers_wanted,
                    "parcel.return_due": returns,
                    "parcel.returned": returns,
                }.items()
                if v
            },
        )

        # Notices: exactly one pickup notice per parcel, sent.
        pickup = Notice.objects.filter(kind=Notice.Kind.PICKUP).aggregate(
            n=Count("pk"),
            parcels=Count("parcel", distinct=True),
            sent=Count("pk", filter=Q(status=Notice.Status.SENT)),
            sms=Count("pk", filter=Q(channel=Notice.Channel.SMS)),
        )
        expect("pickup notices", pickup["n"], parcels)
        expect("parcels with a pickup notice", pickup["parcels"], parcels)
        expect("pickup notices sent", pickup["sent"], parcels)
        expect("pickup notices by SMS", pickup["sms"], parcels)
        # The buyers of returned parcels are told, once each. Their notices fall due at the
        # sweep's simulated `now`, days ahead, so they are still pending at the end of the run.
        returned_notices = Notice.objects.filter(kind=Notice.Kind.RETURNED).aggregate(
            n=Count("pk"), parcels=Count("parcel", distinct=True)
        )
        expect("returned notices", returned_notices["n"], returns)
        expect("parcels with a returned notice", returned_notices["parcels"], returns)
        notices_by_status = {
            f"{kind}/{status}": n
            for kind, status, n in Notice.objects.values("kind", "status")
            .annotate(n=Count("pk"))
            .order_by()
            .values_list("kind", "status", "n")
        }
        expect(
            "failed notices",
            Notice.objects.filter(status=Notice.Status.FAILED).count(),
            0,
        )
        sent_sms = dict(
            Notice.objects.filter(status=Notice.Status.SENT, channel=Notice.Channel.SMS)
            .values_list("pk", "parcel_id")
            .iterator(chunk_size=10_000)
        )
        pickup_ids = set(
            Notice.objects.filter(kind=Notice.Kind.PICKUP).values_list("pk", flat=True)
        )

        # Money: one line per handover and return at the partner's tariff; statements sum them.
        ledger = {
            (row["partner_id"], row["kind"]): row
            for row in LedgerLine.objects.values("partner_id", "kind")
            .annotate(n=Count("pk"), total=Sum("amount"))
            .order_by()
        }
        for partner in world["partners"]:
            tariff = tariffs[partner.pk]
            for kind, count, fee in (
                (
                    LedgerLine.Kind.HANDOVER,
                    picked_by_partner.get(partner.pk, 0),
                    tariff.handover_fee,
                ),
                (LedgerLine.Kind.RETURN, returned_by_partner.get(partner.pk, 0), tariff.return_fee),
            ):
                row = ledger.get((partner.pk, kind), {"n": 0, "total": 0})
                expect(f"{partner.slug} {kind} lines", row["n"], count)
                expect(f"{partner.slug} {kind} amount", row["total"], count * fee)
        expect(
            "ledger lines of another kind",
            sum(r["n"] for (_p, kind), r in ledger.items() if kind not in ("handover", "return")),
            0,
        )
        ledger_by_station = {
            row["station_id"]: row
            for row in LedgerLine.objects.values("station_id")
            .annotate(
                total=Sum("amount"),
                handovers=Count("pk", filter=Q(kind=LedgerLine.Kind.HANDOVER)),
                returns=Count("pk", filter=Q(kind=LedgerLine.Kind.RETURN)),
            )
            .order_by()
        }
        statements_by_station = {
            row["station_id"]: row
            for row in Statement.objects.values("station_id")
            .annotate(total=Sum("total"), handovers=Sum("handovers"), returns=Sum("returns"))
            .order_by()
        }
        statements = Statement.objects.count()
        differing = [
            sid
            for sid in ledger_by_station.keys() | statements_by_station.keys()
            if ledger_by_station.get(sid) != statements_by_station.get(sid)
        ]
        for sid in sorted(differing)[:5]:
            problems.append(
                f"station {sid}: ledger {ledger_by_station.get(sid)}, "
                f"statements {statements_by_station.get(sid)}"
            )
        if len(differing) > 5:
            problems.append(f"... and {len(differing) - 5} more stations whose statements differ")
        ledger_totals = LedgerLine.objects.aggregate(
            n=Count("pk"),
            total=Sum("amount", default=0),
            handover_total=Sum("amount", filter=Q(kind=LedgerLine.Kind.HANDOVER), default=0),
            return_total=Sum("amount", filter=Q(kind=LedgerLine.Kind.RETURN), default=0),
        )
        statement_total = Statement.objects.aggregate(total=Sum("total", default=0))["total"]
        expect("statement totals vs ledger", statement_total, ledger_totals["total"])

    # The SMS record: one line per sent SMS, none twice, none missing, for the right parcel.
    record = read_sms_record()
    per_notice = Counter(notice_id for notice_id, _parcel in record)
    doubled = sorted(n for n, c in per_notice.items() if c > 1)
    missing = sorted(sent_sms.keys() - per_notice.keys())
    unknown = sorted(per_notice.keys() - sent_sms.keys())
    wrong_parcel = sorted({n for n, p in record if n in sent_sms and sent_sms[n] != p})
    pickup_lines = Counter(p for n, p in record if n in pickup_ids)
    for what, ids in (
        ("SMS sent more than once (notice ids)", doubled),
        ("SMS marked sent but not in the record (notice ids)", missing),
        ("SMS in the record but not marked sent (notice ids)", unknown),
        ("SMS recorded for the wrong parcel (notice ids)", wrong_parcel),
    ):
        if ids:
            problems.append(f"{what}: {len(ids):,}, e.g. {ids[:5]}")
    expect(
        "parcels with exactly one pickup SMS", sum(c == 1 for c in pickup_lines.values()), parcels
    )

    totals = {
        "parcels": sum(statuses.values()),
        "picked_up": statuses.get(Parcel.Status.PICKED_UP, 0),
        "returned": statuses.get(Parcel.Status.RETURNED, 0),
        "handovers": handovers,
        "hand_backs": hand_backs,
        "events": sum(events.values()),
        "notices": notices_by_status,
        "sms_recorded": len(record),
        "ledger_lines": ledger_totals["n"],
        "statements": statements,
        "handover_fees": ledger_totals["handover_total"],
        "return_fees": ledger_totals["return_total"],
        "ledger_total": ledger_totals["total"],
        "statement_total": statement_total,
    }
    return problems, totals


# --- the day ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1, help="1 = 1,600 stations, 200,000")
    parser.add_argument("--processes", type=int, default=4, help="check-in/pickup processes")
    parser.add_argument("--clients", type=int, default=2, help="API client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--beat-every", type=float, default=60.0, help="send_due_notices, s")
    parser.add_argument("--notice-timeout", type=float, help="s; default 600 + 20 ms a parcel")
    args = parser.parse_args()

    stations = max(1, round(FULL_STATIONS * args.scale))
    parcels = max(1, round(FULL_PARCELS * args.scale))
    timeout = args.notice_timeout or 600 + parcels * 0.02
    say(
        f"simulated day at scale {args.scale:g}: {stations:,} stations, {parcels:,} parcels "
        f"(database {SIM_DATABASE}, broker {BROKER_URL}, port {PORT})"
    )
    SIM_DIR.mkdir(parents=True, exist_ok=True)
    for name in ("gunicorn.log", "worker.log"):
        (SIM_DIR / name).write_bytes(b"")
    SMS_RECORD.unlink(missing_ok=True)
    ensure_database()
    empty_broker()

    phases = Phases()
    server = worker = None
    day_started = time.perf_counter()
    try:
        with phases.run("setup") as note:
            world = setup(stations, parcels)
            note["detail"] = (
                f"({len(world['partners'])} partners, {stations:,} stations of capacity "
                f"{world['capacity']}, {stations:,} clerks)"
            )

        with phases.run("announce") as note:
            plan = plan_parcels(parcels, world)
            server = start_gunicorn(args.workers)
            batches = announce(plan, world, args)
            stop(server)
            note["detail"] = f"({parcels:,} parcels in {batches} batches over HTTP)"

        with phases.run("check-in") as note:
            per_station: dict[int, list[str]] = defaultdict(list)
            for tracking, _partner_id, station_id in plan:
                per_station[station_id].append(tracking)
            jobs = [(sid, world["clerks"][sid], nums) for sid, nums in per_station.items()]
            results = run_pool(check_in_station, jobs, args.processes, "check-in")
            checked_in = sum(r[1] for r in results)
            if errors := _errors(results):
                raise SystemExit(f"check-in refused {len(errors)}: {errors[:5]}")
            note["detail"] = f"({checked_in:,} parcels, {args.processes} processes)"

        with phases.run("notices") as note:
            worker = start_worker(args.concurrency)
            beats = wait_for_pickup_notices(worker, parcels, args.beat_every, timeout)["beats"]
            note["detail"] = (
                f"({parcels:,} pickup SMS, worker concurrency {args.concurrency}, {beats} beats)"
            )

        with phases.run("pickup") as note:
            jobs, returns = plan_pickups(world)
            results = run_pool(hand_over_station, jobs, args.processes, "pickup")
            handed = sum(r[1] for r in results)
            if errors := _errors(results):
                raise SystemExit(f"hand-over refused {len(errors)}: {errors[:5]}")
            note["detail"] = f"({handed:,} handed over, {returns:,} left on the shelf)"

        with phases.run("sweep") as note:
            with network_scope():
                last_deadline = Parcel.objects.filter(status=Parcel.Status.AT_STATION).aggregate(
                    last=Max("hold_deadline")
                )["last"]
                sweep_now = (last_deadline or timezone.now()) + dt.timedelta(minutes=1)
                moved = services.parcels_sweep_overdue(now=sweep_now)
            if moved != returns:
                raise SystemExit(f"the sweep moved {moved:,} parcels, expected {returns:,}")
            note["detail"] = f"({moved:,} overdue, swept as of {sweep_now:%Y-%m-%d %H:%M} UTC)"

        with phases.run("hand back") as note:
            jobs = plan_hand_backs(world)
            results = run_pool(hand_back_station, jobs, args.processes, "hand back")
            handed_back = sum(r[1] for r in results)
            if errors := _errors(results):
                raise SystemExit(f"hand-back refused {len(errors)}: {errors[:5]}")
            note["detail"] = f"({handed_back:,} parcels to their partners' couriers)"

        with phases.run("close month") as note:
            months = ledger_months()
            with network_scope():
                written = sum(earnings.statements_close_month(month=m) for m in months)
            note["detail"] = (
                f"({written:,} statements for {', '.join(f'{m:%Y-%m}' for m in months)})"
            )

        # The worker is stopped before the checks, so the record and the rows stand still.
        stop(worker)

        with phases.run("verify") as note:
            problems, totals = verify(world, parcels, returns)
            note["detail"] = "(all consistent)" if not problems else f"({len(problems)} problems)"
    finally:
        stop(server)
        stop(worker)
        empty_broker()

    total = time.perf_counter() - day_started
    say("")
    say(f"{'phase':<12} {'seconds':>9}")
    for name, seconds in phases.seconds.items():
        say(f"{name:<12} {seconds:>9.1f}")
    say(f"{'total':<12} {total:>9.1f}")
    say("")
    say(
        f"parcels {totals['parcels']:,}: {totals['picked_up']:,} picked up, "
        f"{totals['returned']:,} returned; handovers {totals['handovers']:,}, "
        f"hand-backs {totals['hand_backs']:,}, events {totals['events']:,}"
    )
    say(
        "notices "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(totals["notices"].items()))
        + f"; SMS recorded {totals['sms_recorded']:,}"
    )
    say(
        f"ledger lines {totals['ledger_lines']:,}: handover fees {money(totals['handover_fees'])}, "
        f"return fees {money(totals['return_fees'])}, total {money(totals['ledger_total'])}; "
        f"statements {totals['statements']:,} totalling {money(totals['statement_total'])}"
    )
    result = {
        "scale": args.scale,
        "stations": stations,
        "parcels": parcels,
        "processes": args.processes,
        "gunicorn_workers": args.workers,
        "celery_concurrency": args.concurrency,
        "phases_s": phases.seconds,
        "total_s": round(total, 1),
        "counts": totals,
        "ok": not problems,
        "problems": problems,
    }
    path = save_result("simulate", result)
    say(f"written to {path.relative_to(ROOT)}")
    if problems:
        say("\nMISMATCHES:")
        for problem in problems:
            say(f"  {problem}")
        sys.exit(1)
    say("OK: nothing lost, nothing doubled")


if __name__ == "__main__":
    main()
