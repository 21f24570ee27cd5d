"""Probe: a counter day through a Redis outage, counted by status, then nothing lost or doubled.

Starts a Redis of its own on a free port (the cache and the Celery broker both point at it) and
gunicorn with production settings (DEBUG off) against the benchmark database. A clerk checks
parcels in and hands them over through the portal pages while a buyer opens the pickup page and
a partner lists its parcels through the API. After a few seconds this Redis is stopped for
`--outage` seconds (it keeps nothing, so the tasks queued so far are lost with it) and the same
work goes on; then it is started again on the same port, a real Celery worker runs, and beat's
sweeps are called until every pickup SMS and webhook has gone out. It prints the answers by
status before and during the outage, the rows committed, and checks that each SMS and each
webhook was sent exactly once. Writes var/bench/outage.json; exits 1 on any 5xx or a message
lost or doubled.

    make outage            (or: python bench/outage.py [--outage 30])
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Everything started from here (gunicorn, the worker) inherits this environment.
REDIS_PORT = _free_port()
OUT = ROOT / "var" / "bench"
SMS_LOG = OUT / "outage-sms.log"
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CACHE_URL": f"redis://127.0.0.1:{REDIS_PORT}/0",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{REDIS_PORT}/1",
        "SMS_BACKEND": "bench.sms.RecordingSmsBackend",
        "SIM_SMS_RECORD": str(SMS_LOG),
        "WEBHOOK_ALLOW_HTTP": "1",
        "WEBHOOK_ALLOW_PRIVATE": "1",
    }
)

import django  # noqa: E402

django.setup()

from bench.common import fresh_database, save_result, start_gunicorn, stop  # noqa: E402
from bench.handover import PASSWORD, Browser  # noqa: E402
from parcels import services  # noqa: E402
from parcels.models import Handover, Notice, Parcel  # noqa: E402
from parcels.tasks import send_due_notices  # noqa: E402
from partners.models import Partner, Tariff, WebhookDelivery, WebhookEndpoint  # noqa: E402
from partners.services import api_key_create  # noqa: E402
from partners.tasks import deliver_due_webhooks  # noqa: E402
from stations.models import Membership, Station, User  # noqa: E402
from stations.tenancy import network_scope  # noqa: E402

PORT = 8771
CLERK = "outage-clerk@bench.invalid"
_TOKEN = re.compile(r"/p/([A-Za-z0-9_-]{20,})/")


class Receiver:
    """The partner's webhook endpoint: counts each webhook-id it is sent."""

    def __init__(self) -> None:
        self.ids: Counter[str] = Counter()
        received = self.ids

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's naming
                self.rfile.read(int(self.headers["Content-Length"]))
                received[self.headers["webhook-id"]] += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def start_redis() -> subprocess.Popen:
    server = subprocess.Popen(  # noqa: S603 - Debian's redis-server, on loopback
        [
            shutil.which("redis-server") or "/usr/bin/redis-server",
            "--port",
            str(REDIS_PORT),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", REDIS_PORT), timeout=0.2).close()
            return server
        except OSError:
            time.sleep(0.05)
    sys.exit("redis-server did not start")


def prepare(parcels: int, receiver: Receiver) -> tuple[str, list[str]]:
    fresh_database()
    User.objects.filter(email=CLERK).delete()
    partner = Partner.objects.create(name="Outage Carrier", slug="outage-carrier")
    Tariff.objects.create(
        partner=partner, handover_fee=45, return_fee=20, currency="SGD", valid_from="2020-01-01"
    )
    station = Station.objects.create(
        name="Outage Mart",
        slug="outage-mart",
        address="1 Bench Road",
        postal_code="100001",
        latitude="1.300000",
        longitude="103.800000",
        phone="+6561234567",
        capacity=parcels + 10,
        status=Station.Status.ACTIVE,
    )
    clerk = User.objects.create_user(CLERK, PASSWORD)
    Membership.objects.create(user=clerk, station=station, role=Membership.Role.CLERK)
    WebhookEndpoint.objects.create(
        partner=partner, url=receiver.url, events=["parcel.checked_in", "parcel.picked_up"]
    )
    _key, raw = api_key_create(partner=partner, name="outage")
    numbers = [f"OUT{i:06d}" for i in range(parcels)]
    with network_scope():
        for number in numbers:
            services.parcel_announce(
                partner=partner,
                station=station,
                tracking_number=number,
                recipient_name="Bench Buyer",
                recipient_phone="+6591234567",
            )
    return raw, numbers


def run_phase(seconds: float, browser: Browser, api_key: str, todo: list[str], shelf: list):
    """The counter and its neighbours for `seconds`: statuses by kind of request."""
    statuses: dict[str, Counter[int | str]] = {}

    def count(kind: str, status: int | str) -> None:
        statuses.setdefault(kind, Counter())[status] += 1

    until = time.monotonic() + seconds
    api = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    buyer, visitor = Browser(PORT), Browser(PORT)
    step = 0
    while time.monotonic() < until and todo:
        step += 1
        number = todo[0]
        status, html = browser.htmx_post("/s/outage-mart/check-in/", {"tracking_number": number})
        count("check-in", status)
        if status == 200 and "slot-big" in html:
            todo.pop(0)
            count("check-in", "success screen")
            with network_scope():
                shelf.append(Parcel.objects.get(tracking_number=number).pickup_token)
        if step % 2 == 0 and shelf:
            link = f"https://stationkeeper.example/p/{shelf.pop(0)}/"
            form = {"credential": link, "action": "confirm"}
            status, html = browser.htmx_post("/s/outage-mart/check-out/", form)
            count("check-out", status)
            if status == 200 and "done-line" in html:
                count("check-out", "success screen")
        if step % 3 == 0:
            if shelf:
                status, _ = buyer.request("GET", f"/p/{shelf[-1]}/")
                count("buyer page", status)
            api.request("GET", "/api/v1/parcels/", headers={"Authorization": f"Api-Key {api_key}"})
            response = api.getresponse()
            response.read()
            count("API list", response.status)
            status, _ = visitor.request("GET", "/accounts/login/")
            count("login page", status)
    api.close()
    return {kind: {str(k): n for k, n in c.items()} for kind, c in statuses.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage", type=float, default=30, help="seconds Redis is down")
    parser.add_argument("--before", type=float, default=5, help="seconds of work before it")
    parser.add_argument("--parcels", type=int, default=2000)
    args = parser.parse_args()

    OUT.mkdir(parents=True, exist_ok=True)
    SMS_LOG.unlink(missing_ok=True)
    receiver = Receiver()
    redis_server = start_redis()
    server = worker = None
    try:
        api_key, todo = prepare(args.parcels, receiver)
        server = start_gunicorn(port=PORT, workers=2, log=OUT / "outage-gunicorn.log")
        browser = Browser(PORT)
        browser.log_in(CLERK, "/s/outage-mart/check-in/")
        shelf: list[int] = []
        before = run_phase(args.before, browser, api_key, todo, shelf)
        redis_server.kill()  # keeps nothing: what was queued is lost with it
        redis_server.wait()
        during = run_phase(args.outage, browser, api_key, todo, shelf)
        redis_server = start_redis()
        worker = subprocess.Popen(  # noqa: S603 - our own venv's celery
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                "config",
                "worker",
                "--concurrency",
                "2",
                "--loglevel",
                "warning",
                "--without-gossip",
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=(OUT / "outage-worker.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        drained_in = drain(deadline=time.monotonic() + 180)
    finally:
        stop(server)
        stop(worker, timeout=60)
        stop(redis_server)
        receiver.server.shutdown()
    result = verify(before, during, receiver, drained_in)
    print(json.dumps(result, indent=2))
    save_result("outage", result)
    if result["problems"]:
        sys.exit("; ".join(result["problems"]))


def drain(deadline: float) -> float:
    """Beat's part after the outage: the sweeps, every 2 s, until nothing is left to send."""
    started = time.monotonic()
    while time.monotonic() < deadline:
        send_due_notices()
        deliver_due_webhooks()
        time.sleep(2)
        with network_scope():
            pending = Notice.objects.filter(kind="pickup", status="pending").count()
        if not pending and not WebhookDelivery.objects.filter(status="pending").exists():
            return round(time.monotonic() - started, 1)
    return -1.0


def verify(before: dict, during: dict, receiver: Receiver, drained_in: float) -> dict:
    lines = SMS_LOG.read_text().splitlines() if SMS_LOG.exists() else []
    sent = Counter(line.split()[0] for line in lines)  # by notice id
    with network_scope():
        pickup = dict(Notice.objects.filter(kind="pickup").values_list("pk", "status"))
        committed = {
            "checked_in": Parcel.objects.exclude(status="announced").count(),
            "handed_over": Handover.objects.count(),
        }
    deliveries = Counter(WebhookDelivery.objects.values_list("status", flat=True))
    problems = []
    fives = sum(
        n
        for phase in (before, during)
        for c in phase.values()
        for s, n in c.items()
        if s.isdigit() and int(s) >= 500
    )
    if fives:
        problems.append(f"{fives} answers were 5xx")
    doubled_sms = [n for n, k in sent.items() if k > 1]
    unsent = [pk for pk, st in pickup.items() if st == "pending"]
    if doubled_sms:
        problems.append(f"{len(doubled_sms)} SMS sent twice")
    if unsent or drained_in < 0:
        problems.append(f"{len(unsent)} pickup SMS never sent")
    doubled_hooks = [i for i, k in receiver.ids.items() if k > 1]
    if doubled_hooks:
        problems.append(f"{len(doubled_hooks)} webhooks posted twice")
    if deliveries.get("pending"):
        problems.append(f"{deliveries['pending']} webhooks never delivered")
    return {
        "before": before,
        "during_outage": during,
        "committed": committed,
        "pickup_sms": {"sent": len(sent), "notices": dict(Counter(pickup.values()))},
        "webhooks": {"posted": sum(receiver.ids.values()), "distinct": len(receiver.ids)},
        "webhook_deliveries": dict(deliveries),
        "drained_in_s": drained_in,
        "problems": problems,
    }


if __name__ == "__main__":
    main()
