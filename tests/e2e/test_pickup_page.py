"""The buyer's pickup page on a phone, in English and in Chinese (the parcel's language)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from stations.models import Station
from tests.e2e.conftest import screenshot_path

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("language", "ready", "code_label"),
    [("en", "Ready for pickup", "Pickup code"), ("zh-hans", "可取件", "取件码")],
)
def test_pickup_page_on_a_phone(
    live_server, page: Page, station, on_shelf, language, ready, code_label
):
    Station.objects.filter(pk=station.pk).update(
        name="Tiong Bahru Mart",
        address="55 Tiong Bahru Road, #01-12",
        postal_code="160055",
        opening_hours={str(d): [["00:00", "23:59"]] for d in range(7)},
    )
    station.refresh_from_db()
    parcel = on_shelf(station, language=language, recipient_name="Tan Mei Ling")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/p/{parcel.pickup_token}/")
    expect(page.locator("h1")).to_have_text(ready)
    expect(page.locator(".code-label")).to_have_text(code_label)
    expect(page.locator(".code")).to_contain_text(parcel.pickup_code[:3])
    qr = page.locator(".qr-svg")
    expect(qr).to_be_visible()
    assert qr.bounding_box()["width"] >= 240  # big enough to scan from a phone screen
    expect(page.get_by_text("Tan Mei Ling")).to_have_count(0)
    page.screenshot(path=str(screenshot_path(f"pickup-{language}-390x844")), full_page=True)
