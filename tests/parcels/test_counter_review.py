"""Counter problems found in review, each pinned by a test."""

from __future__ import annotations

import pytest

from parcels import services
from parcels.models import Parcel
from stations.models import LedgerLine
from stations.tenancy import network_scope, partner_scope, station_scope
from tests.conftest import portal_url

pytestmark = pytest.mark.django_db


def status_of(parcel):
    with network_scope():
        return Parcel.objects.get(pk=parcel.pk).status


def test_a_new_scan_while_unannounced_details_are_asked_is_a_plain_check_in(
    login, clerk, station, announce
):
    client = login(clerk)
    client.post(portal_url(station, "check_in"), {"tracking_number": "NOBODY1"})
    announced = announce(station)
    response = client.post(
        portal_url(station, "check_in"),
        {
            "tracking_number": announced.tracking_number,
            "prompted": "NOBODY1",
            "partner": "",
            "recipient_name": "",
            "recipient_phone": "",
        },
    )
    assert 'class="slot-big">A-01<' in response.text
    assert status_of(announced) == "at_station"


def test_unannounced_parcels_earn_nothing_until_the_partner_confirms(station, partner, clerk):
    with station_scope(station.pk):
        parcel = services.parcel_check_in(
            station=station,
            tracking_number="MADEUP1",
            actor=clerk,
            partner=partner,
            recipient_name="Nobody Real",
            recipient_phone="+6581112222",
        )
        services.parcel_hand_over(station=station, credential=parcel.pickup_code, actor=clerk)
        assert not LedgerLine.objects.filter(parcel=parcel).exists()
    # The partner announces it afterwards: confirmed, and the handover is paid once.
    with partner_scope(partner.pk):
        for _ in range(2):
            same, created = services.parcel_announce(
                partner=partner,
                station=station,
                tracking_number="MADEUP1",
                recipient_name="Nobody Real",
                recipient_phone="+6581112222",
                actor=partner,
            )
            assert (same.pk, created) == (parcel.pk, False)
        [line] = LedgerLine.objects.filter(parcel=parcel)
    assert (line.kind, line.amount) == ("handover", 45)


def test_handing_back_twice_says_so_plainly(login, clerk, station, on_shelf):
    parcel = on_shelf(station)
    with station_scope(station.pk):
        services.parcel_mark_return_due(parcel=parcel, reason="overdue", actor=None)
    client = login(clerk)
    form = {"partner": parcel.partner_id, "courier_name": "Ahmad", "parcels": [parcel.pk]}
    client.post(portal_url(station, "returns"), form)
    again = client.post(portal_url(station, "returns"), form, follow=True)
    assert (
        "Nothing of this partner is due back" in again.text or "already handed back" in again.text
    )
    assert "Select a valid choice" not in again.text


def test_an_error_keeps_the_clerks_unticks(login, clerk, station, on_shelf):
    keep, take = on_shelf(station), on_shelf(station)
    with station_scope(station.pk):
        for p in (keep, take):
            services.parcel_mark_return_due(parcel=p, reason="overdue", actor=None)
    response = login(clerk).post(
        portal_url(station, "returns"),
        {"partner": take.partner_id, "courier_name": "", "parcels": [take.pk]},
    )
    assert f'value="{take.pk}" checked' in response.text
    assert f'value="{keep.pk}" checked' not in response.text
    assert {status_of(keep), status_of(take)} == {"return_due"}


def test_odd_digits_in_also_do_not_break_a_handover(login, clerk, station, on_shelf):
    parcel = on_shelf(station)
    response = login(clerk).post(
        portal_url(station, "check_out"),
        {"credential": parcel.pickup_code, "action": "confirm", "also": ["²", "x"]},
    )
    assert response.status_code == 200
    assert "Handed over" in response.text


def test_other_stations_parcels_cannot_be_reached_by_post(
    login, clerk, station, other_station, on_shelf
):
    theirs = on_shelf(other_station, recipient_phone="+6591234567")
    mine = on_shelf(station, recipient_phone="+6591234567")  # same phone, other station
    client = login(clerk)
    client.post(
        portal_url(station, "check_out"), {"credential": theirs.pickup_token, "action": "confirm"}
    )
    client.post(
        portal_url(station, "check_out"),
        {"credential": mine.pickup_code, "action": "confirm", "also": [theirs.pk]},
    )
    with station_scope(other_station.pk):
        services.parcel_mark_return_due(parcel=theirs, reason="overdue", actor=None)
    client.post(
        portal_url(station, "returns"),
        {"partner": theirs.partner_id, "courier_name": "X", "parcels": [theirs.pk]},
    )
    assert status_of(mine) == "picked_up"
    assert status_of(theirs) == "return_due"


def test_htmx_request_after_logout_redirects_the_whole_page(client, station):
    response = client.post(
        portal_url(station, "check_in"), {"tracking_number": "X"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith("/accounts/login/?next=")


def test_htmx_request_from_a_removed_clerk_goes_home(login, clerk, station):
    client = login(clerk)
    clerk.memberships.all().delete()
    response = client.post(
        portal_url(station, "check_in"), {"tracking_number": "X"}, headers={"HX-Request": "true"}
    )
    assert response["HX-Redirect"] == "/"
