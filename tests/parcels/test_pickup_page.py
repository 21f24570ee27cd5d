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
    assert parcel.pickup_code[:3] in text
    assert parcel.pickup_code[3:] in text
    assert "<svg" in text
    assert "qr-svg" in text
    assert station.name in text
    assert station.address in text
    assert "Collect by" in text
    # Personal data: the name only masked, the phone never.
    assert "Tan Mei Ling" not in text
    assert "T••" in text
    assert "91234567" not in text
    assert response["Cache-Control"].startswith("max-age=0")


def test_pickup_page_after_handover_shows_no_code(client, station, on_shelf, clerk):
    parcel = on_shelf(station)
    with station_scope(station.pk):
        services.parcel_hand_over(station=station, credential=parcel.pickup_code, actor=clerk)
    response = client.get(f"/p/{parcel.pickup_token}/")
    assert response.status_code == 200
    assert "Picked up" in response.text
    assert parcel.pickup_code not in response.text
    assert "qr-svg" not in response.text


@pytest.mark.parametrize("token", ["A" * 32, "short", "has space" + "x" * 20, "%3Cscript%3E" * 3])
def test_unknown_or_malformed_token_is_404(client, station, on_shelf, token):
    on_shelf(station)
    assert client.get(f"/p/{token}/").status_code == 404


def test_qr_png_decodes_to_the_absolute_pickup_link(client, station, on_shelf, settings):
    import io

    import zxingcpp
    from PIL import Image

    parcel = on_shelf(station)
    response = client.get(f"/p/{parcel.pickup_token}/qr.png")
    assert response["Content-Type"] == "image/png"
    [found] = zxingcpp.read_barcodes(Image.open(io.BytesIO(response.content)))
    assert found.text == f"{settings.SITE_URL}/p/{parcel.pickup_token}/"
    svg = client.get(f"/p/{parcel.pickup_token}/qr.svg")
    assert svg["Content-Type"] == "image/svg+xml"
    assert svg.content.startswith(b"<svg")


def test_qr_is_gone_once_the_parcel_left_the_shelf(client, station, on_shelf, clerk):
    parcel = on_shelf(station)
    with station_scope(station.pk):
        services.parcel_hand_over(station=station, credential=parcel.pickup_code, actor=clerk)
    assert client.get(f"/p/{parcel.pickup_token}/qr.png").status_code == 404
    assert client.get(f"/p/{parcel.pickup_token}/qr.gif").status_code == 404


def test_page_speaks_the_parcels_language_unless_the_buyer_chose(client, station, on_shelf):
    parcel = on_shelf(station, language="zh-hans")
    page = client.get(f"/p/{parcel.pickup_token}/")
    assert page["Content-Language"] == "zh-hans"
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert client.get(f"/p/{parcel.pickup_token}/")["Content-Language"] == "en"


def test_timeline_and_opening_hours(client, station, on_shelf):
    from stations.models import Station

    Station.objects.filter(pk=station.pk).update(
        opening_hours={str(d): [["00:00", "23:59"]] for d in range(7)}
    )
    parcel = on_shelf(station)
    text = client.get(f"/p/{parcel.pickup_token}/").text
    assert "Open now" in text
    assert "00:00–23:59" in text
    assert text.index("Arrived at the pickup station") < text.index("The sender announced")
    assert "Carl" not in text  # who checked it in stays private


def test_extend_button_moves_the_deadline_once(client, station, on_shelf):
    parcel = on_shelf(station)
    page = client.get(f"/p/{parcel.pickup_token}/")
    assert "Extend by 3 days" in page.text
    done = client.post(f"/p/{parcel.pickup_token}/extend/", follow=True)
    assert "Done: you can now collect it until" in done.text
    assert "Extend by" not in done.text
    assert "extended once already" in done.text
    again = client.post(f"/p/{parcel.pickup_token}/extend/", follow=True)
    assert "already extended once" in again.text


def test_probing_many_tokens_is_throttled(client, station, on_shelf):
    from parcels.public_views import PROBE_LIMIT

    parcel = on_shelf(station)
    for i in range(PROBE_LIMIT):
        assert client.get(f"/p/{'x' * 30}{i:02d}/").status_code == 404
    blocked = client.get(f"/p/{parcel.pickup_token}/")
    assert blocked.status_code == 429
    assert "Too many tries" in blocked.text
    # Another address is not affected.
    other = client.get(f"/p/{parcel.pickup_token}/", REMOTE_ADDR="10.9.8.7")
    assert other.status_code == 200


def test_friendly_404(client):
    page = client.get("/p/not-a-real-token-but-long-enough/")
    assert page.status_code == 404
    assert "We could not find this page" in page.text


def test_the_buyers_page_loads_no_script(client, station, on_shelf):
    parcel = on_shelf(station)
    assert "<script" not in client.get(f"/p/{parcel.pickup_token}/").text


def test_the_buyers_page_shows_the_qr_drawn_when_the_notice_went_out(
    client, station, on_shelf, monkeypatch
):
    """The QR's mask is chosen once per parcel, by the pickup notice's task, for every web
    worker: opening the page does not choose it again."""
    import qrcode

    from parcels import notices
    from stations.tenancy import network_scope

    parcel = on_shelf(station)
    with network_scope():
        for notice_id in notices.claim_due(now=parcel.checked_in_at):
            notices.send(notice_id, now=parcel.checked_in_at)

    def mask_chosen_again(self):
        raise AssertionError("the page view chose the QR's mask")

    monkeypatch.setattr(qrcode.QRCode, "best_mask_pattern", mask_chosen_again)
    response = client.get(f"/p/{parcel.pickup_token}/")
    assert response.status_code == 200
    assert "qr-svg" in response.text


def test_the_station_card_follows_the_owners_changes_at_once(client, station, on_shelf, settings):
    """The card is drawn once per process for all the station's buyers: an edit shows at once."""
    from django.utils import timezone

    from stations.models import Station

    first, second = on_shelf(station), on_shelf(station)
    Station.objects.filter(pk=station.pk).update(
        opening_hours={str(d): [["00:00", "23:59"]] for d in range(7)}
    )
    assert "00:00–23:59" in client.get(f"/p/{first.pickup_token}/").text
    # Another day's hours change; today's, and whether it is open now, do not.
    today = timezone.now().astimezone(station.tzinfo).weekday()
    Station.objects.filter(pk=station.pk).update(
        opening_hours={
            str(d): [["00:00", "23:59"]] if d == today else [["09:00", "12:00"]] for d in range(7)
        }
    )
    text = client.get(f"/p/{second.pickup_token}/").text
    assert "09:00–12:00" in text
    Station.objects.filter(pk=station.pk).update(name="Tiong Bahru Corner")
    text = client.get(f"/p/{second.pickup_token}/").text
    assert "Tiong Bahru Corner" in text
    assert "Pickup station" in text
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ms"  # the buyer picks Malay: the card too
    assert "Stesen pengambilan" in client.get(f"/p/{second.pickup_token}/").text
