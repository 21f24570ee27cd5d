"""Races on PostgreSQL with real threads: whatever the timing, exactly one winner."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable

import pytest

from parcels import services
from parcels.exceptions import DomainError
from parcels.models import Handover, Parcel, ParcelEvent
from stations.models import LedgerLine
from stations.tenancy import network_scope, station_scope
from tests.conftest import make_station, race

pytestmark = pytest.mark.django_db(transaction=True)


def alternating(*actions: Callable[[], object]) -> Callable[[], object]:
    """One action per call, taking turns: thread 1 runs the first, thread 2 the second, …"""
    turns = itertools.cycle(actions)
    lock = threading.Lock()

    def next_action() -> object:
        with lock:
            action = next(turns)
        return action()

    return next_action


def kinds(parcel: Parcel) -> list[str]:
    with network_scope():
        return list(ParcelEvent.objects.filter(parcel=parcel).values_list("kind", flat=True))


def test_eight_clerks_hand_over_the_same_parcel(station, on_shelf, clerk):
    parcel = on_shelf(station)
    results, errors = race(
        8,
        lambda: services.parcel_hand_over(
            station=station, credential=parcel.pickup_code, actor=clerk
        ),
        catch=DomainError,
        station_id=station.pk,
    )
    assert len(results) == 1
    assert len(errors) == 7
    assert {e.code for e in errors} == {"wrong_status"}
    with network_scope():
        assert Handover.objects.filter(parcel=parcel).count() == 1
        assert LedgerLine.objects.filter(parcel=parcel).count() == 1
    assert kinds(parcel).count("parcel.picked_up") == 1


def test_two_clerks_check_in_the_same_parcel(station, announce, clerk):
    parcel = announce(station)
    results, errors = race(
        4,
        lambda: services.parcel_check_in(
            station=station, tracking_number=parcel.tracking_number, actor=clerk
        ),
        catch=DomainError,
        station_id=station.pk,
    )
    assert len(results) == 1
    assert len(errors) == 3
    assert kinds(parcel).count("parcel.checked_in") == 1


def test_concurrent_check_ins_never_share_slot_or_code(announce, clerk):
    station = make_station("Busy", capacity=6)
    parcels = [announce(station) for _ in range(8)]
    numbers = iter(p.tracking_number for p in parcels)
    lock = threading.Lock()

    def next_check_in():
        with lock:
            number = next(numbers)
        return services.parcel_check_in(station=station, tracking_number=number, actor=clerk)

    results, errors = race(8, next_check_in, catch=DomainError, station_id=station.pk)
    assert len(results) == 6  # capacity
    assert {e.code for e in errors} == {"station_full"}
    assert len({p.shelf_slot for p in results}) == 6
    assert len({p.pickup_code for p in results}) == 6


def test_hand_over_and_recall_at_once_one_wins(station, on_shelf, clerk, partner):
    parcel = on_shelf(station)
    results, errors = race(
        6,
        alternating(
            lambda: services.parcel_hand_over(
                station=station, credential=parcel.pickup_code, actor=clerk
            ),
            lambda: services.parcel_mark_return_due(
                parcel=parcel, reason="recalled", actor=partner
            ),
        ),
        catch=DomainError,
        station_id=station.pk,
    )
    assert len(results) == 1
    assert len(errors) == 5
    with network_scope():
        final = Parcel.objects.get(pk=parcel.pk)
        paid = LedgerLine.objects.filter(parcel=parcel).count()
    assert final.status in ("picked_up", "return_due")
    assert paid == (1 if final.status == "picked_up" else 0)


def test_partner_confirmation_races_the_hand_over_and_the_fee_is_paid_once(station, partner, clerk):
    # Parcels taken in unannounced earn nothing until the partner announces them. The check-out
    # page has found each one (no lock) when the partner's confirmation and the clerk's
    # confirmation arrive together: whichever wins, exactly one handover line is paid.
    for n in range(6):
        tracking = f"RACECONFIRM{n}"
        with station_scope(station.pk):
            parcel = services.parcel_check_in(
                station=station,
                tracking_number=tracking,
                actor=clerk,
                partner=partner,
                recipient_name="Nobody Real",
                recipient_phone="+6581112222",
            )
            found = services.selectors.parcel_by_token(station=station, token=parcel.pickup_token)
        results, errors = race(
            2,
            alternating(
                lambda found=found: services.parcel_hand_over(
                    station=station, credential=found.pickup_token, actor=clerk, found=found
                ),
                lambda tracking=tracking: services.parcel_announce(
                    partner=partner,
                    station=station,
                    tracking_number=tracking,
                    recipient_name="Nobody Real",
                    recipient_phone="+6581112222",
                    actor=partner,
                ),
            ),
            catch=DomainError,
            station_id=station.pk,
        )
        assert len(results) == 2
        assert not errors
        with network_scope():
            lines = list(LedgerLine.objects.filter(parcel=parcel).values_list("kind", "amount"))
            assert Parcel.objects.get(pk=parcel.pk).status == "picked_up"
        assert lines == [("handover", 45)], (n, lines)


def test_two_couriers_hand_back_the_same_parcels(station, on_shelf, clerk):
    parcels = [on_shelf(station) for _ in range(3)]
    with station_scope(station.pk):
        for p in parcels:
            services.parcel_mark_return_due(parcel=p, reason="overdue", actor=None)
    ids = [p.pk for p in parcels]
    results, errors = race(
        4,
        lambda: services.parcels_hand_back(
            station=station, parcel_ids=ids, courier_name="Ahmad", actor=clerk
        ),
        catch=DomainError,
        station_id=station.pk,
    )
    assert len(results) == 1
    assert len(errors) == 3
    with network_scope():
        assert LedgerLine.objects.filter(parcel_id__in=ids).count() == 3


def test_cancel_races_check_in(station, announce, clerk, partner):
    parcel = announce(station)
    results, errors = race(
        4,
        alternating(
            lambda: services.parcel_check_in(
                station=station, tracking_number=parcel.tracking_number, actor=clerk
            ),
            lambda: services.parcel_cancel(parcel=parcel, actor=partner),
        ),
        catch=DomainError,
        station_id=station.pk,
    )
    assert len(results) == 1
    assert len(errors) == 3
    moves = [k for k in kinds(parcel) if k != "parcel.announced"]
    assert len(moves) == 1
