"""A real Celery worker on the Redis broker runs the tasks, as in production.

The worker runs in a thread of this process (celery's testing worker, solo pool), consuming from
Redis; the tasks reach it only through the broker.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.utils import timezone

from config import celery_app
from parcels import services
from parcels.models import Notice, Parcel
from parcels.notices import LocmemSmsBackend
from parcels.tasks import send_due_notices, send_notice, sweep_overdue
from stations.tenancy import network_scope, station_scope

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker():
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    celery_app.control.purge()  # nothing left over from another run
    LocmemSmsBackend.outbox.clear()
    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        yield
    LocmemSmsBackend.outbox.clear()


def drained(timeout: float = 30) -> None:
    """Wait until the broker's queue is empty and the last task had time to finish."""
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if broker.llen("celery") == 0:
            time.sleep(1.0)
            if broker.llen("celery") == 0:
                return
        time.sleep(0.2)
    pytest.fail("the worker did not drain the queue")


def test_check_in_sends_one_pickup_notice_even_when_delivered_twice(
    worker, station, announce, clerk
):
    parcel = announce(station)
    with station_scope(station.pk):
        parcel = services.parcel_check_in(
            station=station, tracking_number=parcel.tracking_number, actor=clerk
        )  # the commit queues send_notice
    with network_scope():
        notice = Notice.objects.get(parcel=parcel, kind="pickup", channel="sms")
    # The broker delivers it again (same task id, as after a lost acknowledgement) and again.
    send_notice.apply_async(args=[notice.pk], task_id=f"dup-{notice.pk}")
    send_notice.apply_async(args=[notice.pk], task_id=f"dup-{notice.pk}")
    send_notice.delay(notice.pk)
    drained()
    with network_scope():
        notice.refresh_from_db()
    assert notice.status == "sent"
    assert notice.attempts == 1
    sms = [m for m in LocmemSmsBackend.outbox if m["reference"] == f"notice-{notice.pk}"]
    assert len(sms) == 1
    assert parcel.pickup_code in sms[0]["text"]


def test_sweep_and_return_notices_run_on_the_worker(worker, station, on_shelf):
    late = [on_shelf(station) for _ in range(3)]
    with network_scope():
        Parcel.objects.filter(pk__in=[p.pk for p in late]).update(
            hold_deadline=timezone.now() - dt.timedelta(minutes=5)
        )
    drained()
    sweep_overdue.delay()
    sweep_overdue.delay()  # beat firing twice changes nothing more
    drained()
    send_due_notices.delay()
    drained()
    with network_scope():
        assert set(
            Parcel.objects.filter(pk__in=[p.pk for p in late]).values_list("status", flat=True)
        ) == {"return_due"}
        returned = Notice.objects.filter(kind="returned")
        assert returned.count() == 3
        assert set(returned.values_list("status", flat=True)) == {"sent"}
    assert sum("goes back to" in m["text"] for m in LocmemSmsBackend.outbox) == 3


def test_a_webhook_is_delivered_by_the_worker(worker, partner, station, announce, clerk):
    """The outbox row written with a check-in reaches a real endpoint through the worker."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from partners.models import WebhookDelivery, WebhookEndpoint

    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # http.server's naming
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        WebhookEndpoint.objects.create(
            partner=partner,
            url=f"http://127.0.0.1:{server.server_port}/hook",
            events=["parcel.checked_in"],
        )
        parcel = announce(station)
        with station_scope(station.pk):
            services.parcel_check_in(
                station=station, tracking_number=parcel.tracking_number, actor=clerk
            )  # the commit queues deliver_due_webhooks, which queues deliver_webhook
        drained()
    finally:
        server.shutdown()
        server.server_close()
    assert len(received) == 1
    assert parcel.tracking_number.encode() in received[0]
    assert WebhookDelivery.objects.get().status == "delivered"


def test_station_emails_whose_kick_was_lost_are_sent_once_by_the_backstop(
    worker, station, owner, other_station
):
    """An approval, a rejection and an invitation whose tasks never reached the broker (the kick
    failed soft in an outage) are e-mailed by beat's sweep, once however often it runs; one
    decided a moment ago is left to its own task, and one decided days ago is not news."""
    from django.core import mail

    from stations.models import Invitation, Membership, Station
    from stations.tasks import send_unmailed
    from tests.conftest import make_station

    now = timezone.now()
    Station.objects.filter(pk=station.pk).update(approved_at=now - dt.timedelta(minutes=10))
    rejected = make_station("Turned Down", status=Station.Status.REJECTED)
    Station.objects.filter(pk=rejected.pk).update(rejected_at=now - dt.timedelta(hours=2))
    Membership.objects.create(user=owner, station=rejected, role=Membership.Role.OWNER)
    Station.objects.filter(pk=other_station.pk).update(approved_at=now - dt.timedelta(seconds=30))
    stale = make_station("Long Ago")
    Station.objects.filter(pk=stale.pk).update(approved_at=now - dt.timedelta(days=10))
    Membership.objects.create(user=owner, station=stale, role=Membership.Role.OWNER)
    invitation = Invitation.objects.create(
        station=station,
        email="new.clerk@test.example",
        token="t" * 40,
        invited_by=owner,
        created_at=now - dt.timedelta(minutes=20),
    )
    mail.outbox.clear()

    assert send_unmailed() == 3
    drained()
    assert send_unmailed() == 0  # all three claimed: nothing to queue again

    subjects = sorted(email.subject for email in mail.outbox)
    assert len(subjects) == 3, subjects
    assert sum("approved" in s for s in subjects) == 1
    assert sum("Turned Down" in s for s in subjects) == 1
    assert [e.to for e in mail.outbox if "new.clerk@test.example" in e.to] == [
        ["new.clerk@test.example"]
    ]
    invitation.refresh_from_db()
    assert invitation.mailed_at is not None
    assert Station.objects.get(pk=other_station.pk).decision_mailed_at is None  # its own task's
    assert Station.objects.get(pk=stale.pk).decision_mailed_at is None
