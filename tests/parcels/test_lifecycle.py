"""Every transition: it works, it is refused from a wrong state, a repeat is harmless."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_scopes import ScopeError

from parcels import services
from parcels.exceptions import (
    InvalidInput,
    ParcelError,
    ParcelNotFound,
    StationUnavailable,
    WrongStatus,
)
from parcels.models import HandBack, Handover, Parcel, ParcelEvent
from partners.models import Tariff
from stations.models import LedgerLine, Station
from stations.tenancy import network_scope, partner_scope, station_scope
from tests.conftest import make_station

pytestmark = pytest.mark.django_db


def events(parcel: Parcel) -> list[str]:
    with network_scope():
        return list(ParcelEvent.objects.filter(parcel=parcel).values_list("kind", flat=True))


def reload(parcel: Parcel) -> Parcel:
    with network_scope():
        return Parcel.objects.get(pk=parcel.pk)


# --- announce -----------------------------------------------------------------------------------


def test_announce_creates_parcel_with_event(station, partner):
    with partner_scope(partner.pk):
        parcel, created = services.parcel_announce(
            partner=partner,
            station=station,
            tracking_number=" sg 123 ",
            recipient_name="Tan Mei Ling",
            recipient_phone="9123 4567",
            actor=partner,
        )
    assert created
    assert parcel.tracking_number == "SG123"
    assert parcel.status == Parcel.Status.ANNOUNCED
    assert str(parcel.recipient_phone) == "+6591234567"  # local numbers become E.164
    assert events(parcel) == ["parcel.announced"]


def test_announce_repeat_returns_existing_parcel(station, partner, announce):
    parcel = announce(station, tracking_number="SG1")
    with partner_scope(partner.pk):
        again, created = services.parcel_announce(
            partner=partner,
            station=station,
            tracking_number="sg1",
            recipient_name="Someone Else",
            recipient_phone="+6581111111",
        )
    assert not created
    assert again.pk == parcel.pk
    assert reload(parcel).recipient_name == "Tan Mei Ling"
    assert events(parcel) == ["parcel.announced"]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"recipient_phone": "12"}, "invalid_phone"),
        ({"recipient_name": "  "}, "invalid"),
        ({"tracking_number": "   "}, "invalid"),
    ],
)
def test_announce_bad_input_changes_nothing(station, partner, fields, code):
    args = {"tracking_number": "SG9", "recipient_name": "A B", "recipient_phone": "+6591234567"}
    with partner_scope(partner.pk), pytest.raises(InvalidInput) as exc:
        services.parcel_announce(partner=partner, station=station, **(args | fields))
    assert exc.value.code == code
    with network_scope():
        assert not Parcel.objects.exists()


def test_announce_to_inactive_station_refused(partner):
    station = make_station("Closed Shop", status=Station.Status.SUSPENDED)
    with partner_scope(partner.pk), pytest.raises(StationUnavailable) as exc:
        services.parcel_announce(
            partner=partner,
            station=station,
            tracking_number="SG9",
            recipient_name="A B",
            recipient_phone="+6591234567",
        )
    assert exc.value.code == "station_inactive"


# --- check in -----------------------------------------------------------------------------------


def test_check_in_announced_parcel(station, partner, announce, clerk):
    parcel = announce(station)
    before = timezone.now()
    with station_scope(station.pk):
        parcel = services.parcel_check_in(
            station=station, tracking_number=parcel.tracking_number.lower(), actor=clerk
        )
    assert parcel.status == Parcel.Status.AT_STATION
    assert parcel.shelf_slot == 1
    assert parcel.shelf_label == "A-01"
    assert len(parcel.pickup_token) >= 22  # >= 128 bits, URL-safe base64
    assert parcel.pickup_code.isdigit()
    assert len(parcel.pickup_code) == 6
    assert parcel.checked_in_at >= before
    # Deadline: end of the station's local day, the partner's hold days later.
    local = parcel.hold_deadline.astimezone(station.tzinfo)
    assert local.date() == before.astimezone(station.tzinfo).date() + dt.timedelta(days=7)
    assert (local.hour, local.minute) == (23, 59)
    assert events(parcel) == ["parcel.announced", "parcel.checked_in"]


def test_check_in_takes_lowest_free_slot(station, on_shelf, clerk):
    first, second, third = (on_shelf(station) for _ in range(3))
    assert [first.shelf_label, second.shelf_label, third.shelf_label] == ["A-01", "A-02", "A-03"]
    with station_scope(station.pk):
        services.parcel_hand_over(station=station, credential=second.pickup_code, actor=clerk)
    assert on_shelf(station).shelf_label == "A-02"


def test_check_in_unannounced_needs_partner_then_creates(station, partner, clerk):
    with station_scope(station.pk), pytest.raises(ParcelNotFound) as exc:
        services.parcel_check_in(station=station, tracking_number="NEW1", actor=clerk)
    assert exc.value.code == "not_announced"
    with station_scope(station.pk):
        parcel = services.parcel_check_in(
            station=station,
            tracking_number="NEW1",
            actor=clerk,
            partner=partner,
            recipient_name="Walk In",
            recipient_phone="+6581234567",
        )
    assert parcel.status == Parcel.Status.AT_STATION
    assert parcel.announced_at is None
    assert events(parcel) == ["parcel.checked_in"]


def test_check_in_unannounced_with_bad_phone_leaves_no_row(station, partner, clerk):
    with station_scope(station.pk), pytest.raises(InvalidInput) as exc:
        services.parcel_check_in(
            station=station,
            tracking_number="NEW2",
            actor=clerk,
            partner=partner,
            recipient_name="Walk In",
            recipient_phone="not a phone",
        )
    assert exc.value.code == "invalid_phone"
    with network_scope():
        assert not Parcel.objects.exists()


def test_check_in_parcel_announced_elsewhere(station, other_station, partner, announce, clerk):
    announce(other_station, tracking_number="ELSE1")
    with station_scope(station.pk), pytest.raises(ParcelError) as exc:
        services.parcel_check_in(
            station=station,
            tracking_number="ELSE1",
            actor=clerk,
            partner=partner,
            recipient_name="X Y",
            recipient_phone="+6581234567",
        )
    assert exc.value.code == "announced_elsewhere"


def test_check_in_twice_is_refused_and_harmless(station, on_shelf, clerk):
    parcel = on_shelf(station)
    with station_scope(station.pk), pytest.raises(WrongStatus) as exc:
        services.parcel_check_in(
            station=station, tracking_number=parcel.tracking_number, actor=clerk
        )
    assert exc.value.code == "wrong_status"
    assert "already on the shelf, in slot A-01" in str(exc.value)
    after = reload(parcel)
    assert (after.shelf_slot, after.pickup_code, after.pickup_token) == (
        parcel.shelf_slot,
        parcel.pickup_code,
        parcel.pickup_token,
    )
    assert events(parcel).count("parcel.checked_in") == 1


def test_check_in_refused_when_station_full(partner, announce, on_shelf, clerk):
    station = make_station("Tiny", capacity=2)
    on_shelf(station)
    on_shelf(station)
    parcel = announce(station)
    with station_scope(station.pk), pytest.raises(StationUnavailable) as exc:
        services.parcel_check_in(
            station=station, tracking_number=parcel.tracking_number, actor=clerk
        )
    assert exc.value.code == "station_full"
    assert "2 of 2" in str(exc.value)
    assert reload(parcel).status == Parcel.Status.ANNOUNCED


def test_parcels_due_back_still_take_shelf_space(partner, on_shelf, announce, clerk):
    station = make_station("Tiny", capacity=1)
    parcel = on_shelf(station)
    with station_scope(station.pk):
        services.parcel_mark_return_due(parcel=parcel, reason="overdue", actor=None)
    waiting = announce(station)
    with station_scope(station.pk), pytest.raises(StationUnavailable):
        services.parcel_check_in(
            station=station, tracking_number=waiting.tracking_number, actor=clerk
        )


def test_check_in_refused_when_station_inactive(station, announce, clerk):
    parcel = announce(station)
    Station.objects.filter(pk=station.pk).update(status=Station.Status.SUSPENDED)
    with station_scope(station.pk), pytest.raises(StationUnavailable) as exc:
        services.parcel_check_in(
            station=station, tracking_number=parcel.tracking_number, actor=clerk
        )
    assert exc.value.code == "station_inactive"
    assert "suspended" in str(exc.value)
    assert reload(parcel).status == Parcel.Status.ANNOUNCED


def test_check_in_of_cancelled_parcel_refused(station, announce, partner, clerk):
    parcel = announce(station)
    with partner_scope(partner.pk):
        services.parcel_cancel(parcel=parcel, actor=partner)
    with station_scope(station.pk), pytest.raises(WrongStatus) as exc:
        services.parcel_check_in(
            station=station, tracking_number=parcel.tracking_number, actor=clerk
        )
    assert "cancelled" in str(exc.value)


# --- hand over ----------------------------------------------------------------------------------


@pytest.mark.parametrize("by", ["code", "token", "link"])
def test_hand_over_by_code_token_or_scanned_link(station, on_shelf, clerk, by):
    parcel = on_shelf(station)
    credential = {
        "code": parcel.pickup_code,
        "token": parcel.pickup_token,
        "link": f"https://stationkeeper.example/p/{parcel.pickup_token}/",
    }[by]
    with station_scope(station.pk):
        done = services.parcel_hand_over(station=station, credential=credential, actor=clerk)
        handover = Handover.objects.get(parcel=parcel)
        [line] = LedgerLine.objects.filter(parcel=parcel)
    assert done.status == Parcel.Status.PICKED_UP
    assert done.picked_up_at is not None
    assert handover.clerk == clerk
    assert handover.method == ("code" if by == "code" else "token")
    assert (line.kind, line.amount, line.currency) == ("handover", 45, "SGD")
    assert events(parcel)[-1] == "parcel.picked_up"


def test_hand_over_pays_tariff_in_force_today(station, partner, on_shelf, clerk):
    Tariff.objects.create(
        partner=partner,
        handover_fee=60,
        return_fee=30,
        currency="SGD",
        valid_from=timezone.localdate() - dt.timedelta(days=1),
    )
    Tariff.objects.create(
        partner=partner,
        handover_fee=99,
        return_fee=99,
        currency="SGD",
        valid_from=timezone.localdate() + dt.timedelta(days=5),
    )
    parcel = on_shelf(station)
    with station_scope(station.pk):
        services.parcel_hand_over(station=station, credential=parcel.pickup_code, actor=clerk)
        assert LedgerLine.objects.get(parcel=parcel).amount == 60


def test_hand_over_twice_is_refused_and_harmless(station, on_shelf, clerk):
    parcel = on_shelf(station)
    with station_scope(station.pk):
        services.parcel_hand_over(station=station, credential=parcel.pickup_code, actor=clerk)
        with pytest.raises(WrongStatus) as exc:
            services.parcel_hand_over(station=station, credential=parcel.pickup_code, actor=clerk)
        assert exc.value.code == "wrong_status"
        assert "already picked up" in str(exc.value)
        assert Handover.objects.filter(parcel=parcel).count() == 1
        assert LedgerLine.objects.filter(parcel=parcel).count() == 1


@pytest.mark.parametrize("credential", ["000000", "12345", "abc", "", "https://x.example/p/short/"])
def test_hand_over_unknown_code(station, on_shelf, clerk, credential):
    parcel = on_shelf(station)
    if credential == "000000" and parcel.pickup_code == "000000":
        credential = "000001"
    with station_scope(station.pk), pytest.raises(ParcelNotFound) as exc:
        services.parcel_hand_over(station=station, credential=credential, actor=clerk)
    assert exc.value.code == "unknown_code"
    assert reload(parcel).status == Parcel.Status.AT_STATION


def test_hand_over_code_of_another_station_not_found(station, other_station, on_shelf, clerk):
    elsewhere = on_shelf(other_station)
    with station_scope(station.pk), pytest.raises(ParcelNotFound):
        services.parcel_hand_over(station=station, credential=elsewhere.pickup_code, actor=clerk)
    with station_scope(station.pk), pytest.raises(ParcelNotFound):
        services.parcel_hand_over(station=station, credential=elsewhere.pickup_token, actor=clerk)
    assert reload(elsewhere).status == Parcel.Status.AT_STATION


def test_hand_over_of_announced_parcel_refused(station, announce, clerk):
    parcel = announce(station)
    with station_scope(station.pk), pytest.raises(ParcelNotFound):
        # Not checked in: it has no token or code yet, so nothing can match.
        services.parcel_hand_over(station=station, credential="123456", actor=clerk)
    assert reload(parcel).status == Parcel.Status.ANNOUNCED


def test_refused_at_inspection_goes_back_unpaid(station, on_shelf, clerk):
    parcel = on_shelf(station)
    with station_scope(station.pk):
        done = services.parcel_hand_over(
            station=station,
            credential=parcel.pickup_code,
            actor=clerk,
            refused=True,
            note="box crushed",
        )
        assert not Handover.objects.filter(parcel=parcel).exists()
        assert not LedgerLine.objects.filter(parcel=parcel).exists()
    assert (done.status, done.return_reason) == ("return_due", "refused")
    with network_scope():
        event = ParcelEvent.objects.filter(parcel=parcel).last()
    assert event.kind == "parcel.return_due"
    assert event.detail == {"reason": "refused", "note": "box crushed"}


def test_code_is_reusable_after_parcel_leaves_the_shelf(station, on_shelf, clerk, monkeypatch):
    first = on_shelf(station)
    with station_scope(station.pk):
        services.parcel_hand_over(station=station, credential=first.pickup_code, actor=clerk)
    monkeypatch.setattr("parcels.codes.secrets.randbelow", lambda n: int(first.pickup_code))
    second = on_shelf(station)
    assert second.pickup_code == first.pickup_code
    with station_scope(station.pk):
        done = services.parcel_hand_over(
            station=station, credential=second.pickup_code, actor=clerk
        )
    assert done.pk == second.pk


# --- mark return due, hand back, cancel -------------------------------------------------------


@pytest.mark.parametrize("reason", ["overdue", "refused", "recalled"])
def test_mark_return_due(station, on_shelf, partner, reason):
    parcel = on_shelf(station)
    with partner_scope(partner.pk):
        done = services.parcel_mark_return_due(parcel=parcel, reason=reason, actor=partner)
    assert (done.status, done.return_reason) == ("return_due", reason)
    assert done.return_due_at is not None
    assert events(parcel)[-1] == "parcel.return_due"


def test_mark_return_due_refused_from_wrong_state_and_repeat(station, announce, on_shelf, partner):
    with partner_scope(partner.pk):
        with pytest.raises(WrongStatus):
            services.parcel_mark_return_due(parcel=announce(station), reason="recalled", actor=None)
        parcel = on_shelf(station)
        services.parcel_mark_return_due(parcel=parcel, reason="recalled", actor=None)
        with pytest.raises(WrongStatus):
            services.parcel_mark_return_due(parcel=parcel, reason="recalled", actor=None)
        with pytest.raises(InvalidInput):
            services.parcel_mark_return_due(parcel=on_shelf(station), reason="bored", actor=None)
    assert events(parcel).count("parcel.return_due") == 1


def _due_back(station, on_shelf, n=2, **kwargs):
    parcels = [on_shelf(station, **kwargs) for _ in range(n)]
    with station_scope(station.pk):
        for p in parcels:
            services.parcel_mark_return_due(parcel=p, reason="overdue", actor=None)
    return parcels


def test_hand_back_many(station, on_shelf, clerk):
    parcels = _due_back(station, on_shelf, n=3)
    with station_scope(station.pk):
        hand_back = services.parcels_hand_back(
            station=station, parcel_ids=[p.pk for p in parcels], courier_name=" Ahmad ", actor=clerk
        )
        lines = LedgerLine.objects.filter(parcel__in=parcels)
        assert sorted(lines.values_list("kind", "amount")) == [("return", 20)] * 3
    assert hand_back.courier_name == "Ahmad"
    for p in parcels:
        p = reload(p)
        assert (p.status, p.hand_back_id) == ("returned", hand_back.pk)
        assert events(p)[-1] == "parcel.returned"


def test_hand_back_is_all_or_nothing(station, on_shelf, clerk):
    due = _due_back(station, on_shelf, n=2)
    still_on_shelf = on_shelf(station)
    with station_scope(station.pk), pytest.raises(WrongStatus) as exc:
        services.parcels_hand_back(
            station=station,
            parcel_ids=[*(p.pk for p in due), still_on_shelf.pk],
            courier_name="Ahmad",
            actor=clerk,
        )
    assert still_on_shelf.tracking_number in str(exc.value)
    with network_scope():
        assert not HandBack.objects.exists()
        assert not LedgerLine.objects.exists()
    assert {reload(p).status for p in due} == {"return_due"}


def test_hand_back_refuses_repeat_other_station_mixed_partners_and_no_courier(
    station, other_station, on_shelf, clerk, other_partner
):
    [parcel] = _due_back(station, on_shelf, n=1)
    [foreign] = _due_back(other_station, on_shelf, n=1)
    [other] = _due_back(station, on_shelf, n=1, partner_=other_partner)
    with station_scope(station.pk):
        with pytest.raises(InvalidInput):
            services.parcels_hand_back(
                station=station, parcel_ids=[parcel.pk], courier_name=" ", actor=clerk
            )
        with pytest.raises(InvalidInput) as exc:
            services.parcels_hand_back(
                station=station, parcel_ids=[parcel.pk, other.pk], courier_name="A", actor=clerk
            )
        assert exc.value.code == "mixed_partners"
        with pytest.raises(ParcelNotFound):
            services.parcels_hand_back(
                station=station, parcel_ids=[foreign.pk], courier_name="A", actor=clerk
            )
        services.parcels_hand_back(
            station=station, parcel_ids=[parcel.pk], courier_name="A", actor=clerk
        )
        with pytest.raises(WrongStatus):
            services.parcels_hand_back(
                station=station, parcel_ids=[parcel.pk], courier_name="A", actor=clerk
            )
        assert LedgerLine.objects.filter(parcel=parcel).count() == 1


def test_cancel_announced_only(station, announce, on_shelf, partner):
    parcel = announce(station)
    with partner_scope(partner.pk):
        done = services.parcel_cancel(parcel=parcel, actor=partner)
        assert (done.status, events(parcel)[-1]) == ("cancelled", "parcel.cancelled")
        with pytest.raises(WrongStatus):
            services.parcel_cancel(parcel=parcel, actor=partner)  # a repeat changes nothing
        shelved = on_shelf(station)
        with pytest.raises(WrongStatus) as exc:
            services.parcel_cancel(parcel=shelved, actor=partner)
    assert "cannot be cancelled: it is already on the shelf" in str(exc.value)
    assert events(parcel).count("parcel.cancelled") == 1


# --- tenancy ------------------------------------------------------------------------------------


def test_query_without_scope_raises(station, on_shelf):
    on_shelf(station)
    with pytest.raises(ScopeError):
        list(Parcel.objects.all())
    with pytest.raises(ScopeError):
        LedgerLine.objects.count()


def test_station_scope_sees_only_its_parcels(station, other_station, on_shelf):
    mine = on_shelf(station)
    on_shelf(other_station)
    with station_scope(station.pk):
        assert list(Parcel.objects.values_list("pk", flat=True)) == [mine.pk]
        assert {e.parcel_id for e in ParcelEvent.objects.all()} == {mine.pk}


def test_partner_scope_sees_only_its_parcels(station, partner, other_partner, announce):
    mine = announce(station)
    announce(station, partner_=other_partner)
    with partner_scope(partner.pk):
        assert list(Parcel.objects.values_list("pk", flat=True)) == [mine.pk]


# --- found in review ----------------------------------------------------------------------------


def test_repeat_announce_to_another_station_is_refused(station, other_station, partner, announce):
    announce(station, tracking_number="SG77")
    with partner_scope(partner.pk), pytest.raises(InvalidInput) as exc:
        services.parcel_announce(
            partner=partner,
            station=other_station,
            tracking_number="SG77",
            recipient_name="A B",
            recipient_phone="+6591234567",
        )
    assert exc.value.code == "already_announced"


def test_code_typed_with_a_space_as_the_buyer_page_shows_it(station, on_shelf, clerk):
    parcel = on_shelf(station)
    spaced = f"{parcel.pickup_code[:3]} {parcel.pickup_code[3:]}"
    with station_scope(station.pk):
        done = services.parcel_hand_over(station=station, credential=spaced, actor=clerk)
    assert done.status == Parcel.Status.PICKED_UP


def test_parcel_due_back_cannot_be_handed_over(station, on_shelf, clerk):
    parcel = on_shelf(station)
    with station_scope(station.pk):
        services.parcel_mark_return_due(parcel=parcel, reason="overdue", actor=None)
        with pytest.raises(WrongStatus) as exc:
            services.parcel_hand_over(station=station, credential=parcel.pickup_token, actor=clerk)
        assert not Handover.objects.exists()
    assert "due back to the partner" in str(exc.value)


def test_a_partner_cannot_recall_or_cancel_another_partners_parcel(
    station, on_shelf, announce, other_partner
):
    shelved, announced = on_shelf(station), announce(station)
    with network_scope():  # even where no scope narrows the query
        with pytest.raises(ParcelNotFound):
            services.parcel_mark_return_due(parcel=shelved, reason="recalled", actor=other_partner)
        with pytest.raises(ParcelNotFound):
            services.parcel_cancel(parcel=announced, actor=other_partner)
    assert reload(shelved).status == "at_station"
    assert reload(announced).status == "announced"


def test_finished_parcel_of_another_partner_does_not_make_check_in_ambiguous(
    station, on_shelf, announce, clerk, other_partner
):
    old = on_shelf(station, tracking_number="SAME1")
    with station_scope(station.pk):
        services.parcel_hand_over(station=station, credential=old.pickup_code, actor=clerk)
    new = announce(station, tracking_number="SAME1", partner_=other_partner)
    with station_scope(station.pk):
        done = services.parcel_check_in(station=station, tracking_number="SAME1", actor=clerk)
    assert done.pk == new.pk


def test_correcting_ledger_lines_are_allowed_but_not_a_second_handover_line(
    station, on_shelf, clerk
):
    from django.db import IntegrityError, transaction

    parcel = on_shelf(station)
    with station_scope(station.pk):
        services.parcel_hand_over(station=station, credential=parcel.pickup_code, actor=clerk)
        line = LedgerLine.objects.get(parcel=parcel)
        fields = {
            "station": station,
            "partner": parcel.partner,
            "parcel": parcel,
            "currency": "SGD",
        }
        LedgerLine.objects.create(kind="adjustment", amount=-5, **fields)
        LedgerLine.objects.create(kind="adjustment", amount=2, **fields)
        with pytest.raises(IntegrityError), transaction.atomic():
            LedgerLine.objects.create(kind="handover", amount=line.amount, **fields)
