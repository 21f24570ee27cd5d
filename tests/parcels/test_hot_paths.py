"""What the profile of the counter and buyer paths changed (see README, Performance): each change
keeps its behaviour, and the saved work stays saved."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from parcels import codes, services
from parcels.exceptions import ParcelNotFound, WrongStatus
from parcels.models import Handover, Parcel
from stations.models import LedgerLine
from stations.tenancy import network_scope, partner_scope, station_scope

pytestmark = pytest.mark.django_db


def confirm(client, station, parcel) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(
            reverse("stations:check_out", args=[station.slug]),
            {"credential": f"/p/{parcel.pickup_token}/", "action": "confirm"},
            HTTP_HX_REQUEST="true",
        )
    assert response.status_code == 200
    assert "done-line" in response.text
    return len(ctx.captured_queries), [q["sql"] for q in ctx.captured_queries]


def test_check_out_reads_the_parcel_once_whatever_else_the_buyer_has_waiting(
    login, clerk, station, on_shelf
):
    client = login(clerk)
    alone = on_shelf(station, recipient_phone="+6591110000")
    counts = [confirm(client, station, alone)[0]]
    # The same buyer with five more parcels waiting, none of them ticked to go along.
    first, *rest = [on_shelf(station, recipient_phone="+6592220000") for _ in range(6)]
    count, sql = confirm(client, station, first)
    counts.append(count)
    lookups = [q for q in sql if q.startswith("SELECT") and 'FROM "parcels_parcel"' in q]
    assert len(lookups) == 1, lookups  # found once by its token; the UPDATE claims it
    assert counts[0] == counts[1] <= 11, counts
    with station_scope(station.pk):
        assert Handover.objects.filter(parcel__in=[alone, first]).count() == 2
        assert not Handover.objects.filter(parcel__in=rest).exists()


def test_a_parcel_found_at_another_station_is_not_handed_over(
    station, other_station, on_shelf, clerk
):
    theirs = on_shelf(other_station)
    with station_scope(station.pk), pytest.raises(ParcelNotFound):
        services.parcel_hand_over(
            station=station, credential=theirs.pickup_code, actor=clerk, found=theirs
        )
    with network_scope():
        assert Parcel.objects.get(pk=theirs.pk).status == Parcel.Status.AT_STATION


def test_a_parcel_handed_over_since_it_was_found_is_refused_with_what_happened(
    station, on_shelf, clerk
):
    # The check-out page found the parcel; before the clerk confirmed, a colleague handed it over.
    parcel = on_shelf(station)
    with station_scope(station.pk):
        found = services.selectors.parcel_by_token(station=station, token=parcel.pickup_token)
        services.parcel_hand_over(station=station, credential=parcel.pickup_code, actor=clerk)
        with pytest.raises(WrongStatus) as refused:
            services.parcel_hand_over(
                station=station, credential=parcel.pickup_token, actor=clerk, found=found
            )
        assert refused.value.code == "wrong_status"
        assert "already picked up" in str(refused.value)
        assert Handover.objects.filter(parcel=parcel).count() == 1
        assert LedgerLine.objects.filter(parcel=parcel).count() == 1


def test_a_parcel_confirmed_by_its_partner_since_it_was_found_is_paid_once(station, partner, clerk):
    # Taken in unannounced (it earns nothing yet); the page finds it; then the partner announces
    # it, which is what decides that its hand-over is paid. The stale read must not lose the fee.
    with station_scope(station.pk):
        parcel = services.parcel_check_in(
            station=station,
            tracking_number="LATECONFIRM1",
            actor=clerk,
            partner=partner,
            recipient_name="Nobody Real",
            recipient_phone="+6581112222",
        )
        found = services.selectors.parcel_by_token(station=station, token=parcel.pickup_token)
    assert found.announced_at is None
    with partner_scope(partner.pk):
        services.parcel_announce(
            partner=partner,
            station=station,
            tracking_number="LATECONFIRM1",
            recipient_name="Nobody Real",
            recipient_phone="+6581112222",
            actor=partner,
        )
    with station_scope(station.pk):
        services.parcel_hand_over(
            station=station, credential=parcel.pickup_token, actor=clerk, found=found
        )
        [line] = LedgerLine.objects.filter(parcel=parcel)
    assert (line.kind, line.amount) == ("handover", 45)


@pytest.mark.parametrize("language", ["en", "zh-hans", "ms"])
def test_status_labels_are_the_translated_choice_labels(language):
    field = Parcel._meta.get_field("status")
    with translation.override(language):
        for value, label in field.flatchoices:
            assert Parcel(status=value).get_status_display() == str(label)
    assert Parcel(status="unheard-of").get_status_display() == "unheard-of"


def _svg_to_image(svg: str):
    """Paint the SVG's runs ("M{x} {y}h{w}v1h-{w}z") on a white image, 8 px per module."""
    from PIL import Image, ImageDraw

    size = int(re.search(r'viewBox="0 0 (\d+) \1"', svg).group(1))
    scale = 8
    image = Image.new("L", (size * scale, size * scale), 255)
    draw = ImageDraw.Draw(image)
    for x, y, w in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\3z", svg):
        x, y, w = int(x), int(y), int(w)
        draw.rectangle([x * scale, y * scale, (x + w) * scale - 1, (y + 1) * scale - 1], fill=0)
    return image


def test_the_pickup_qr_code_scans_back_to_the_link():
    import zxingcpp

    link = "https://stationkeeper.example/p/AbCdEfGhIjKlMnOpQrStUv12wxyz3456/"
    svg = codes.qr_svg(link)
    assert svg.startswith('<svg role="img" class="qr-svg"')
    assert "width=" not in svg[:120]
    [found] = zxingcpp.read_barcodes(_svg_to_image(svg))
    assert found.text == link


def shelf_page(client, station):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("stations:shelf", args=[station.slug]))
    return response, [q["sql"] for q in ctx.captured_queries if "django_session" in q["sql"]]


def test_a_logged_in_page_reads_the_session_from_the_cache_not_the_database(client, clerk, station):
    # The suite runs with Redis as the cache (CACHE_URL), as production does.
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    client.login(email=clerk.email, password="pw-clerk-123")
    response, session_queries = shelf_page(client, station)
    assert response.status_code == 200
    assert session_queries == []


def test_a_flushed_cache_logs_nobody_out(client, clerk, station):
    client.login(email=clerk.email, password="pw-clerk-123")
    cache.clear()
    response, session_queries = shelf_page(client, station)
    assert response.status_code == 200
    assert len(session_queries) == 1
    assert shelf_page(client, station)[1] == []  # and put back in the cache


def test_with_redis_down_people_stay_logged_in_and_can_log_out(client, clerk, station, settings):
    client.login(email=clerk.email, password="pw-clerk-123")
    settings.CACHES = {  # nothing listens on port 1 (the production backend, as settings pick it)
        **settings.CACHES,
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        },
    }
    response, session_queries = shelf_page(client, station)
    assert response.status_code == 200
    assert len(session_queries) == 1
    client.post(reverse("account_logout"))
    response = client.get(reverse("stations:shelf", args=[station.slug]))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("value", [None, "", 'SP1"<2>&', "１２３"])
def test_the_scan_input_is_drawn_as_djangos_text_input_would(value):
    from django import forms

    from parcels.forms import CredentialForm, ScanInput

    attrs = CredentialForm.base_fields["credential"].widget.attrs
    extra = {"id": "id_credential", "maxlength": "500", "required": True, "hidden": False}
    assert isinstance(CredentialForm.base_fields["credential"].widget, ScanInput)
    assert ScanInput(attrs).render("credential", value, extra) == forms.TextInput(attrs).render(
        "credential", value, extra
    )


def test_a_hand_over_with_a_webhook_does_not_read_its_station_again(
    station, on_shelf, clerk, partner
):
    from partners.models import WebhookEndpoint, WebhookMessage

    WebhookEndpoint.objects.create(
        partner=partner, url="https://hooks.example/in", events=["parcel.picked_up"]
    )
    parcel = on_shelf(station)  # announced by `partner`
    with station_scope(station.pk), CaptureQueriesContext(connection) as ctx:
        services.parcel_hand_over(station=station, credential=parcel.pickup_code, actor=clerk)
    assert not [q for q in ctx.captured_queries if 'FROM "stations_station"' in q["sql"]]
    message = WebhookMessage.objects.get(event_type="parcel.picked_up")
    assert message.payload["data"]["station"] == station.slug
    assert message.deliveries.count() == 1
