"""The check-out counter reads what the buyer shows in one place (codes.parse_credential,
selectors.parcel_by_credential, parcels/counter.py): the page and the hand-over service agree on
what a scan is, and every typed code, wherever it is typed, counts towards the same limits."""

from __future__ import annotations

import pytest
from django.urls import reverse

from parcels import codes, counter, selectors, services, throttle
from parcels.exceptions import ParcelNotFound, WrongStatus
from parcels.models import Handover, Parcel
from stations.tenancy import network_scope, station_scope

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("scanned", "expected"),
    [
        ("123456", codes.Credential(code="123456")),
        (" 123 456 ", codes.Credential(code="123456")),
        ("123\t456", codes.Credential(code="123456")),
        ("123\u00a0456", codes.Credential(code="123456")),  # a phone's keyboard, pasted
        ("12345", codes.Credential()),
        ("http://x.example/p/" + "a" * 32 + "/", codes.Credential(token="a" * 32)),
        ("b" * 32, codes.Credential(token="b" * 32)),
        ("not a pickup link", codes.Credential()),
    ],
)
def test_a_scan_is_read_once_the_same_way(scanned, expected):
    assert codes.parse_credential(scanned) == expected


def test_why_a_scan_cannot_be_handed_over(station, on_shelf, clerk):
    parcel, used = on_shelf(station), on_shelf(station)
    with station_scope(station.pk):
        services.parcel_hand_over(station=station, credential=used.pickup_code, actor=clerk)
        found = counter.parcel_for_hand_over(
            station=station, scan=f" {parcel.pickup_code[:3]} {parcel.pickup_code[3:]}", user_id=1
        )
        assert found == parcel
        assert found.status == Parcel.Status.AT_STATION
        with pytest.raises(WrongStatus):
            counter.parcel_for_hand_over(station=station, scan=used.pickup_token, user_id=1)
        wrong = "000000" if "000000" not in (parcel.pickup_code, used.pickup_code) else "000001"
        with pytest.raises(ParcelNotFound) as typed:
            counter.parcel_for_hand_over(station=station, scan=wrong, user_id=1)
        with pytest.raises(ParcelNotFound) as scanned:
            counter.parcel_for_hand_over(station=station, scan="c" * 32, user_id=1)
    assert typed.value.code == "unknown_code"
    assert wrong in str(typed.value)
    assert scanned.value.code == "unknown_token"


def test_only_typed_codes_count_towards_the_pause(station, on_shelf):
    parcel = on_shelf(station)
    with station_scope(station.pk):
        for _ in range(throttle.PER_USER):
            with pytest.raises(ParcelNotFound):
                counter.parcel_for_hand_over(station=station, scan="z" * 32, user_id=7)
        assert counter.parcel_for_hand_over(station=station, scan=parcel.pickup_code, user_id=7)
        wrong = "000000" if parcel.pickup_code != "000000" else "000001"
        for _ in range(throttle.PER_USER):
            with pytest.raises(ParcelNotFound):
                counter.parcel_for_hand_over(station=station, scan=wrong, user_id=7)
        with pytest.raises(throttle.CodesPaused):
            counter.parcel_for_hand_over(station=station, scan=parcel.pickup_code, user_id=7)
        assert counter.parcel_for_hand_over(station=station, scan=parcel.pickup_token, user_id=7)


def test_the_page_reads_a_code_as_the_hand_over_does(login, clerk, station, on_shelf):
    # A code with a tab or a no-break space between its halves: the hand-over service always
    # took it; the page used to call it "not a pickup QR code".
    parcel = on_shelf(station)
    typed = f"{parcel.pickup_code[:3]}\u00a0{parcel.pickup_code[3:]}"
    page = login(clerk)
    url = reverse("stations:check_out", kwargs={"station_slug": station.slug})
    found = page.post(url, {"credential": typed})
    assert parcel.tracking_number in found.text
    assert "not the pickup QR code" not in found.text
    page.post(url, {"credential": typed, "action": "confirm"})
    with network_scope():
        assert Parcel.objects.get(pk=parcel.pk).status == Parcel.Status.PICKED_UP
        assert Handover.objects.get(parcel=parcel).method == Handover.Method.CODE


def test_ticked_parcels_of_the_recipient_are_not_looked_up_again(
    login, clerk, station, on_shelf, monkeypatch
):
    first = on_shelf(station, recipient_phone="+6590000001")
    second = on_shelf(station, recipient_phone="+6590000001")

    def no_second_lookup(**kwargs):
        raise AssertionError("a ticked parcel was looked up again by its token")

    # Each ticked parcel was read with the first; its hand-over starts from that read.
    monkeypatch.setattr(selectors, "parcel_by_token", no_second_lookup)
    page = login(clerk).post(
        reverse("stations:check_out", kwargs={"station_slug": station.slug}),
        {"credential": first.pickup_code, "action": "confirm", "also": [second.pk, 10**9]},
    )
    assert first.tracking_number in page.text
    assert second.tracking_number in page.text
    with network_scope():
        methods = dict(Handover.objects.values_list("parcel_id", "method"))
    assert methods == {first.pk: Handover.Method.CODE, second.pk: Handover.Method.TOKEN}
