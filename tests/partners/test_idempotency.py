"""`Idempotency-Key` on every POST of the partner API, as an integrator retrying sees it."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection
from django.urls import URLPattern, get_resolver
from django.utils import timezone

from parcels.models import Parcel
from partners.api import idempotency
from partners.models import IdempotencyRecord, WebhookDelivery, WebhookEndpoint, WebhookMessage
from stations.tenancy import network_scope
from tests.conftest import api_url, race

pytestmark = pytest.mark.django_db


def announce_body(station, number="SP0001SG"):
    return {
        "tracking_number": number,
        "station": station.slug,
        "recipient_name": "Tan Mei Ling",
        "recipient_phone": "+6591234567",
        "language": "zh-hans",
    }


@pytest.fixture
def every_post(partner, station, on_shelf, announce):
    """(name, url, body) for each POST of the API, with something for it to act on."""
    endpoint = WebhookEndpoint.objects.create(
        partner=partner, url="https://partner.example/h", events=["parcel.picked_up"]
    )
    message = WebhookMessage.objects.create(
        partner=partner, msg_id="msg_1", event_type="parcel.picked_up", payload={}
    )
    delivery = WebhookDelivery.objects.create(message=message, endpoint=endpoint, status="failed")
    shelved = on_shelf(station).tracking_number
    announced = announce(station).tracking_number
    return {
        "parcels_announce": ("/api/v1/parcels/", announce_body(station)),
        "parcels_announce_batch": (
            "/api/v1/parcels/batch/",
            {"parcels": [announce_body(station, "SP0002SG"), announce_body(station, "SP0003SG")]},
        ),
        "parcels_cancel": (api_url(announced, "cancel"), None),
        "parcels_recall": (api_url(shelved, "recall"), {"note": "wrong address"}),
        "parcels_events_create": (
            api_url(shelved, "events"),
            {"kind": "customs_cleared", "occurred_at": "2026-01-05T09:30:15.123456+08:00"},
        ),
        "webhooks_create": (
            "/api/v1/webhooks/",
            {"url": "https://partner.example/other", "events": ["parcel.returned"]},
        ),
        "webhooks_rotate_secret": (f"/api/v1/webhooks/{endpoint.pk}/rotate-secret/", None),
        "webhooks_redeliver": (f"/api/v1/webhooks/deliveries/{delivery.pk}/redeliver/", None),
    }


POSTS = [
    "parcels_announce",
    "parcels_announce_batch",
    "parcels_cancel",
    "parcels_recall",
    "parcels_events_create",
    "webhooks_create",
    "webhooks_rotate_secret",
    "webhooks_redeliver",
]


def api_views():
    for pattern in get_resolver("partners.api.urls").url_patterns:
        assert isinstance(pattern, URLPattern)
        view_class = getattr(pattern.callback, "view_class", None)
        if view_class is not None and view_class.__module__.startswith("partners.api.views."):
            yield pattern, view_class


def test_every_post_of_the_api_honours_the_key():
    posts = [p.name for p, view in api_views() if hasattr(view, "post")]
    assert len(posts) == len(POSTS)  # a new POST: add it to POSTS and to `every_post`
    for pattern, view in api_views():
        if hasattr(view, "post"):
            assert getattr(view.post, "idempotent", False), pattern.name


def state(partner):
    """What the POSTs change, to tell that a replay changed nothing."""
    with network_scope():
        parcels = sorted(
            Parcel.objects.filter(partner=partner).values_list("tracking_number", "status")
        )
        events = sorted(
            Parcel.objects.filter(partner=partner).values_list("events__kind", flat=True)
        )
    endpoints = sorted(
        WebhookEndpoint.objects.filter(partner=partner).values_list(
            "url", "secret", "previous_secret"
        )
    )
    return parcels, events, endpoints, WebhookDelivery.objects.count()


@pytest.mark.parametrize("name", POSTS)
def test_a_repeat_gets_the_first_response_byte_for_byte_and_does_nothing(
    api, partner, every_post, name
):
    url, body = every_post[name]
    headers = {"Idempotency-Key": f"retry-{name}"}
    first = api.post(url, body, format="json", headers=headers)
    assert first.status_code < 300, first.content
    after_first = state(partner)
    repeat = api.post(url, body, format="json", headers=headers)
    assert repeat.status_code == first.status_code
    assert repeat.content == first.content
    assert repeat["Content-Type"] == first["Content-Type"]
    assert repeat["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert state(partner) == after_first


def test_a_replayed_event_keeps_its_rfc_3339_time(api, every_post):
    url, body = every_post["parcels_events_create"]
    headers = {"Idempotency-Key": "event-1"}
    first = api.post(url, body, format="json", headers=headers).json()
    repeat = api.post(url, body, format="json", headers=headers).json()
    assert repeat["occurred_at"] == first["occurred_at"]
    assert dt.datetime.fromisoformat(repeat["occurred_at"]) == dt.datetime(
        2026, 1, 5, 1, 30, 15, 123456, tzinfo=dt.UTC
    )
    assert "T" in repeat["occurred_at"]  # RFC 3339, not str(datetime)


def test_a_retried_rotation_keeps_the_deployed_secret_valid(api, partner, every_post):
    url, _body = every_post["webhooks_rotate_secret"]
    deployed = WebhookEndpoint.objects.get(partner=partner).secret
    headers = {"Idempotency-Key": "rotate-1"}
    first = api.post(url, headers=headers).json()
    again = api.post(url, headers=headers).json()
    endpoint = WebhookEndpoint.objects.get(partner=partner)
    assert again["secret"] == first["secret"] == endpoint.secret
    assert endpoint.previous_secret == deployed  # still signs beside the new one for 24 hours


def test_a_key_is_per_request_and_refused_requests_are_not_kept(api, station, every_post):
    headers = {"Idempotency-Key": "k"}
    bad = api.post("/api/v1/parcels/", {"station": station.slug}, format="json", headers=headers)
    assert bad.status_code == 400
    # The refusal was not stored: the corrected request may use the same key.
    ok = api.post("/api/v1/parcels/", announce_body(station), format="json", headers=headers)
    assert ok.status_code == 201
    assert not ok.has_header("Idempotent-Replayed")
    url, body = every_post["webhooks_create"]
    other = api.post(url, body, format="json", headers=headers)
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"


def claim_in_progress(partner, key, body, url, *, locked_until):
    """What a request that is still running (or died) leaves behind."""
    from django.test import RequestFactory
    from rest_framework.request import Request

    request = Request(RequestFactory().post(url, body, content_type="application/json"))
    return IdempotencyRecord.objects.create(
        partner=partner,
        key=key,
        request_hash=idempotency.request_digest(request),
        status_code=0,
        locked_until=locked_until,
    )


def test_a_repeat_during_the_lease_is_told_to_retry_later(api, partner, station):
    import json

    body = announce_body(station)
    claim_in_progress(
        partner,
        "slow",
        json.dumps(body),
        "/api/v1/parcels/",
        locked_until=timezone.now() + dt.timedelta(seconds=45),
    )
    response = api.post(
        "/api/v1/parcels/",
        json.dumps(body),
        content_type="application/json",
        headers={"Idempotency-Key": "slow"},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_in_progress"
    assert 1 <= int(response["Retry-After"]) <= 45
    with network_scope():
        assert not Parcel.objects.exists()


def test_a_key_whose_request_died_is_taken_over_after_its_lease(api, partner, station):
    import json

    body = announce_body(station)
    record = claim_in_progress(
        partner,
        "died",
        json.dumps(body),
        "/api/v1/parcels/",
        locked_until=timezone.now() - dt.timedelta(seconds=1),
    )
    headers = {"Idempotency-Key": "died"}
    raw = json.dumps(body)
    response = api.post("/api/v1/parcels/", raw, content_type="application/json", headers=headers)
    assert response.status_code == 201
    assert not response.has_header("Idempotent-Replayed")
    replay = api.post("/api/v1/parcels/", raw, content_type="application/json", headers=headers)
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.content == response.content
    # The request that died, finishing late after all, does not overwrite the answer given.
    assert not idempotency.idempotency_record_finish(
        record=record, status_code=200, content=b"{}", content_type="application/json"
    )
    assert bytes(IdempotencyRecord.objects.get(key="died").content) == response.content


@pytest.mark.django_db(transaction=True)
def test_only_one_repeat_takes_over_a_lapsed_key(partner, monkeypatch):
    lapsed = timezone.now() - dt.timedelta(seconds=1)
    IdempotencyRecord.objects.create(
        partner=partner, key="k", request_hash="h", status_code=0, locked_until=lapsed
    )
    all_read = threading.Barrier(4)
    read = IdempotencyRecord.objects.get

    def read_then_wait(*args, **kwargs):
        # Every repeat has seen the lapsed lease before any tries to take it over.
        record = read(*args, **kwargs)
        all_read.wait(timeout=10)
        return record

    monkeypatch.setattr(IdempotencyRecord.objects, "get", read_then_wait)

    def repeat() -> bool:
        _record, claimed = idempotency.idempotency_key_claim(
            partner=partner, key="k", request_hash="h", now=timezone.now()
        )
        return claimed

    results = race(4, repeat).results
    monkeypatch.undo()
    assert sorted(results) == [False, False, False, True]
    assert IdempotencyRecord.objects.get(key="k").locked_until > timezone.now()


def test_a_key_longer_than_255_characters_is_400(api, station):
    response = api.post(
        "/api/v1/parcels/",
        announce_body(station),
        format="json",
        headers={"Idempotency-Key": "k" * 256},
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]


def test_keys_are_per_partner(api, other_api):
    body = {"url": "https://partner.example/h", "events": ["parcel.returned"]}
    headers = {"Idempotency-Key": "same"}
    mine = api.post("/api/v1/webhooks/", body, format="json", headers=headers)
    theirs = other_api.post("/api/v1/webhooks/", body, format="json", headers=headers)
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert not theirs.has_header("Idempotent-Replayed")
    assert theirs.json()["id"] != mine.json()["id"]


@pytest.mark.django_db(transaction=True)
def test_a_request_still_running_past_its_lease_is_not_run_twice(partner):
    """The lease lapses, but the first request is only slow: its connection still holds the
    key's lock, so a repeat is told it is in progress; once the first is done, it replays."""
    claimed_at = timezone.now()
    record, claimed = idempotency.idempotency_key_claim(
        partner=partner, key="slow", request_hash="h", now=claimed_at
    )
    assert claimed
    later = claimed_at + idempotency.LEASE * 2
    outcome = []

    def repeat(now):
        try:
            outcome.append(
                idempotency.idempotency_key_claim(
                    partner=partner, key="slow", request_hash="h", now=now
                )
            )
        finally:
            connection.close()

    thread = threading.Thread(target=repeat, args=(later,))
    thread.start()
    thread.join(timeout=30)
    [(seen, taken)] = outcome
    assert not taken
    assert seen.status_code == 0
    assert idempotency.idempotency_record_finish(
        record=record, status_code=201, content=b'{"ok":true}', content_type="application/json"
    )
    outcome.clear()
    thread = threading.Thread(target=repeat, args=(later,))
    thread.start()
    thread.join(timeout=30)
    [(seen, taken)] = outcome
    assert not taken
    assert seen.status_code == 201


@pytest.mark.django_db(transaction=True)
def test_a_key_given_up_while_a_repeat_reads_it_is_claimed_again(partner, monkeypatch):
    """A request whose key is released (its input was refused) just as a repeat found the key
    taken: the repeat claims it afresh instead of failing."""
    IdempotencyRecord.objects.create(
        partner=partner, key="gone", request_hash="h", status_code=0, locked_until=timezone.now()
    )
    read = IdempotencyRecord.objects.get
    reads = []

    def released_in_between(*args, **kwargs):
        reads.append(1)
        if len(reads) == 1:
            IdempotencyRecord.objects.filter(key="gone").delete()
        return read(*args, **kwargs)

    monkeypatch.setattr(IdempotencyRecord.objects, "get", released_in_between)
    record, claimed = idempotency.idempotency_key_claim(
        partner=partner, key="gone", request_hash="h", now=timezone.now()
    )
    monkeypatch.undo()
    assert claimed
    assert record.status_code == 0
    idempotency.idempotency_record_release(record=record)
