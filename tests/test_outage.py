"""Redis stopped in the middle of a working day (issue 12, item 1).

The test starts its own redis-server on a free port and points both the cache and the Celery
broker at it; the shared Redis of the suite is never stopped. With it down, the counter, the buyer
page, the partner API and the login page answer as usual, and what they committed is sent exactly
once when Redis is back: by beat's sweeps on a real worker, since a Redis restarted without
persistence has lost every task queued before the outage.
"""

from __future__ import annotations

import collections
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import kombu.pools
import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from config import celery_app
from parcels.models import Notice, Parcel
from parcels.notices import LocmemSmsBackend
from parcels.tasks import send_due_notices
from partners.models import WebhookDelivery, WebhookEndpoint
from partners.services import api_key_create
from partners.tasks import deliver_due_webhooks
from stations.tenancy import network_scope
from tests.conftest import api_url

pytestmark = pytest.mark.django_db(transaction=True)


class OwnRedis:
    """A redis-server of this test's own, on a free port, that the test stops and starts."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - a fixed command line
            [
                *("/usr/bin/redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
        )
        with redis.Redis.from_url(self.url, socket_connect_timeout=0.5) as client:
            for _ in range(100):
                try:
                    client.ping()
                    return
                except redis.exceptions.ConnectionError:
                    time.sleep(0.05)
        pytest.fail("our redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def queued(self) -> int:
        with redis.Redis.from_url(self.url) as client:
            return client.llen("celery")


def forget_broker_connections() -> None:
    """Publishing goes through kombu's process-wide producer pool, which the app keeps a handle
    on; both still hold connections to the previous broker, so both are dropped (the next publish
    builds them again on the current URL)."""
    celery_app.close()
    kombu.pools.reset()
    celery_app.amqp._producer_pool = None


@pytest.fixture
def own_redis(settings, monkeypatch):
    server = OwnRedis()
    server.start()
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": server.url,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0},
        },
    }
    # Celery reads CELERY_BROKER_URL from the environment before its configuration.
    default_broker = celery_app.conf.broker_url
    monkeypatch.setenv("CELERY_BROKER_URL", server.url)
    celery_app.conf.broker_url = server.url
    forget_broker_connections()
    assert celery_app.connection_for_write().as_uri().endswith(f":{server.port}/0")
    yield server
    from django.core.cache import cache

    for pool in cache._cache._pools.values():  # close our sockets now, not whenever GC runs
        pool.disconnect()
    server.stop()
    monkeypatch.undo()
    celery_app.conf.broker_url = default_broker
    forget_broker_connections()


@pytest.fixture
def hook():
    """The partner's webhook receiver: what arrived, by webhook-id."""
    received: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # http.server's naming
            self.rfile.read(int(self.headers["Content-Length"]))
            received.append(self.headers["webhook-id"])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.received = received
    server.url = f"http://127.0.0.1:{server.server_port}/hooks"
    yield server
    server.shutdown()
    server.server_close()


def drained(server: OwnRedis, rounds: int = 300) -> None:
    """Wait until the worker has emptied our broker's queue (and finished the last task)."""
    for _ in range(rounds):
        if server.queued() == 0:
            time.sleep(1.0)
            if server.queued() == 0:
                return
        time.sleep(0.1)
    pytest.fail("the worker did not drain the queue")


def test_a_redis_outage_breaks_nothing_and_loses_nothing(
    own_redis, hook, station, partner, clerk, owner
):
    LocmemSmsBackend.outbox.clear()
    _key, raw_key = api_key_create(partner=partner, name="outage")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    WebhookEndpoint.objects.create(
        partner=partner, url=hook.url, events=["parcel.checked_in", "parcel.picked_up"]
    )
    counter = Client(raise_request_exception=False)  # what the clerk's browser gets
    counter.force_login(clerk)
    check_in_url = reverse("stations:check_in", kwargs={"station_slug": station.slug})
    check_out_url = reverse("stations:check_out", kwargs={"station_slug": station.slug})
    statuses: collections.Counter[tuple[str, int]] = collections.Counter()

    def announce(number: str) -> None:
        response = api.post(
            "/api/v1/parcels/",
            {
                "tracking_number": number,
                "station": station.slug,
                "recipient_name": "Tan Mei Ling",
                "recipient_phone": "+6591234567",
            },
            format="json",
        )
        statuses["announce", response.status_code] += 1
        assert response.status_code == 201, response.content

    def check_in(number: str) -> None:
        response = counter.post(check_in_url, {"tracking_number": number})
        statuses["check-in", response.status_code] += 1
        assert response.status_code == 200
        assert "Not checked in" not in response.text
        assert number in response.text

    def check_out(number: str) -> None:
        with network_scope():
            code = Parcel.objects.get(tracking_number=number).pickup_code
        response = counter.post(check_out_url, {"credential": code, "action": "confirm"})
        statuses["check-out", response.status_code] += 1
        assert response.status_code == 200
        assert "Handed over" in response.text

    def get(name: str, client: Client | APIClient, path: str) -> None:
        response = client.get(path)
        statuses[name, response.status_code] += 1
        assert response.status_code == 200, (name, response.status_code)

    # A morning with Redis up: announced through the API, checked in and out at the counter.
    before = [f"UP{i:04d}" for i in range(4)]
    for number in before:
        announce(number)
        check_in(number)
    check_out(before[0])
    get("api list", api, "/api/v1/parcels/")
    assert own_redis.queued() > 0  # the commits' kicks reached our broker

    # Redis goes away, and with it everything queued so far (it keeps nothing on disk).
    own_redis.stop()
    statuses.clear()
    during = [f"DOWN{i:04d}" for i in range(6)]
    for number in during:
        announce(number)
        check_in(number)
    handed_over = [before[0], before[1], during[0]]
    for number in handed_over[1:]:
        check_out(number)
    with network_scope():
        token = Parcel.objects.get(tracking_number=during[1]).pickup_token
    get("buyer page", Client(raise_request_exception=False), f"/p/{token}/")
    get("api list", api, "/api/v1/parcels/")
    get("api detail", api, api_url(during[2]))
    visitor = Client(raise_request_exception=False)
    get("login page", visitor, "/accounts/login/")
    login = visitor.post("/accounts/login/", {"login": owner.email, "password": "pw-owner-123"})
    statuses["login", login.status_code] += 1
    assert login.status_code == 302
    get("dashboard", counter, reverse("stations:dashboard", args=[station.slug]))
    outage_statuses = dict(statuses)
    print("responses during the outage:", outage_statuses)  # the figures for the report
    assert not any(status >= 500 for _what, status in outage_statuses)

    # Everything the counter and the API said happened, happened.
    with network_scope():
        parcels = {p.tracking_number: p.status for p in Parcel.objects.all()}
        assert parcels == {
            **{n: "at_station" for n in [*before, *during]},
            **{n: "picked_up" for n in handed_over},
        }
        pickup_notices = Notice.objects.filter(kind=Notice.Kind.PICKUP)
        assert pickup_notices.count() == len(before) + len(during)
        # A buyer who has collected the parcel needs no notice any more (notices._STILL_RELEVANT).
        to_send = set(
            pickup_notices.exclude(parcel__tracking_number__in=handed_over).values_list(
                "pk", flat=True
            )
        )
    deliveries = WebhookDelivery.objects.all()
    # One checked_in per parcel and one picked_up per parcel handed over.
    assert deliveries.count() == len(before) + len(during) + len(handed_over)
    assert LocmemSmsBackend.outbox == []
    assert hook.received == []

    # Redis is back, empty; the worker and beat's sweeps (fired twice, as beat may) catch up.
    own_redis.start()
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        for _ in range(2):
            send_due_notices.delay()
            deliver_due_webhooks.delay()
            drained(own_redis)

    sms = collections.Counter(m["reference"] for m in LocmemSmsBackend.outbox)
    assert sms == {f"notice-{pk}": 1 for pk in to_send}  # every pickup notice due, once
    with network_scope():
        sent = Notice.objects.filter(kind=Notice.Kind.PICKUP, status="sent")
        assert set(sent.values_list("pk", flat=True)) == to_send
        assert Notice.objects.filter(kind=Notice.Kind.PICKUP, status="skipped").count() == 3
    msg_ids = set(deliveries.values_list("message__msg_id", flat=True))
    assert collections.Counter(hook.received) == {m: 1 for m in msg_ids}  # every webhook, once
    assert set(deliveries.values_list("status", flat=True)) == {"delivered"}
    print(
        f"committed: {len(parcels)} parcels, {len(to_send)} pickup notices due, "
        f"{len(msg_ids)} webhooks; sent after the outage: {len(sms)} SMS "
        f"(max {max(sms.values())} each), {len(hook.received)} webhook posts "
        f"(max {max(collections.Counter(hook.received).values())} each)"
    )
    LocmemSmsBackend.outbox.clear()


def test_an_unreachable_cache_is_an_empty_cache_that_keeps_nothing(own_redis):
    from django.core.cache import cache

    cache.set("kept", 1)
    own_redis.stop()
    assert cache.get("kept") is None
    assert cache.get("kept", 7) == 7
    assert cache.get_many(["kept", "other"]) == {}
    assert cache.add("window", 1, 60) is True  # a rate limit's new window: nothing counted
    cache.set("x", 1)
    cache.set_many({"x": 1, "y": 2})
    assert cache.get("x") is None  # set kept nothing
    with pytest.raises(ValueError, match="not found"):
        cache.incr("window")  # as for a missing key
    with pytest.raises(ValueError, match="not found"):
        cache.decr("window")
    assert cache.has_key("kept") is False
    assert "kept" not in cache
    assert cache.delete("kept") is False
    cache.delete_many(["x", "y"])
    assert cache.get_or_set("tariff", 5) == 5
    own_redis.start()  # back, empty (nothing on disk); and answering again at once
    cache.set("kept", 2)
    assert cache.get("kept") == 2
