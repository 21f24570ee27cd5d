"""Buyer notices: when they fall due, what they say, and how sending fails and recovers."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.core import mail
from django.utils import timezone

from parcels import notices, services
from parcels.models import Notice
from parcels.notices import LocmemSmsBackend, SmsError
from stations.models import Station
from stations.tenancy import network_scope, station_scope
from tests.conftest import make_station

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_outbox():
    LocmemSmsBackend.outbox.clear()
    yield
    LocmemSmsBackend.outbox.clear()


def notices_of(parcel) -> dict[tuple[str, str], Notice]:
    with network_scope():
        return {(n.kind, n.channel): n for n in Notice.objects.filter(parcel=parcel)}


def send_all_due(now=None):
    now = now or timezone.now()
    with network_scope():
        for notice_id in notices.claim_due(now=now):
            notices.send(notice_id, now=now)


def test_check_in_schedules_pickup_reminder_and_final(station, on_shelf):
    parcel = on_shelf(station, recipient_email="mei@example.com")
    found = notices_of(parcel)
    assert set(found) == {
        (kind, channel) for kind in ("pickup", "reminder", "final") for channel in ("sms", "email")
    }
    local = zoneinfo.ZoneInfo("Asia/Singapore")
    deadline_day = parcel.hold_deadline.astimezone(local).date()
    reminder = found[("reminder", "sms")].due_at.astimezone(local)
    final = found[("final", "sms")].due_at.astimezone(local)
    assert (reminder.date(), reminder.hour) == (deadline_day - dt.timedelta(days=2), 10)
    assert (final.date(), final.hour) == (deadline_day - dt.timedelta(days=1), 10)


@pytest.mark.parametrize("tz", ["Asia/Singapore", "America/New_York", "Pacific/Auckland"])
def test_reminders_fall_at_10_local_time_in_every_time_zone(partner, on_shelf, tz):
    station = make_station(f"Station {tz}")
    Station.objects.filter(pk=station.pk).update(timezone=tz)
    station.refresh_from_db()
    parcel = on_shelf(station)
    found = notices_of(parcel)
    local = zoneinfo.ZoneInfo(tz)
    deadline = parcel.hold_deadline.astimezone(local)
    assert (deadline.hour, deadline.minute) == (23, 59)
    for kind, days in (("reminder", 2), ("final", 1)):
        due = found[(kind, "sms")].due_at.astimezone(local)
        assert (due.date(), due.hour, due.minute) == (
            deadline.date() - dt.timedelta(days=days),
            10,
            0,
        ), (tz, kind)


def test_a_short_hold_skips_reminders_already_in_the_past(announce, clerk, partner):
    partner.default_hold_days = 1
    partner.save()
    station = make_station("Quick")
    parcel = announce(station)
    with station_scope(station.pk):
        parcel = services.parcel_check_in(
            station=station, tracking_number=parcel.tracking_number, actor=clerk
        )
    kinds = {kind for kind, _channel in notices_of(parcel)}
    assert "pickup" in kinds
    assert "reminder" not in kinds


def test_pickup_notice_is_sent_in_the_buyers_language(station, on_shelf):
    parcel = on_shelf(station, language="zh-hans", recipient_email="mei@example.com")
    send_all_due()
    [sms] = LocmemSmsBackend.outbox
    assert sms["to"] == "+6591234567"
    assert "取件码" in sms["text"]
    assert parcel.pickup_code in sms["text"]
    assert f"/p/{parcel.pickup_token}/" in sms["text"]
    [email] = mail.outbox
    assert email.to == ["mei@example.com"]
    assert station.name in email.subject
    assert parcel.pickup_code in email.body
    assert {n.status for n in notices_of(parcel).values() if n.kind == "pickup"} == {"sent"}


def test_sending_twice_sends_once(station, on_shelf):
    parcel = on_shelf(station)
    notice = notices_of(parcel)[("pickup", "sms")]
    with network_scope():
        assert notices.send(notice.pk) == "sent"
        assert notices.send(notice.pk) == "sent"
    assert len(LocmemSmsBackend.outbox) == 1


def test_reminders_wait_until_due_then_go_out(station, on_shelf):
    parcel = on_shelf(station)
    send_all_due()
    assert len(LocmemSmsBackend.outbox) == 1  # the pickup notice only
    reminder = notices_of(parcel)[("reminder", "sms")]
    send_all_due(now=reminder.due_at + dt.timedelta(minutes=1))
    assert len(LocmemSmsBackend.outbox) == 2
    assert "Reminder" in LocmemSmsBackend.outbox[-1]["text"]


def test_notices_for_a_parcel_already_collected_are_skipped(station, on_shelf, clerk):
    parcel = on_shelf(station)
    with station_scope(station.pk):
        services.parcel_hand_over(station=station, credential=parcel.pickup_code, actor=clerk)
    send_all_due(now=parcel.hold_deadline)
    assert LocmemSmsBackend.outbox == []
    assert {n.status for n in notices_of(parcel).values()} == {"skipped"}


def test_transient_failures_retry_with_backoff_then_fail_for_good(station, on_shelf, monkeypatch):
    parcel = on_shelf(station)
    notice = notices_of(parcel)[("pickup", "sms")]

    def broken(self, **kwargs):
        raise SmsError("gateway unreachable: TimeoutError")

    monkeypatch.setattr(LocmemSmsBackend, "send", broken)
    delays = []
    now = timezone.now()
    with network_scope():
        for _attempt in range(notices.MAX_ATTEMPTS):
            status = notices.send(notice.pk, now=now)
            notice.refresh_from_db()
            if status == "pending":
                delays.append(round((notice.due_at - now).total_seconds() / 60))
                now = notice.due_at  # the sweep retries it when it falls due
        assert status == "failed"
        assert notice.attempts == notices.MAX_ATTEMPTS
    assert delays == [1, 2, 4, 8, 16]
    assert notice.last_error == "SmsError: gateway unreachable: TimeoutError"
    assert "+65" not in notice.last_error


def test_a_repeated_task_after_a_failure_neither_sends_nor_uses_a_retry(
    station, on_shelf, monkeypatch
):
    parcel = on_shelf(station)
    notice = notices_of(parcel)[("pickup", "sms")]
    calls = []

    def broken_once(self, **kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise SmsError("gateway unreachable: TimeoutError")
        LocmemSmsBackend.outbox.append(kwargs)

    monkeypatch.setattr(LocmemSmsBackend, "send", broken_once)
    with network_scope():
        assert notices.send(notice.pk) == "pending"
        assert notices.send(notice.pk) == "pending"  # the same task, delivered again at once
        notice.refresh_from_db()
        assert (notice.attempts, len(calls)) == (1, 1)
        assert notices.send(notice.pk, now=notice.due_at) == "sent"  # the retry, when due
    assert len(LocmemSmsBackend.outbox) == 1


def test_a_permanent_failure_is_not_retried(station, on_shelf, monkeypatch):
    parcel = on_shelf(station)
    notice = notices_of(parcel)[("pickup", "sms")]

    def rejected(self, **kwargs):
        raise SmsError("gateway answered 400", permanent=True)

    monkeypatch.setattr(LocmemSmsBackend, "send", rejected)
    with network_scope():
        assert notices.send(notice.pk) == "failed"
        notice.refresh_from_db()
    assert notice.attempts == 1


def test_extension_moves_pending_reminders(station, on_shelf, partner):
    parcel = on_shelf(station)
    before = notices_of(parcel)[("reminder", "sms")].due_at
    with network_scope():
        services.parcel_extend_hold(parcel=parcel)
    after = notices_of(parcel)[("reminder", "sms")].due_at
    assert after - before == dt.timedelta(days=partner.extension_days)


def test_recall_and_overdue_tell_the_buyer(station, on_shelf, partner):
    recalled = on_shelf(station)
    with network_scope():
        services.parcel_mark_return_due(parcel=recalled, reason="recalled", actor=partner)
    send_all_due()
    assert any("goes back to SwiftPost" in m["text"] for m in LocmemSmsBackend.outbox)
    assert notices_of(recalled)[("returned", "sms")].status == "sent"


def test_http_gateway_backend_posts_json_with_the_token(settings, monkeypatch):
    import json

    from parcels.notices import HttpSmsBackend

    settings.SMS_GATEWAY_URL = "https://sms.example.com/send"
    settings.SMS_GATEWAY_TOKEN = "secret-token"
    seen = {}

    class Response:
        def __enter__(self):
            return self

        def __exit__(self, *args):
            return False

        def read(self):
            return b"{}"

    def fake_urlopen(request, timeout):
        seen.update(
            url=request.full_url,
            auth=request.get_header("Authorization"),
            body=json.loads(request.data),
            timeout=timeout,
        )
        return Response()

    monkeypatch.setattr("urllib.request.urlopen", fake_urlopen)
    HttpSmsBackend().send(to="+6591234567", text="hello", reference="notice-1")
    assert seen == {
        "url": "https://sms.example.com/send",
        "auth": "Bearer secret-token",
        "body": {"to": "+6591234567", "text": "hello", "reference": "notice-1"},
        "timeout": 10,
    }


def test_a_sweep_the_broker_refuses_gives_its_claims_back_for_the_next_sweep(
    on_shelf, station, monkeypatch
):
    """Beat's sweep claims due notices for a lease before queueing them; if the broker is down,
    the claims it could not queue are given back, so the sweep after the outage sends them at
    once instead of five minutes later."""
    from kombu.exceptions import OperationalError

    from parcels import tasks

    parcel = on_shelf(station)
    queued: list[int] = []

    def broker_down(*args):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    pickup = notices_of(parcel)["pickup", "sms"]  # due now; the reminders later
    monkeypatch.setattr(tasks.send_notice, "delay", broker_down)
    assert tasks.send_due_notices() == 0
    assert notices_of(parcel)["pickup", "sms"].queued_until is None

    monkeypatch.setattr(tasks.send_notice, "delay", queued.append)
    assert tasks.send_due_notices() == 1
    assert queued == [pickup.pk]
    assert notices_of(parcel)["pickup", "sms"].queued_until is not None


def test_a_webhook_sweep_the_broker_refuses_gives_its_claims_back(monkeypatch):
    from kombu.exceptions import OperationalError

    from partners import tasks
    from partners.models import WebhookDelivery

    claimed = [1, 2, 3]
    released: list[list[int]] = []
    monkeypatch.setattr(tasks.webhooks, "claim_due", lambda now: claimed)
    monkeypatch.setattr(
        "config.outbox.release", lambda model, ids: released.append((model, list(ids)))
    )
    calls: list[int] = []

    def first_goes_through(delivery_id):
        if calls:
            raise OperationalError("connection refused")
        calls.append(delivery_id)

    monkeypatch.setattr(tasks.deliver_webhook, "delay", first_goes_through)
    assert tasks.deliver_due_webhooks() == 1
    assert released == [(WebhookDelivery, [2, 3])]
