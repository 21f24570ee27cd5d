"""A USB scanner types fast: scans that follow each other without waiting are all kept, in
order, and a scan while a parcel is shown at check-out never hands that parcel over."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from parcels.models import Parcel
from stations.tenancy import network_scope

pytestmark = pytest.mark.django_db(transaction=True)


def log_in(page: Page, base: str, user) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", "pw-clerk-123")
    page.click("button[type=submit]")


def test_three_quick_scans_check_in_three_parcels(
    live_server, page: Page, station, clerk, announce
):
    parcels = [announce(station) for _ in range(3)]
    log_in(page, live_server.url, clerk)
    page.goto(f"{live_server.url}/s/{station.slug}/check-in/")
    expect(page.locator("#id_tracking_number")).to_be_focused()
    # Like a scanner: characters then Enter, three times, no pause for the page.
    page.keyboard.type("".join(f"{p.tracking_number}\n" for p in parcels), delay=5)
    recent = page.locator(".recent")
    for p in parcels:
        expect(recent).to_contain_text(p.tracking_number, timeout=15_000)
    with network_scope():
        statuses = list(
            Parcel.objects.filter(pk__in=[p.pk for p in parcels]).values_list("status", flat=True)
        )
    assert statuses == ["at_station"] * 3


def test_scanning_the_next_buyer_while_a_parcel_is_shown(
    live_server, page: Page, station, clerk, on_shelf
):
    first = on_shelf(station, recipient_phone="+6590000001")
    second = on_shelf(station, recipient_phone="+6590000002")
    log_in(page, live_server.url, clerk)
    page.goto(f"{live_server.url}/s/{station.slug}/check-out/")
    page.keyboard.type(f"{first.pickup_code}\n", delay=5)
    expect(page.locator(".found-card")).to_contain_text(first.tracking_number)
    expect(page.locator("#id_credential")).to_be_focused()
    # The next buyer's QR arrives as a scanner burst: it looks the new parcel up.
    page.keyboard.type(f"{live_server.url}/p/{second.pickup_token}/\n", delay=2)
    expect(page.locator(".found-card")).to_contain_text(second.tracking_number)
    with network_scope():
        assert Parcel.objects.get(pk=first.pk).status == "at_station"
        assert Parcel.objects.get(pk=second.pk).status == "at_station"
