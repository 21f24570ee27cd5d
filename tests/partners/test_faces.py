"""The partner API's reads and writes behind its views: the webhook services and selectors, the
invoice that sums as the statements do, the station search and the parcel lookups. Each is
asked "and the other partner?"."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.utils import timezone

from parcels import selectors as parcel_selectors
from partners import selectors, services, webhooks
from partners.models import WebhookDelivery, WebhookEndpoint, WebhookMessage
from stations import earnings
from stations import selectors as station_selectors
from stations.models import LedgerLine, Statement, Station
from stations.tenancy import network_scope, partner_scope
from tests.conftest import make_station
from tests.stations.test_earnings import put_lines

pytestmark = pytest.mark.django_db
SGT = zoneinfo.ZoneInfo("Asia/Singapore")
LONDON = zoneinfo.ZoneInfo("Europe/London")


def endpoint_for(partner) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        partner=partner, url="https://hooks.example/x", events=["parcel.picked_up"]
    )


def delivery_to(endpoint: WebhookEndpoint) -> WebhookDelivery:
    message = WebhookMessage.objects.create(
        partner=endpoint.partner,
        msg_id=f"msg_{endpoint.pk}",
        event_type="parcel.picked_up",
        payload={"a": 1},
    )
    return WebhookDelivery.objects.create(message=message, endpoint=endpoint, due_at=timezone.now())


# --- webhooks -----------------------------------------------------------------------------------


def test_rotating_keeps_the_old_secret_signing_for_a_day(partner):
    endpoint = endpoint_for(partner)
    old = endpoint.secret
    rotated = services.webhook_endpoint_rotate_secret(endpoint=endpoint)
    stored = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert stored.secret == rotated.secret != old
    assert stored.previous_secret == old
    assert stored.previous_secret_expires_at - timezone.now() <= webhooks.ROTATION_GRACE
    assert stored.previous_secret_expires_at > timezone.now() + dt.timedelta(hours=23)


def test_deleting_an_endpoint_deletes_its_delivery_log(partner):
    endpoint = endpoint_for(partner)
    delivery_to(endpoint)
    services.webhook_endpoint_delete(endpoint=endpoint)
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert not WebhookDelivery.objects.filter(endpoint_id=endpoint.pk).exists()


def test_a_redelivery_is_the_same_message_due_now_and_queues_the_worker(
    partner, django_capture_on_commit_callbacks
):
    delivery = delivery_to(endpoint_for(partner))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=WebhookDelivery.Status.FAILED)
    with django_capture_on_commit_callbacks() as callbacks:
        again = services.webhook_delivery_redeliver(delivery=delivery)
    assert again.pk != delivery.pk
    assert again.message_id == delivery.message_id
    assert again.status == WebhookDelivery.Status.PENDING
    assert again.due_at <= timezone.now()
    assert len(callbacks) == 1  # the worker is asked once the redelivery is committed


def test_webhook_selectors_see_only_the_partners_own(partner, other_partner):
    mine, theirs = endpoint_for(partner), endpoint_for(other_partner)
    my_delivery, their_delivery = delivery_to(mine), delivery_to(theirs)
    assert list(selectors.webhook_endpoints_for(partner=partner)) == [mine]
    assert selectors.webhook_endpoint_for(partner=partner, pk=theirs.pk) is None
    assert selectors.webhook_delivery_for(partner=partner, pk=their_delivery.pk) is None
    assert selectors.webhook_delivery_for(partner=partner, pk=my_delivery.pk) == my_delivery
    assert list(selectors.webhook_deliveries_for(endpoint=mine, status="failed")) == []
    assert list(selectors.webhook_deliveries_for(endpoint=mine, status="nonsense")) == [my_delivery]


def test_the_api_deletes_rotates_and_redelivers_only_its_own(api, partner, other_partner):
    theirs = endpoint_for(other_partner)
    their_delivery = delivery_to(theirs)
    assert api.delete(f"/api/v1/webhooks/{theirs.pk}/").status_code == 404
    assert api.post(f"/api/v1/webhooks/{theirs.pk}/rotate-secret/").status_code == 404
    assert (
        api.post(f"/api/v1/webhooks/deliveries/{their_delivery.pk}/redeliver/").status_code == 404
    )
    assert WebhookEndpoint.objects.get(pk=theirs.pk).secret == theirs.secret
    assert WebhookDelivery.objects.filter(endpoint=theirs).count() == 1


# --- invoices and statements: one sum -------------------------------------------------------------


def test_the_invoice_is_the_sum_of_the_stations_statements(api, station, partner):
    london = make_station("London Road")
    Station.objects.filter(pk=london.pk).update(timezone="Europe/London")
    # Month edges in each station's own time zone, and every kind of line.
    put_lines(station, partner, dt.datetime(2026, 10, 1, 0, 30, tzinfo=SGT), 45)
    put_lines(station, partner, dt.datetime(2026, 10, 31, 23, 30, tzinfo=SGT), 20, kind="return")
    put_lines(station, partner, dt.datetime(2026, 11, 1, 0, 30, tzinfo=SGT), 999)
    put_lines(station, partner, dt.datetime(2026, 10, 15, tzinfo=SGT), -5, kind="adjustment")
    put_lines(london, partner, dt.datetime(2026, 10, 31, 23, 30, tzinfo=LONDON), 60)
    put_lines(london, partner, dt.datetime(2026, 9, 30, 23, 30, tzinfo=LONDON), 999)
    with network_scope():
        assert earnings.statements_close_month(month=dt.date(2026, 10, 1)) == 2
        statements = {
            st.station.slug: st for st in Statement.objects.select_related("station").all()
        }
    body = api.get("/api/v1/invoices/", {"month": "2026-10"}).json()
    for line in body["stations"]:
        st = statements[line["station"]]
        assert (line["handovers"], line["handover_total"]) == (st.handovers, st.handover_total)
        assert (line["returns"], line["return_total"], line["total"]) == (
            st.returns,
            st.return_total,
            st.total,
        )
    assert [line["station"] for line in body["stations"]] == ["london-road", station.slug]
    assert body["totals"] == {"SGD": 45 + 20 - 5 + 60}


def test_ledger_month_sums_narrowed_to_a_partner(station, partner, other_partner):
    october = dt.datetime(2026, 10, 15, tzinfo=SGT)
    put_lines(station, partner, october, 45)
    put_lines(station, other_partner, october, 60)
    with network_scope():
        rows = list(
            earnings.ledger_month_sums(
                month=dt.date(2026, 10, 1), lines=LedgerLine.objects.filter(partner=partner)
            )
        )
    assert [(r["station_id"], r["handovers"], r["total"]) for r in rows] == [(station.pk, 1, 45)]


# --- stations and parcels as the API reads them ---------------------------------------------------


def test_stations_near_keeps_to_the_radius_and_the_limit(db):
    for i, lat in enumerate(["1.285200", "1.286000", "1.287000", "1.400000"]):
        st = make_station(f"P{i}")
        Station.objects.filter(pk=st.pk).update(latitude=lat, longitude="103.831600")
    make_station("Closed", status=Station.Status.CLOSED)
    rows = station_selectors.stations_near(lat=1.2852, lng=103.8316, radius_km=1, limit=2)
    assert [st.slug for _d, st in rows] == ["p0", "p1"]
    assert rows[0][0] < rows[1][0] < 1
    everything = station_selectors.stations_near(lat=1.2852, lng=103.8316, radius_km=50)
    assert [st.slug for _d, st in everything] == ["p0", "p1", "p2", "p3"]  # not the closed one


def test_free_capacity_counts_every_partners_parcels(station, partner, other_partner, on_shelf):
    on_shelf(station)
    with partner_scope(other_partner.pk):
        listed = parcel_selectors.stations_listed(rows=[(None, station)])
    assert listed[0]["free_capacity"] == station.capacity - 1
    assert listed[0]["distance_km"] is None


def test_parcel_lookups_are_the_partners_own(station, partner, other_partner, announce):
    parcel = announce(station)
    with network_scope():
        assert (
            parcel_selectors.parcel_for_partner(
                partner=partner, tracking_number=parcel.tracking_number.lower()
            )
            == parcel
        )
        assert (
            parcel_selectors.parcel_for_partner(
                partner=other_partner, tracking_number=parcel.tracking_number
            )
            is None
        )
        assert parcel_selectors.parcel_for_partner(partner=partner, tracking_number="-") is None
        mine = parcel_selectors.parcels_for_partner(partner=partner, station_slug=station.slug)
        assert list(mine) == [parcel]
        assert not parcel_selectors.parcels_for_partner(partner=partner, station_slug="a\x00b")
        assert not parcel_selectors.parcels_for_partner(partner=other_partner)
