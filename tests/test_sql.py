"""config/sql.py reads and writes what the ORM would: the same values, types and relations."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_scopes import ScopeError, scope

from config import sql
from parcels.models import HandBack, Parcel, ParcelEvent
from partners.models import WebhookEndpoint
from stations.models import LedgerLine
from stations.tenancy import network_scope, partner_scope, station_scope

pytestmark = pytest.mark.django_db


def field_values(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


def test_select_gives_the_orms_instances_with_their_relations(station, on_shelf):
    parcel = on_shelf(station)
    with network_scope():
        expected = Parcel.objects.select_related("partner", "station").get(pk=parcel.pk)
    with station_scope(station.pk):  # Parcel is scoped: hand-written reads are too
        [found] = sql.select(
            Parcel, "t0.id = %s", [parcel.pk], related=("partner", "station", "hand_back")
        )
    assert field_values(found) == field_values(expected)
    assert isinstance(found.checked_in_at, dt.datetime)
    assert timezone.is_aware(found.checked_in_at)
    with CaptureQueriesContext(connection) as ctx:
        assert field_values(found.partner) == field_values(expected.partner)
        assert field_values(found.station) == field_values(expected.station)
        assert found.hand_back is None  # a LEFT JOIN on a NULL key
    assert len(ctx.captured_queries) == 0
    assert found._state.adding is False
    assert found._state.db == "default"


def test_select_converts_json_and_orders_and_limits(partner):
    for n in range(3):
        WebhookEndpoint.objects.create(
            partner=partner, url=f"https://hooks.example/{n}", events=["parcel.picked_up", n]
        )
    found = sql.select(
        WebhookEndpoint,
        "t0.partner_id = %s AND t0.active = %s",
        [partner.pk, True],
        order_by="t0.id DESC",
        limit=2,
    )
    assert [e.url for e in found] == ["https://hooks.example/2", "https://hooks.example/1"]
    assert found[0].events == ["parcel.picked_up", 2]
    assert sql.select(WebhookEndpoint, "t0.partner_id = %s", [partner.pk + 1000]) == []


def test_insert_stores_what_bulk_create_would_and_sets_the_keys(station, on_shelf, monkeypatch):
    parcel = on_shelf(station)
    now = timezone.now()
    # Five rows in batches of two, as on a database with a low parameter limit.
    monkeypatch.setattr(connection.ops, "bulk_batch_size", lambda fields, objs: 2)
    events = [
        ParcelEvent(
            parcel=parcel,
            kind="parcel.note",
            occurred_at=now,
            station_id=station.pk,
            detail={"n": n, "text": "ü"},
        )
        for n in range(5)
    ]
    with station_scope(station.pk):
        sql.insert(events)
    assert all(e.pk and not e._state.adding for e in events)
    with network_scope():
        stored = {e.pk: e for e in ParcelEvent.objects.filter(pk__in=[e.pk for e in events])}
    assert [stored[e.pk].detail for e in events] == [{"n": n, "text": "ü"} for n in range(5)]
    assert {stored[e.pk].occurred_at for e in events} == {now}
    assert {stored[e.pk].created_at is not None for e in events} == {True}


def test_insert_refuses_an_unsaved_related_object_as_bulk_create_does(station, on_shelf):
    unsaved = Parcel(station=station, tracking_number="NOT-SAVED")
    with pytest.raises(ValueError, match="unsaved related object"):
        sql.insert([ParcelEvent(parcel=unsaved, kind="parcel.note", occurred_at=timezone.now())])


def test_update_counts_the_rows_it_changed_and_takes_instances(station, on_shelf, clerk):
    first, second = on_shelf(station), on_shelf(station)
    with network_scope():
        hand_back = HandBack.objects.create(
            station=station, partner=first.partner, clerk=clerk, courier_name="Courier"
        )
    with station_scope(station.pk):
        changed = sql.update(
            Parcel,
            {"hand_back": hand_back, "return_reason": Parcel.ReturnReason.RECALLED},
            "id IN (%s, %s) AND tracking_number = %s",
            [first.pk, second.pk, first.tracking_number],
        )
    assert changed == 1
    with network_scope():
        assert Parcel.objects.get(pk=first.pk).hand_back_id == hand_back.pk
        assert Parcel.objects.get(pk=second.pk).hand_back_id is None


# --- scopes: a hand-written statement on a scoped model is held to its scope as the ORM is ---


def test_an_unscoped_hand_written_read_of_a_parcel_raises_as_the_orm_does(station, on_shelf):
    parcel = on_shelf(station)
    with pytest.raises(ScopeError) as orm:
        Parcel.objects.filter(pk=parcel.pk).first()
    with pytest.raises(ScopeError) as hand_written:
        sql.first(Parcel, "t0.id = %s", [parcel.pk])
    assert str(hand_written.value).startswith("A scope on dimension(s) ")
    assert sorted(str(hand_written.value)) == sorted(str(orm.value))  # the same dimensions
    with pytest.raises(ScopeError), scope(station=station.pk):  # the partner dimension missing
        sql.select(Parcel, "t0.id = %s", [parcel.pk])


def test_a_hand_written_read_finds_only_the_scopes_rows(station, other_station, on_shelf):
    mine, theirs = on_shelf(station), on_shelf(other_station)
    both = [mine.pk, theirs.pk]
    with station_scope(station.pk):
        # The WHERE forgot the station: the scope adds it.
        found = sql.select(Parcel, "t0.id IN (%s, %s)", both, order_by="t0.id")
        orm = list(Parcel.objects.filter(pk__in=both).order_by("pk"))
    assert [p.pk for p in found] == [p.pk for p in orm] == [mine.pk]
    with partner_scope(mine.partner_id + 1000):
        assert sql.select(Parcel, "t0.id IN (%s, %s)", both) == []
    with network_scope():  # scopes disabled: every tenant, as the ORM sees them
        assert len(sql.select(Parcel, "t0.id IN (%s, %s)", both)) == 2


def test_hand_written_writes_name_their_tenant(station, other_station, on_shelf):
    theirs = on_shelf(other_station)
    with pytest.raises(ScopeError):
        sql.update(Parcel, {"return_reason": "recalled"}, "id = %s", [theirs.pk])
    with station_scope(station.pk):
        assert sql.update(Parcel, {"return_reason": "recalled"}, "id = %s", [theirs.pk]) == 0
        with pytest.raises(ScopeError):  # a ledger line for another station's parcel
            sql.insert(
                [
                    LedgerLine(
                        station=other_station,
                        partner=theirs.partner,
                        parcel=theirs,
                        kind=LedgerLine.Kind.HANDOVER,
                        amount=45,
                        currency="SGD",
                        created_at=timezone.now(),
                    )
                ]
            )
    with network_scope():
        assert Parcel.objects.get(pk=theirs.pk).return_reason == ""
        assert not LedgerLine.objects.filter(parcel=theirs).exists()
    with pytest.raises(ScopeError):  # and no scope at all
        sql.insert([ParcelEvent(parcel=theirs, kind="parcel.note", occurred_at=timezone.now())])


def test_a_read_through_a_relation_keeps_to_the_scope_of_the_related_row(
    station, other_station, on_shelf
):
    # ParcelEvent is scoped through its parcel (parcel__station, parcel__partner).
    mine, theirs = on_shelf(station), on_shelf(other_station)
    with network_scope():
        ids = [e.pk for e in ParcelEvent.objects.filter(parcel__in=[mine, theirs])]
    where = f"t0.id IN ({sql.placeholders(len(ids))})"
    with pytest.raises(ScopeError):
        sql.select(ParcelEvent, where, ids)
    with station_scope(station.pk):
        found = sql.select(ParcelEvent, where, ids)
        assert {e.parcel_id for e in found} == {mine.pk}
        assert sorted(e.pk for e in found) == sorted(
            e.pk for e in ParcelEvent.objects.filter(pk__in=ids)
        )
    with partner_scope(theirs.partner_id + 1000):
        assert sql.select(ParcelEvent, where, ids) == []


def test_values_reads_plain_columns_of_the_scopes_rows(station, other_station, on_shelf):
    mine, theirs = on_shelf(station), on_shelf(other_station)
    both = [mine.pk, theirs.pk]
    with pytest.raises(ScopeError):
        sql.values(Parcel, ["t0.id"], "t0.id IN (%s, %s)", both)
    with station_scope(station.pk):
        rows = sql.values(
            Parcel,
            ["t0.id", "t0.shelf_slot", "t1.name"],
            "t0.id IN (%s, %s)",
            both,
            related=("partner",),
        )
    assert rows == [(mine.pk, mine.shelf_slot, mine.partner.name)]


@pytest.mark.django_db(transaction=True)
def test_a_locked_read_holds_the_rows_until_the_transaction_ends(station, on_shelf):
    parcel = on_shelf(station)
    outcome: list[str] = []

    def try_to_lock() -> None:
        try:
            with network_scope(), transaction.atomic():
                Parcel.objects.select_for_update(nowait=True).get(pk=parcel.pk)
            outcome.append("locked")
        except DatabaseError:
            outcome.append("refused")
        finally:
            connection.close()  # this thread's own

    with station_scope(station.pk), transaction.atomic():
        [found] = sql.select(Parcel, "t0.id = %s", [parcel.pk], lock="update")
        assert found.pk == parcel.pk
        thread = threading.Thread(target=try_to_lock)
        thread.start()
        thread.join()
    thread = threading.Thread(target=try_to_lock)
    thread.start()
    thread.join()
    assert outcome == ["refused", "locked"]


def test_datetime_parameters_reach_sqlite_as_its_stored_text():
    """SQLite compares datetimes as text, stored naive in UTC: an aware parameter sent as it is
    ("…+00:00") would miss the rows at that very moment (the check-in list's own first row)."""
    from django.db.backends.sqlite3.base import DatabaseWrapper

    lite = DatabaseWrapper({**connection.settings_dict, "NAME": ":memory:"})
    moment = dt.datetime(2026, 12, 2, 8, 43, 50, 123456, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert sql._adapted([moment, 5, "x", dt.date(2026, 12, 2)], lite) == [
        "2026-12-02 00:43:50.123456",
        5,
        "x",
        dt.date(2026, 12, 2),
    ]
    assert sql._adapted([moment], connection) == [moment]  # PostgreSQL takes it as it is
