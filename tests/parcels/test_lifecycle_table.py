"""The lifecycle is one table (parcels/lifecycle.py): every move does what its row says, a
refusal is worded by its row, every event goes through one writer, and fees are earnings'."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from django.utils import translation

from parcels import lifecycle, services
from parcels.exceptions import WrongStatus
from parcels.lifecycle import TRANSITIONS
from parcels.models import Parcel, ParcelEvent
from partners.api.serializers import EVENT_KINDS
from partners.models import WEBHOOK_EVENTS
from stations.models import LedgerLine
from stations.tenancy import network_scope, partner_scope, station_scope

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
APPS = ("config", "parcels", "partners", "stations")


def _after(parcel: Parcel, action: str) -> None:
    """The parcel, read again, is where `action`'s row leads, with its timestamp set at the moment
    of its event, and with the fee the row earns."""
    row = TRANSITIONS[action]
    with network_scope():
        parcel = Parcel.objects.get(pk=parcel.pk)
        event = ParcelEvent.objects.filter(parcel=parcel).last()
        fees = list(LedgerLine.objects.filter(parcel=parcel).values_list("kind", flat=True))
    assert parcel.status == row.target
    assert event.kind == row.event_kind
    assert getattr(parcel, row.timestamp_field) == event.occurred_at
    if row.fee:
        assert fees[-1] == row.fee


def test_every_move_does_what_its_row_says(station, partner, announce, clerk):
    parcel = announce(station)
    _after(parcel, "announce")
    with station_scope(station.pk):
        parcel = services.parcel_check_in(
            station=station, tracking_number=parcel.tracking_number, actor=clerk
        )
        _after(parcel, "check_in")
        services.parcel_hand_over(station=station, credential=parcel.pickup_code, actor=clerk)
        _after(parcel, "hand_over")

        refused = services.parcel_check_in(
            station=station, tracking_number=announce(station).tracking_number, actor=clerk
        )
        services.parcel_hand_over(
            station=station, credential=refused.pickup_code, actor=clerk, refused=True
        )
        _after(refused, "mark_return_due")
        services.parcels_hand_back(
            station=station, parcel_ids=[refused.pk], courier_name="Ahmad", actor=clerk
        )
        _after(refused, "hand_back")
    cancelled = announce(station)
    with partner_scope(partner.pk):
        services.parcel_cancel(parcel=cancelled, actor=partner)
    _after(cancelled, "cancel")


def _refusals(station, partner, announce, on_shelf, clerk):
    """Each service refused once, from a status its row does not start from."""
    announced, shelved, picked = announce(station), on_shelf(station), on_shelf(station)
    with station_scope(station.pk):
        services.parcel_hand_over(station=station, credential=picked.pickup_code, actor=clerk)
    return {
        "check_in": lambda: services.parcel_check_in(
            station=station, tracking_number=shelved.tracking_number, actor=clerk
        ),
        "hand_over": lambda: services.parcel_hand_over(
            station=station, credential=picked.pickup_code, actor=clerk
        ),
        "mark_return_due": lambda: services.parcel_mark_return_due(
            parcel=announced, reason=Parcel.ReturnReason.RECALLED, actor=partner
        ),
        "hand_back": lambda: services.parcels_hand_back(
            station=station, parcel_ids=[shelved.pk], courier_name="Ahmad", actor=clerk
        ),
        "cancel": lambda: services.parcel_cancel(parcel=shelved, actor=partner),
    }


@pytest.mark.parametrize(
    "action", ["check_in", "hand_over", "mark_return_due", "hand_back", "cancel"]
)
def test_a_refusal_is_worded_by_its_row_in_every_language(
    action, station, partner, announce, on_shelf, clerk, monkeypatch
):
    # A new wording in the table is what the service says, so no second copy of it exists.
    reworded = "Parcel %(tracking)s: not now, because %(why)s"
    monkeypatch.setitem(
        TRANSITIONS, action, dataclasses.replace(TRANSITIONS[action], refusal=reworded)
    )
    attempt = _refusals(station, partner, announce, on_shelf, clerk)[action]
    with network_scope(), pytest.raises(WrongStatus) as refused:
        attempt()
    assert refused.value.code == "wrong_status"
    assert re.fullmatch(r"Parcel \S+: not now, because .+", str(refused.value))

    monkeypatch.undo()
    with network_scope(), translation.override("ms"):
        with pytest.raises(WrongStatus) as translated:
            attempt()
        # The row's own wording, as the catalogue translates it (the number stays as it is).
        prefix = translation.gettext(TRANSITIONS[action].refusal).split("%(why)s")[0]
    tracking = str(translated.value.context["tracking_number"])
    assert str(translated.value).startswith(prefix % {"tracking": tracking})
    assert prefix != TRANSITIONS[action].refusal.split("%(why)s")[0]


def test_every_event_the_network_records_is_one_the_api_documents():
    assert set(EVENT_KINDS) >= lifecycle.NETWORK_EVENTS
    moves = {row.event_kind for row in TRANSITIONS.values()}
    assert set(WEBHOOK_EVENTS) <= moves


def _app_sources():
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts:
                yield path, path.read_text()


def test_every_event_is_written_by_the_one_writer():
    writer = ROOT / "parcels" / "services" / "events.py"
    writes = re.compile(
        r"(?<!class )ParcelEvent\(|ParcelEvent\.objects\.(create|bulk_create|get_or_create)"
    )
    elsewhere = [
        str(p.relative_to(ROOT))
        for p, text in _app_sources()
        if p != writer and writes.search(text)
    ]
    assert elsewhere == []


def test_fees_are_reckoned_only_in_the_earnings():
    fee_words = re.compile(r"\b(Tariff|handover_fee|return_fee)\b")
    in_parcels = [
        str(p.relative_to(ROOT))
        for p, text in _app_sources()
        if p.is_relative_to(ROOT / "parcels") and fee_words.search(text)
    ]
    assert in_parcels == []


def test_the_lifecycle_modules_are_each_readable_in_one_sitting():
    modules = [ROOT / "parcels" / "lifecycle.py", *(ROOT / "parcels" / "services").glob("*.py")]
    assert {
        str(p.relative_to(ROOT)): len(p.read_text().splitlines())
        for p in modules
        if len(p.read_text().splitlines()) > 400
    } == {}
