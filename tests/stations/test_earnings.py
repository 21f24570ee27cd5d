"""Earnings: paid per handover at the tariff of the day, visible per line, settled monthly."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from parcels import services
from partners.models import Tariff
from stations import earnings
from stations.models import LedgerLine, Statement
from stations.tenancy import network_scope, station_scope

pytestmark = pytest.mark.django_db
SGT = zoneinfo.ZoneInfo("Asia/Singapore")


def hand_over(station, parcel, clerk):
    with station_scope(station.pk):
        services.parcel_hand_over(station=station, credential=parcel.pickup_code, actor=clerk)


def test_a_tariff_change_mid_month_pays_each_handover_at_its_own_tariff(
    station, partner, on_shelf, clerk, monkeypatch
):
    before, after = on_shelf(station), on_shelf(station)
    hand_over(station, before, clerk)  # today: the 45-cent tariff
    Tariff.objects.create(
        partner=partner,
        handover_fee=60,
        return_fee=30,
        currency="SGD",
        valid_from=timezone.localdate() + dt.timedelta(days=1),
    )
    tomorrow = timezone.now() + dt.timedelta(days=1)
    monkeypatch.setattr("django.utils.timezone.now", lambda: tomorrow)
    hand_over(station, after, clerk)
    with network_scope():
        amounts = dict(LedgerLine.objects.values_list("parcel_id", "amount"))
    assert amounts == {before.pk: 45, after.pk: 60}
    assert Tariff.objects.filter(partner=partner).count() == 2  # the old tariff is untouched


def put_lines(station, partner, month_day: dt.datetime, *amounts, kind="handover"):
    with network_scope():
        for amount in amounts:
            LedgerLine.objects.create(
                station=station,
                partner=partner,
                kind=kind,
                amount=amount,
                currency="SGD",
                created_at=month_day,
                reason="test" if kind == "adjustment" else "",
            )


def test_closing_a_month_twice_gives_one_statement_with_the_sum_of_its_lines(
    station, other_station, partner, django_capture_on_commit_callbacks, run_tasks, owner
):
    october = dt.datetime(2026, 10, 15, 12, tzinfo=SGT)
    put_lines(station, partner, october, 45, 45, 60)
    put_lines(station, partner, october, 20, kind="return")
    put_lines(station, partner, october, -5, kind="adjustment")
    # Local month edges: 1 Nov 01:00 in Singapore is October in UTC, but November here.
    put_lines(station, partner, dt.datetime(2026, 11, 1, 1, tzinfo=SGT), 999)
    put_lines(station, partner, dt.datetime(2026, 10, 1, 0, 30, tzinfo=SGT), 7)
    put_lines(other_station, partner, october, 45)
    with network_scope(), django_capture_on_commit_callbacks(execute=True):
        assert earnings.statements_close_month(month=dt.date(2026, 10, 1)) == 2
        assert earnings.statements_close_month(month=dt.date(2026, 10, 1)) == 0
        st = Statement.objects.get(station=station)
    assert (st.handovers, st.handover_total, st.returns, st.return_total) == (4, 157, 1, 20)
    assert (st.adjustment_total, st.total) == (-5, 172)
    with network_scope():
        start, end = earnings.month_bounds(dt.date(2026, 10, 1), SGT)
        line_sum = sum(
            LedgerLine.objects.filter(
                station=station, created_at__gte=start, created_at__lt=end
            ).values_list("amount", flat=True)
        )
    assert st.total == line_sum
    mine = next(m for m in mail.outbox if m.to == [owner.email])
    assert len(mail.outbox) == 2  # one per statement, each to its station's owners
    assert "October 2026" in mine.subject
    assert "SGD 1.72" in mine.body


def test_the_beat_task_closes_last_month_from_the_second(monkeypatch):
    assert earnings.month_to_close(dt.datetime(2026, 12, 1, 23, tzinfo=dt.UTC)) is None
    assert earnings.month_to_close(dt.datetime(2026, 12, 2, 0, tzinfo=dt.UTC)) == dt.date(
        2026, 11, 1
    )
    assert earnings.month_to_close(dt.datetime(2027, 1, 5, tzinfo=dt.UTC)) == dt.date(2026, 12, 1)


def test_earnings_page_shows_totals_partners_lines_and_statements(
    login, station, owner, partner, on_shelf, clerk
):
    parcel = on_shelf(station)
    hand_over(station, parcel, clerk)
    Statement.objects.create(
        station=station,
        month=dt.date(2026, 10, 1),
        currency="SGD",
        handovers=3,
        total=135,
        paid_at=timezone.now(),
        payout_reference="TRX-1",
    )
    page = login(owner).get(reverse("stations:earnings", args=[station.slug])).text
    assert "SGD 0.45" in page
    assert "SwiftPost" in page
    assert parcel.tracking_number in page
    assert "October 2026" in page
    assert "Paid" in page
    assert '<rect x="' in page
    assert "<title>" in page


def test_csv_export_lists_every_line(login, station, owner, partner, on_shelf, clerk):
    parcels = [on_shelf(station) for _ in range(3)]
    for p in parcels:
        hand_over(station, p, clerk)
    put_lines(station, partner, timezone.now(), -10, kind="adjustment")
    response = login(owner).get(reverse("stations:earnings_csv", args=[station.slug]))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["time", "kind", "partner", "tracking_number", "amount", "currency", "reason"]
    assert sorted(r[1] for r in rows[1:]) == ["adjustment", "handover", "handover", "handover"]
    assert {r[3] for r in rows[1:] if r[1] == "handover"} == {p.tracking_number for p in parcels}
    assert "-0.10" in [r[4] for r in rows[1:]]


def test_earnings_page_query_count_does_not_grow_with_lines(login, owner, partner):
    from tests.conftest import make_station

    counts = []
    for n in (10, 1000):
        station = make_station(f"Earner {n}")
        station.memberships.create(user=owner, role="owner")
        with network_scope():
            LedgerLine.objects.bulk_create(
                LedgerLine(
                    station=station,
                    partner=partner,
                    kind="adjustment",
                    amount=5,
                    currency="SGD",
                    reason="bulk",
                    created_at=timezone.now() - dt.timedelta(hours=i),
                )
                for i in range(n)
            )
        client = login(owner)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("stations:earnings", args=[station.slug])).status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts
    assert counts[1] <= 12, counts


def test_admin_adds_a_correction_and_marks_a_statement_paid(
    client, admin_user, station, partner, login, owner
):
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:stations_ledgerline_add"),
        {
            "station": station.pk,
            "partner": partner.pk,
            "amount": "-25",
            "currency": "SGD",
            "reason": "Double-counted handover on 3 Nov",
            "tracking_number": "",
        },
    )
    assert response.status_code == 302
    with network_scope():
        line = LedgerLine.objects.get()
    assert (line.kind, line.amount, line.created_by) == ("adjustment", -25, admin_user)
    empty = client.post(
        reverse("admin:stations_ledgerline_add"),
        {
            "station": station.pk,
            "partner": partner.pk,
            "amount": "10",
            "currency": "SGD",
            "reason": "",
        },
    )
    assert empty.status_code == 200
    assert "This field is required" in empty.text
    st = Statement.objects.create(
        station=station, month=dt.date(2026, 10, 1), currency="SGD", total=100
    )
    changelist = reverse("admin:stations_statement_changelist")
    client.post(
        changelist,
        {
            "action": "mark_paid",
            "_selected_action": [st.pk],
            "payout_confirmed": "1",
            "payout_reference": "DBS-2026-11-02-0042",
        },
    )
    st.refresh_from_db()
    assert st.is_paid
    assert st.payout_reference == "DBS-2026-11-02-0042"
    page = login(owner).get(reverse("stations:statement", args=[station.slug, st.pk])).text
    assert "DBS-2026-11-02-0042" in page


def test_closing_a_month_queries_per_time_zone_not_per_station(partner):
    from tests.conftest import make_station

    october = dt.datetime(2026, 10, 15, 12, tzinfo=SGT)
    for i in range(6):
        put_lines(make_station(f"Many {i}"), partner, october, 45)
    with network_scope(), CaptureQueriesContext(connection) as ctx:
        assert earnings.statements_close_month(month=dt.date(2026, 10, 1)) == 6
    assert len(ctx.captured_queries) <= 8, len(ctx.captured_queries)


def test_a_statement_mail_that_fails_is_sent_by_the_retry(station, owner, partner, monkeypatch):
    import smtplib

    from stations import tasks

    Statement.objects.create(station=station, month=dt.date(2026, 10, 1), currency="SGD", total=45)
    real_send = tasks._send

    def failing(*args, **kwargs):
        raise smtplib.SMTPServerDisconnected("gone")

    monkeypatch.setattr(tasks, "_send", failing)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        tasks.send_statements.run("2026-10-01")
    monkeypatch.setattr(tasks, "_send", real_send)
    assert tasks.send_statements.run("2026-10-01") == 1
    assert [m.to for m in mail.outbox] == [[owner.email]]
