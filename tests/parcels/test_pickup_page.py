from __future__ import annotations

import pytest

from parcels import services
from stations.tenancy import station_scope

pytestmark = pytest.mark.django_db


def test_pickup_page_shows_code_qr_station_and_deadline(client, station, on_shelf):
    parcel = on_shelf(station, recipient_name="Tan Mei Ling")
    response = client.get(f"/p/{parcel.pickup_token}/")
    assert response.status_code == 200
    text = response.text
    assert "Ready for pickup" in text
    assert parcel.pickup_code[:3] in text and parcel.pickup_code[3:] in text
    assert "<svg" in text and "qr-svg" in text
    assert station.name in text and station.address in text
    assert "Collect by" in text
    # Personal data: the name only masked, the phone never.
    assert "Tan Mei Ling" not in text and "T••" in text
    assert "91234567" not in text
    assert response["Cache-Control"].startswith("max-age=0")


def test_pickup_page_after_handover_shows_no_code(client, station, on_shelf, clerk):
    parcel = on_shelf(station)
    with station_scope(station.pk):
        services.parcel_hand_over(station=station, credential=parcel.pickup_code, actor=clerk)
    response = client.get(f"/p/{parcel.pickup_token}/")
    assert response.status_code == 200
    assert "Picked up" in response.text
    assert parcel.pickup_code not in response.text and "qr-svg" not in response.text


@pytest.mark.parametrize("token", ["A" * 32, "short", "has space" + "x" * 20, "%3Cscript%3E" * 3])
def test_unknown_or_malformed_token_is_404(client, station, on_shelf, token):
    on_shelf(station)
    assert client.get(f"/p/{token}/").status_code == 404
