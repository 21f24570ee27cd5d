"""The partner API as an integrator meets it."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from parcels import services
from parcels.models import Parcel, ParcelEvent
from partners.models import ApiKey
from partners.services import api_key_revoke
from stations.models import Station
from stations.tenancy import network_scope, station_scope
from tests.conftest import api_url, make_station, race

pytestmark = pytest.mark.django_db


def announce_body(station, number="SP0001SG", **extra):
    return {
        "tracking_number": number,
        "station": station.slug,
        "recipient_name": "Tan Mei Ling",
        "recipient_phone": "+6591234567",
        **extra,
    }


def parcels_in_db() -> int:
    with network_scope():
        return Parcel.objects.count()


# --- keys ---------------------------------------------------------------------------------------


def test_requests_without_a_valid_key_are_401(api, partner, station):
    assert APIClient().get("/api/v1/parcels/").status_code == 401
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Api-Key sk_nope")
    response = bad.get("/api/v1/parcels/")
    assert response.status_code == 401
    assert response.json() == {
        "code": "authentication_failed",
        "detail": "Unknown or revoked API key.",
    }
    api_key_revoke(key=ApiKey.objects.get(partner=partner))
    assert api.get("/api/v1/parcels/").status_code == 401


def test_a_key_records_when_it_was_last_used(api, partner):
    assert api.get("/api/v1/parcels/").status_code == 200
    assert ApiKey.objects.get(partner=partner).last_used_at is not None


# --- announce -----------------------------------------------------------------------------------


def test_announce_then_repeat_returns_the_same_parcel(api, station):
    first = api.post("/api/v1/parcels/", announce_body(station, " sp0001sg "), format="json")
    assert first.status_code == 201
    body = first.json()
    assert (body["tracking_number"], body["status"], body["station"]) == (
        "SP0001SG",
        "announced",
        station.slug,
    )
    again = api.post("/api/v1/parcels/", announce_body(station), format="json")
    assert again.status_code == 200
    assert again.json()["tracking_number"] == "SP0001SG"
    assert parcels_in_db() == 1


def test_bad_input_is_400_with_field_messages_and_writes_nothing(api, station):
    response = api.post(
        "/api/v1/parcels/",
        {**announce_body(station, recipient_phone="12", language="fr"), "station": "nowhere"},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["errors"]) == {"language"}  # the serializer stops before the station check
    response = api.post(
        "/api/v1/parcels/", announce_body(station, recipient_phone="12"), format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "recipient_phone": ["Enter a valid phone number, with the country code if it is not local."]
    }
    assert parcels_in_db() == 0


def test_announcing_to_an_inactive_station_is_409(api):
    closed = make_station("Closed", status=Station.Status.SUSPENDED)
    response = api.post("/api/v1/parcels/", announce_body(closed), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "station_inactive"


def test_idempotency_key_replays_the_first_response(api, station):
    headers = {"Idempotency-Key": "order-42"}
    first = api.post("/api/v1/parcels/", announce_body(station), format="json", headers=headers)
    second = api.post("/api/v1/parcels/", announce_body(station), format="json", headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    other = api.post(
        "/api/v1/parcels/", announce_body(station, "SP0002SG"), format="json", headers=headers
    )
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"
    assert parcels_in_db() == 1


def test_batch_reports_each_item_and_failed_items_leave_nothing(api, station, other_station):
    api.post("/api/v1/parcels/", announce_body(station, "OLD1"), format="json")
    items = [
        announce_body(station, "NEW1"),
        announce_body(station, "OLD1"),  # exists
        announce_body(station, "BAD1", recipient_phone="nope"),
        announce_body(station, "NEW1"),  # duplicate in the batch
        announce_body(other_station, "OLD1"),  # exists at another station
        {"tracking_number": "", "station": station.slug},
        {**announce_body(station, "NEW2"), "station": "no-such-station"},
        announce_body(station, "NEW3", language="zh-hans"),
    ]
    response = api.post("/api/v1/parcels/batch/", {"parcels": items}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["existing"], body["failed"]) == (2, 1, 5)
    statuses = [(r["index"], r["status"], r.get("code")) for r in body["results"]]
    assert statuses == [
        (0, "created", None),
        (1, "exists", None),
        (2, "error", "invalid_phone"),
        (3, "error", "duplicate_in_batch"),
        (4, "error", "already_announced"),
        (5, "error", "invalid"),
        (6, "error", "invalid"),  # no station has this slug, as for a single announcement
        (7, "created", None),
    ]
    assert body["results"][2]["errors"] == {
        "recipient_phone": ["Enter a valid phone number, with the country code if it is not local."]
    }
    with network_scope():
        assert set(Parcel.objects.values_list("tracking_number", flat=True)) == {
            "OLD1",
            "NEW1",
            "NEW3",
        }
        assert ParcelEvent.objects.filter(kind="parcel.announced").count() == 3


def test_batch_of_more_than_1000_is_refused(api, station):
    items = [announce_body(station, f"N{i}") for i in range(1001)]
    response = api.post("/api/v1/parcels/batch/", {"parcels": items}, format="json")
    assert response.status_code == 400
    assert "parcels" in response.json()["errors"]
    assert parcels_in_db() == 0


# --- reading and acting -------------------------------------------------------------------------


def test_another_partners_parcel_is_404_everywhere(api, other_api, station, announce):
    parcel = announce(station)  # belongs to `partner`
    n = parcel.tracking_number
    assert api.get(api_url(n)).status_code == 200
    assert other_api.get(api_url(n)).status_code == 404
    assert other_api.post(api_url(n, "cancel")).status_code == 404
    assert other_api.post(api_url(n, "recall"), {}, format="json").status_code == 404
    event = {"kind": "dispatched", "occurred_at": timezone.now().isoformat()}
    assert other_api.post(api_url(n, "events"), event, format="json").status_code == 404
    assert other_api.get("/api/v1/parcels/").json()["results"] == []


def test_list_pages_with_a_cursor_and_filters(api, station, announce, on_shelf):
    for _ in range(5):
        announce(station)
    shelved = on_shelf(station)
    page = api.get("/api/v1/parcels/", {"page_size": 2}).json()
    assert len(page["results"]) == 2
    assert page["next"]
    seen = [r["tracking_number"] for r in page["results"]]
    while page["next"]:
        page = api.get(page["next"]).json()
        seen += [r["tracking_number"] for r in page["results"]]
    assert len(seen) == len(set(seen)) == 6
    only = api.get("/api/v1/parcels/", {"status": "at_station"}).json()["results"]
    assert [r["tracking_number"] for r in only] == [shelved.tracking_number]
    assert only[0]["pickup_url"].endswith(f"/p/{shelved.pickup_token}/")
    future = api.get("/api/v1/parcels/", {"updated_since": "2999-01-01T00:00:00Z"}).json()
    assert future["results"] == []
    assert api.get("/api/v1/parcels/", {"updated_since": "yesterday"}).status_code == 400


def test_cancel_is_409_once_on_the_shelf_and_recall_works(api, station, announce, on_shelf):
    shelved = on_shelf(station)
    response = api.post(api_url(shelved, "cancel"))
    assert response.status_code == 409
    assert response.json()["code"] == "wrong_status"
    assert "cannot be cancelled: it is already on the shelf" in response.json()["detail"]
    recalled = api.post(
        api_url(shelved, "recall"),
        {"note": "wrong address"},
        format="json",
    )
    assert recalled.status_code == 200
    assert recalled.json()["status"] == "return_due"
    announced = announce(station)
    cancelled = api.post(api_url(announced, "cancel"))
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"


def test_upstream_events_show_on_the_buyers_timeline(api, client, station, on_shelf):
    parcel = on_shelf(station)
    response = api.post(
        api_url(parcel, "events"),
        {
            "kind": "customs_cleared",
            "occurred_at": "2026-11-20T09:00:00+08:00",
            "location": "Changi",
        },
        format="json",
    )
    assert response.status_code == 201
    detail = api.get(api_url(parcel)).json()
    assert detail["events"][0]["kind"] == "partner.customs_cleared"
    page = client.get(f"/p/{parcel.pickup_token}/").text
    assert "Cleared customs · Changi" in page
    future = api.post(
        api_url(parcel, "events"),
        {"kind": "dispatched", "occurred_at": "2999-01-01T00:00:00Z"},
        format="json",
    )
    assert future.status_code == 400
    assert "occurred_at" in future.json()["errors"]


# --- stations and invoices ----------------------------------------------------------------------


def test_stations_near_a_point_nearest_first_with_free_capacity(api, partner, on_shelf):
    here = make_station("Here", capacity=10)
    near = make_station("Near", capacity=5)
    far = make_station("Far")
    Station.objects.filter(pk=here.pk).update(latitude="1.285200", longitude="103.831600")
    Station.objects.filter(pk=near.pk).update(latitude="1.290000", longitude="103.840000")
    Station.objects.filter(pk=far.pk).update(latitude="1.440000", longitude="103.800000")
    on_shelf(here)
    on_shelf(here)
    response = api.get("/api/v1/stations/", {"near": "1.2852,103.8316", "radius_km": "3"})
    rows = response.json()["results"]
    assert [r["slug"] for r in rows] == ["here", "near"]
    assert rows[0]["free_capacity"] == 8
    assert rows[1]["free_capacity"] == 5
    assert rows[0]["distance_km"] < 0.01 < rows[1]["distance_km"] < 1.2
    assert api.get("/api/v1/stations/", {"near": "north"}).status_code == 400


def test_invoice_sums_fees_per_station(api, other_api, station, on_shelf, clerk):
    parcels = [on_shelf(station) for _ in range(3)]
    with station_scope(station.pk):
        services.parcel_hand_over(station=station, credential=parcels[0].pickup_code, actor=clerk)
        services.parcel_hand_over(station=station, credential=parcels[1].pickup_code, actor=clerk)
        services.parcel_mark_return_due(parcel=parcels[2], reason="overdue", actor=None)
        services.parcels_hand_back(
            station=station, parcel_ids=[parcels[2].pk], courier_name="A", actor=clerk
        )
    body = api.get("/api/v1/invoices/").json()
    assert body["stations"] == [
        {
            "station": station.slug,
            "currency": "SGD",
            "handovers": 2,
            "handover_total": 90,
            "returns": 1,
            "return_total": 20,
            "total": 110,
        }
    ]
    assert body["totals"] == {"SGD": 110}
    assert other_api.get("/api/v1/invoices/").json()["stations"] == []
    assert api.get("/api/v1/invoices/", {"month": "2026-13"}).status_code == 400


def test_throttled_per_key(api, monkeypatch):
    from partners.authentication import ApiKeyRateThrottle

    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "3/min"})
    codes = [api.get("/api/v1/parcels/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_docs_and_schema_work_offline(client):
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200
    assert b"Stationkeeper partner API" in schema.content
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    assert "cdn" not in docs.text.lower()
    assert "/static/drf_spectacular_sidecar/" in docs.text


@pytest.mark.parametrize(
    ("since", "expected"),
    [
        ("0034-07-04T06:27:49.6+18:48", 200),  # an offset PostgreSQL would refuse: read as UTC
        ("2026-11-21T08:00:00", 200),  # no offset: UTC
        ("0001-01-01T00:00:00+05:00", 400),  # before year 1 in UTC
    ],
)
def test_updated_since_takes_any_offset(api, since, expected):
    assert api.get("/api/v1/parcels/", {"updated_since": since}).status_code == expected


def test_all_stations_page_with_a_cursor(api):
    for i in range(5):
        make_station(f"S{i}")
    from partners.api.views import StationPagination

    StationPagination.page_size, old = 2, StationPagination.page_size
    try:
        page = api.get("/api/v1/stations/").json()
        seen = [r["slug"] for r in page["results"]]
        while page["next"]:
            page = api.get(page["next"]).json()
            seen += [r["slug"] for r in page["results"]]
    finally:
        StationPagination.page_size = old
    assert seen == [f"s{i}" for i in range(5)]


def test_invoice_month_runs_in_the_stations_time_zone(api, station, on_shelf, clerk):
    import datetime as dt

    from stations.models import LedgerLine

    parcel = on_shelf(station)
    with station_scope(station.pk):
        services.parcel_hand_over(station=station, credential=parcel.pickup_code, actor=clerk)
        # 1 March 02:00 in Singapore is still February in UTC.
        LedgerLine.objects.filter(parcel=parcel).update(
            created_at=dt.datetime(2026, 2, 28, 18, 0, tzinfo=dt.UTC)
        )
    assert api.get("/api/v1/invoices/", {"month": "2026-03"}).json()["totals"] == {"SGD": 45}
    assert api.get("/api/v1/invoices/", {"month": "2026-02"}).json()["totals"] == {}
    assert api.get("/api/v1/invoices/", {"month": "9999-12"}).status_code == 400


@pytest.mark.django_db(transaction=True)
def test_concurrent_repeats_with_one_idempotency_key_do_the_work_once(partner, monkeypatch):
    from partners.authentication import ApiKeyRateThrottle
    from partners.models import WebhookEndpoint
    from partners.services import api_key_create

    # Not a throttling test: keep the threads off the cache (each would open its own Redis pool).
    monkeypatch.setattr(ApiKeyRateThrottle, "allow_request", lambda self, request, view: True)
    _key, raw = api_key_create(partner=partner)

    def post() -> int:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
        response = client.post(
            "/api/v1/webhooks/",
            {"url": "https://partner.example/h", "events": ["parcel.picked_up"]},
            format="json",
            headers={"Idempotency-Key": "one"},
        )
        return response.status_code

    codes = race(4, post).results
    assert WebhookEndpoint.objects.count() == 1
    assert codes.count(201) >= 1
    assert set(codes) <= {201, 409}


# A NUL character cannot reach a lookup: PostgreSQL cannot compare text with it.
@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/api/v1/parcels/AB%00C/"),
        ("post", "/api/v1/parcels/AB%00C/cancel/"),
        ("post", "/api/v1/parcels/AB%00C/recall/"),
    ],
)
def test_a_nul_in_a_tracking_number_finds_no_parcel(api, method, url):
    response = getattr(api, method)(url, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_nul_in_the_station_filter_finds_no_parcels(api, station, announce):
    announce(station)
    assert len(api.get(f"/api/v1/parcels/?station={station.slug}").json()["results"]) == 1
    response = api.get(f"/api/v1/parcels/?station={station.slug}%00")
    assert response.status_code == 200
    assert response.json()["results"] == []
