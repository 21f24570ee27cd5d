"""A new owner's first day, in a real browser: sign up, apply, get approved, check a parcel in
and hand it over, typing at the counter as a USB scanner would."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from parcels import services
from parcels.models import Parcel
from stations.models import Station, User
from stations.tenancy import network_scope

pytestmark = pytest.mark.django_db(transaction=True)


def test_sign_up_apply_approve_check_in_and_out(live_server, page: Page, browser, partner, shoot):
    base = live_server.url
    page.set_viewport_size({"width": 390, "height": 844})

    # Sign up.
    page.goto(f"{base}/accounts/signup/")
    page.fill("input[name=email]", "mei@shop.example")
    page.fill("input[name=password1]", "a-good-long-pass-1")
    page.fill("input[name=password2]", "a-good-long-pass-1")
    page.click("button[type=submit]")
    expect(page.get_by_text("No station yet")).to_be_visible()

    # Apply for a station.
    page.get_by_role("link", name="Apply to open a station").click()
    page.fill("#id_name", "Clementi Corner Shop")
    page.select_option("#id_kind", "shop")
    page.fill("#id_phone", "6777 1234")
    page.fill("#id_capacity", "80")
    page.fill("#id_address", "321 Clementi Ave 3, #01-15")
    page.fill("#id_postal_code", "120321")
    page.fill("#id_latitude", "1.313700")
    page.fill("#id_longitude", "103.764000")
    page.check("#id_closed_6")
    page.click("text=Send application")
    expect(page.get_by_text("Your application is being reviewed")).to_be_visible()
    station = Station.objects.get(name="Clementi Corner Shop")
    assert station.status == "applied"

    # A network admin approves it in the Django admin.
    User.objects.create_superuser("boss@network.example", "admin-pass-123")
    admin = browser.new_context().new_page()
    admin.goto(f"{base}/admin/")
    admin.fill("#id_username", "boss@network.example")
    admin.fill("#id_password", "admin-pass-123")
    admin.click("input[type=submit]")
    admin.goto(f"{base}/admin/stations/station/")
    admin.check(f"input[name=_selected_action][value='{station.pk}']")
    admin.select_option("select[name=action]", "approve")
    admin.click("button[name=index]")
    expect(admin.get_by_text("1 station approved.")).to_be_visible()
    admin.close()

    # A partner announces a parcel; the owner checks it in by typing its number.
    with network_scope():
        parcel, _ = services.parcel_announce(
            partner=partner,
            station=Station.objects.get(pk=station.pk),
            tracking_number="SP000123456SG",
            recipient_name="Goh Siew Ling",
            recipient_phone="+6591230000",
        )
    page.goto(f"{base}/")
    expect(page).to_have_url(re.compile(rf"/s/{station.slug}/$"))
    page.get_by_role("link", name="Check in", exact=True).first.click()
    scan = page.locator("#id_tracking_number")
    expect(scan).to_be_focused()
    scan.type("sp000123456sg")
    scan.press("Enter")
    expect(page.locator(".slot-big")).to_have_text("A-01")
    expect(page.locator(".recent")).to_contain_text("SP000123456SG")
    expect(page.locator("#id_tracking_number")).to_be_focused()  # ready for the next scan
    shoot("check-in")

    with network_scope():
        parcel = Parcel.objects.get(pk=parcel.pk)
    assert parcel.status == "at_station"

    # The buyer shows the code; the owner types it and hands the parcel over.
    page.get_by_role("link", name="Check out").click()
    code = page.locator("#id_credential")
    code.type(f"{parcel.pickup_code[:3]} {parcel.pickup_code[3:]}")
    code.press("Enter")
    expect(page.locator(".found-card .slot-big")).to_have_text("A-01")
    expect(page.locator(".found-card")).to_contain_text("G•• S••• L•••")
    shoot("check-out")
    page.get_by_role("button", name="Hand over").click()
    expect(page.locator(".result-card.ok")).to_contain_text("SP000123456SG")
    expect(code).to_be_focused()  # ready for the next buyer
    expect(code).to_have_value("")

    with network_scope():
        assert Parcel.objects.get(pk=parcel.pk).status == "picked_up"

    page.get_by_role("link", name="Dashboard").click()
    expect(page.locator(".stats")).to_contain_text("Handed over today")
    shoot("dashboard")
