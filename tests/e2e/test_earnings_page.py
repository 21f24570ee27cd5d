"""The owner's earnings page in a browser, with a month of fees behind it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from stations.models import LedgerLine, Statement
from stations.tenancy import network_scope
from tests.conftest import make_partner

pytestmark = pytest.mark.django_db(transaction=True)


def test_earnings_page(live_server, page: Page, station, owner, partner, shoot):
    lion = make_partner("LionExpress", hold_days=5, handover_fee=50, return_fee=25)
    now = timezone.now()
    with network_scope():
        lines = []
        for day in range(30):
            for n in range((day * 7) % 11 + 2):
                who = partner if n % 3 else lion
                lines.append(
                    LedgerLine(
                        station=station,
                        partner=who,
                        kind="handover" if n % 5 else "return",
                        amount=(45 if who == partner else 50) if n % 5 else 20,
                        currency="SGD",
                        created_at=now - dt.timedelta(days=day, hours=n),
                    )
                )
        LedgerLine.objects.bulk_create(lines)
        LedgerLine.objects.create(
            station=station,
            partner=partner,
            kind="adjustment",
            amount=-45,
            currency="SGD",
            reason="Parcel SP0009 was paid twice",
            created_at=now,
        )
    Statement.objects.create(
        station=station,
        month=dt.date(2026, 10, 1),
        currency="SGD",
        handovers=212,
        returns=9,
        handover_total=9650,
        return_total=180,
        total=9830,
        paid_at=now,
        payout_reference="DBS-7781",
    )
    Statement.objects.create(
        station=station,
        month=dt.date(2026, 9, 1),
        currency="SGD",
        handovers=180,
        returns=12,
        handover_total=8100,
        return_total=240,
        total=8340,
    )
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", owner.email)
    page.fill("input[name=password]", "pw-owner-123")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/s/{station.slug}/earnings/")
    expect(page.locator(".by-partner")).to_contain_text("LionExpress")
    expect(page.locator(".chart svg rect.bar")).to_have_count(30)
    expect(page.get_by_text("Parcel SP0009 was paid twice").filter(visible=True)).to_have_count(1)
    expect(page.get_by_text("October 2026")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    assert download.value.suggested_filename == f"{station.slug}-earnings.csv"
    shoot("earnings")
