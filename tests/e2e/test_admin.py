"""The network admin under the site's Content-Security-Policy: the Django admin's own scripts
(calendar and clock widgets, the permission picker, autocomplete, inlines, the slug filler) run,
and a form saves and redirects, with no violation (the conftest fails the test on one)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from stations.models import User

pytestmark = pytest.mark.django_db(transaction=True)


def log_in_to_admin(page: Page, base: str) -> None:
    User.objects.create_superuser("boss@network.example", "admin-pass-123")
    page.goto(f"{base}/admin/")
    page.fill("#id_username", "boss@network.example")
    page.fill("#id_password", "admin-pass-123")
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_contain_text("Stationkeeper")


def test_admin_change_list_and_change_form_with_their_scripts(
    live_server, page: Page, station, clerk, outsider
):
    base = live_server.url
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in_to_admin(page, base)

    # A change list with filters and a search.
    page.goto(f"{base}/admin/stations/user/")
    expect(page.locator("#result_list")).to_contain_text(clerk.email)
    page.fill("#searchbar", "clerk@")
    page.press("#searchbar", "Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)

    # The change form: the date and time widgets, drawn and driven by the admin's scripts.
    page.get_by_role("link", name=clerk.email).click()
    expect(page).to_have_url(re.compile(rf"/admin/stations/user/{clerk.pk}/change/"))
    joined = page.locator(".field-date_joined")
    joined.get_by_role("link", name="Today").click()
    joined.locator("a[id^=calendarlink]").click()
    calendar = page.locator(".calendarbox").filter(visible=True)
    expect(calendar).to_have_count(1)
    calendar.get_by_role("link", name="Yesterday").click()
    expect(page.locator(".calendarbox").filter(visible=True)).to_have_count(0)
    joined.locator("a[id^=clocklink]").click()
    page.locator(".clockbox").filter(visible=True).get_by_role("link", name="Noon").click()
    expect(page.locator("#id_date_joined_1")).to_have_value("12:00:00")
    # The permission picker (SelectFilter) replaced the plain multiple select.
    expect(page.locator("#id_user_permissions_filter")).to_be_visible()
    page.fill("#id_user_permissions_input", "view parcel")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    clerk.refresh_from_db()
    assert clerk.date_joined.hour == 12

    # A form with an inline, autocomplete and a prepopulated field.
    page.goto(f"{base}/admin/stations/station/{station.pk}/change/")
    page.get_by_text("Add another Membership").click()
    row = page.locator(".dynamic-memberships").last
    row.locator(".select2-selection").click()  # autocomplete asks the admin for users
    page.locator(".select2-search__field").fill("outsider")
    expect(page.locator(".select2-results__option")).to_have_text(["outsider@test.example"])
    page.keyboard.press("Escape")

    page.goto(f"{base}/admin/stations/station/add/")
    page.locator("#id_name").press_sequentially("Bukit Timah Kiosk")
    expect(page.locator("#id_slug")).to_have_value("bukit-timah-kiosk")
