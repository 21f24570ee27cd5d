"""The footer's language switcher under the Content-Security-Policy (no inline handler): it
submits on change where the page runs script, and has a button on the buyer's page, which runs
none."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_picking_a_language_switches_at_once(live_server, page: Page):
    page.goto(f"{live_server.url}/accounts/login/")
    expect(page.locator("footer .lang button")).to_be_hidden()
    page.select_option("#lang-select", "ms")
    expect(page.locator("html")).to_have_attribute("lang", "ms")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/")


def test_the_buyers_page_switches_with_its_button(live_server, page: Page, station, on_shelf):
    parcel = on_shelf(station)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/p/{parcel.pickup_token}/")
    page.select_option("#lang-select", "ms")
    page.locator("footer .lang button").click()
    expect(page.locator("html")).to_have_attribute("lang", "ms")
    expect(page.locator("h1")).to_have_text("Sedia untuk diambil")
    # The button and the longer names still fit a phone: nothing scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
