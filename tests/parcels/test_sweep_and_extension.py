"""The overdue sweep and the buyer's one extension."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from parcels import services
from parcels.exceptions import ParcelError, WrongStatus
from parcels.models import Notice, Parcel, ParcelEvent
from stations.tenancy import network_scope, station_scope
from tests.conftest import bulk_shelve, make_station, race


def shelve(station, partner, n: int, *, deadline: dt.datetime, start: int = 0) -> None:
    bulk_shelve(station, partner, n, deadline=deadline, start=start)


@pytest.mark.django_db
def test_sweep_moves_only_overdue_parcels_in_batches_with_bounded_queries(partner):
    now = timezone.now()
    station = make_station("Busy", capacity=5000)
    shelve(station, partner, 2500, deadline=now - dt.timedelta(hours=1))
    shelve(station, partner, 500, deadline=now + dt.timedelta(days=1), start=2500)
    with network_scope(), CaptureQueriesContext(connection) as ctx:
        moved = services.parcels_sweep_overdue(now=now, batch_size=1000)
    assert moved == 2500
    # Per batch of 1,000: select ids, lock, update, insert events, insert notices (+ savepoints).
    assert len(ctx.captured_queries) <= 3 * 8, len(ctx.captured_queries)
    with network_scope():
        statuses = dict(Parcel.objects.values_list("status").annotate(n=Count("pk")))
        assert statuses == {"return_due": 2500, "at_station": 500}
        assert ParcelEvent.objects.filter(kind="parcel.return_due").count() == 2500
        assert Notice.objects.filter(kind="returned").count() == 2500
        assert set(
            Parcel.objects.filter(status="return_due").values_list("return_reason", flat=True)
        ) == {"overdue"}
        # Running it again changes nothing.
        assert services.parcels_sweep_overdue(now=now) == 0
        assert ParcelEvent.objects.filter(kind="parcel.return_due").count() == 2500


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_move_each_parcel_once(partner):
    now = timezone.now()
    station = make_station("Busy", capacity=5000)
    shelve(station, partner, 3000, deadline=now - dt.timedelta(hours=1))

    def sweep() -> int:
        with network_scope():
            return services.parcels_sweep_overdue(now=now, batch_size=500)

    results = race(2, sweep).results
    assert sum(results) == 3000
    with network_scope():
        assert ParcelEvent.objects.filter(kind="parcel.return_due").count() == 3000
        assert Notice.objects.filter(kind="returned").count() == 3000


@pytest.mark.django_db
def test_extension_once_by_the_partners_days_before_the_deadline(station, on_shelf, partner):
    parcel = on_shelf(station)
    old = parcel.hold_deadline
    with network_scope():
        extended = services.parcel_extend_hold(parcel=parcel)
        assert extended.hold_deadline - old == dt.timedelta(days=partner.extension_days)
        assert extended.hold_extended
        assert ParcelEvent.objects.filter(parcel=parcel, kind="parcel.hold_extended").count() == 1
        with pytest.raises(ParcelError) as exc:
            services.parcel_extend_hold(parcel=parcel)
        assert exc.value.code == "already_extended"
        assert Parcel.objects.get(pk=parcel.pk).hold_deadline == extended.hold_deadline


@pytest.mark.django_db
def test_no_extension_after_the_deadline_or_off_the_shelf(station, on_shelf, clerk):
    late = on_shelf(station)
    with network_scope():
        Parcel.objects.filter(pk=late.pk).update(
            hold_deadline=timezone.now() - dt.timedelta(minutes=1)
        )
        with pytest.raises(ParcelError) as exc:
            services.parcel_extend_hold(parcel=late)
        assert exc.value.code == "deadline_passed"
    gone = on_shelf(station)
    with station_scope(station.pk):
        services.parcel_hand_over(station=station, credential=gone.pickup_code, actor=clerk)
    with network_scope(), pytest.raises(WrongStatus):
        services.parcel_extend_hold(parcel=gone)
