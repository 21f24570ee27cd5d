"""The counter screens as a clerk uses them: check in, check out, shelf, returns."""

from __future__ import annotations

import pytest

from parcels import services, throttle
from parcels.models import Parcel
from stations.models import Station
from stations.tenancy import network_scope, station_scope
from tests.conftest import make_station, portal_url

pytestmark = pytest.mark.django_db


def status_of(parcel):
    with network_scope():
        return Parcel.objects.get(pk=parcel.pk).status


@pytest.fixture
def counter(login, clerk):
    return login(clerk)


# --- check in -----------------------------------------------------------------------------------


def test_check_in_shows_the_slot_and_lists_the_session(counter, station, announce):
    first, second = announce(station), announce(station)
    counter.post(portal_url(station, "check_in"), {"tracking_number": first.tracking_number})
    response = counter.post(
        portal_url(station, "check_in"),
        {"tracking_number": f"  {second.tracking_number.lower()} "},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    text = response.text
    assert "<html" not in text  # htmx gets the panel alone
    assert 'class="slot-big">A-02<' in text
    assert first.tracking_number in text
    assert second.tracking_number in text
    assert "autofocus" in text  # the input is ready for the next scan
    assert status_of(second) == "at_station"


def test_the_session_list_holds_this_clerks_latest_check_ins_here(
    client, clerk, owner, station, announce
):
    from django.test import Client

    from parcels import views

    page = portal_url(station, "check_in")
    theirs = announce(station)
    mine = [announce(station) for _ in range(views.SESSION_CHECK_INS + 1)]
    client.force_login(clerk)
    assert "Nothing yet." in client.get(page).text
    for parcel in mine:
        client.post(page, {"tracking_number": parcel.tracking_number})
    with station_scope(station.pk):  # the owner checks one in meanwhile, at the same shelf
        services.parcel_check_in(
            station=station, tracking_number=theirs.tracking_number, actor=owner
        )
    listed = client.get(page).text.split('class="card recent"')[1]
    assert f"({views.SESSION_CHECK_INS})" in listed
    assert [p.tracking_number in listed for p in mine] == [False] + [True] * (len(mine) - 1)
    assert listed.index(mine[-1].tracking_number) < listed.index(mine[-2].tracking_number)
    assert theirs.tracking_number not in listed  # not this clerk's
    other_session = Client()
    other_session.force_login(clerk)
    assert "Nothing yet." in other_session.get(page).text  # a new session starts empty


def test_unannounced_parcel_asks_for_partner_then_checks_in(counter, station, partner):
    response = counter.post(portal_url(station, "check_in"), {"tracking_number": "WALKIN1"})
    assert "Not announced." in response.text
    assert 'name="partner"' in response.text
    assert 'value="WALKIN1"' in response.text  # the scan is kept
    assert 'name="prompted" value="WALKIN1"' in response.text
    response = counter.post(
        portal_url(station, "check_in"),
        {
            "tracking_number": "WALKIN1",
            "prompted": "WALKIN1",
            "partner": partner.pk,
            "recipient_name": "Walk In",
            "recipient_phone": "8123 4567",
            "language": "ms",
        },
    )
    assert 'class="slot-big">A-01<' in response.text
    with network_scope():
        parcel = Parcel.objects.get(tracking_number="WALKIN1")
    assert (parcel.status, parcel.language, str(parcel.recipient_phone)) == (
        "at_station",
        "ms",
        "+6581234567",
    )


def test_unannounced_with_bad_phone_keeps_everything_typed(counter, station, partner):
    response = counter.post(
        portal_url(station, "check_in"),
        {
            "tracking_number": "WALKIN2",
            "prompted": "WALKIN2",
            "partner": partner.pk,
            "recipient_name": "Walk In",
            "recipient_phone": "12",
            "language": "en",
        },
    )
    assert 'value="Walk In"' in response.text
    assert 'value="WALKIN2"' in response.text
    assert "has-error" in response.text
    with network_scope():
        assert not Parcel.objects.filter(tracking_number="WALKIN2").exists()


def test_full_station_is_refused_with_the_reason(login, owner, partner, announce, on_shelf):
    station = make_station("Tiny", capacity=1)
    station.memberships.create(user=owner, role="owner")
    on_shelf(station)
    waiting = announce(station)
    response = login(owner).post(
        portal_url(station, "check_in"), {"tracking_number": waiting.tracking_number}
    )
    assert "The shelf is full (1 of 1 slots)" in response.text
    assert status_of(waiting) == "announced"


def test_suspended_station_is_refused_with_the_reason(counter, station, announce):
    parcel = announce(station)
    Station.objects.filter(pk=station.pk).update(status="suspended")
    response = counter.post(
        portal_url(station, "check_in"), {"tracking_number": parcel.tracking_number}
    )
    assert "is suspended and cannot take parcels in" in response.text


# --- check out ----------------------------------------------------------------------------------


def test_check_out_by_typed_code_then_confirm(counter, station, on_shelf):
    parcel = on_shelf(station, recipient_name="Tan Mei Ling")
    found = counter.post(portal_url(station, "check_out"), {"credential": parcel.pickup_code})
    assert 'class="slot-big">A-01<' in found.text
    assert "Tan Mei Ling" not in found.text
    assert "T••" in found.text
    assert status_of(parcel) == "at_station"  # finding changes nothing
    done = counter.post(
        portal_url(station, "check_out"), {"credential": parcel.pickup_code, "action": "confirm"}
    )
    assert "Handed over" in done.text
    assert parcel.tracking_number in done.text
    assert status_of(parcel) == "picked_up"


def test_the_found_cards_buttons_redraw_only_the_answer(counter, station, on_shelf):
    """Hand over, from the found card, redraws the answer below the scan form, which the scan
    already emptied: the clerk's next scan is not disturbed. Without htmx: the whole page."""
    page = portal_url(station, "check_out")
    parcel, refusing, plain = on_shelf(station), on_shelf(station), on_shelf(station)
    found = counter.post(page, {"credential": parcel.pickup_code}, headers={"HX-Request": "true"})
    assert 'hx-target="#scan-result"' in found.text  # what the card's buttons ask for
    answer = {"HX-Request": "true", "HX-Target": "scan-result"}
    confirm = {"credential": parcel.pickup_code, "action": "confirm"}
    done = counter.post(page, confirm, headers=answer)
    assert done.text.lstrip().startswith('<section id="scan-result"')
    assert parcel.tracking_number in done.text
    assert "Handed over" in done.text
    assert 'name="credential"' not in done.text  # the scan form is left as it is
    assert status_of(parcel) == "picked_up"
    asked = counter.post(
        page, {"credential": refusing.pickup_code, "action": "refuse"}, headers=answer
    )
    assert "Say why the buyer refused" in asked.text
    assert 'name="csrfmiddlewaretoken"' in asked.text  # the card's forms can still be sent
    whole = counter.post(page, {"credential": plain.pickup_code, "action": "confirm"})
    assert "<html" in whole.text
    assert 'id="scan-result"' in whole.text


def test_check_out_by_scanned_pickup_link(counter, station, on_shelf):
    parcel = on_shelf(station)
    link = f"http://127.0.0.1:8000/p/{parcel.pickup_token}/"
    found = counter.post(portal_url(station, "check_out"), {"credential": link})
    assert parcel.tracking_number in found.text
    counter.post(portal_url(station, "check_out"), {"credential": link, "action": "confirm"})
    assert status_of(parcel) == "picked_up"


def test_other_parcels_of_the_same_recipient_go_together(counter, station, on_shelf):
    first = on_shelf(station, recipient_phone="+6590000001")
    second = on_shelf(station, recipient_phone="+6590000001")
    stranger = on_shelf(station, recipient_phone="+6590000002")
    found = counter.post(portal_url(station, "check_out"), {"credential": first.pickup_code})
    assert second.tracking_number in found.text
    assert stranger.tracking_number not in found.text
    counter.post(
        portal_url(station, "check_out"),
        {"credential": first.pickup_code, "action": "confirm", "also": [second.pk, stranger.pk]},
    )
    assert [status_of(p) for p in (first, second, stranger)] == [
        "picked_up",
        "picked_up",
        "at_station",  # not the same recipient: never handed over on someone else's code
    ]


def test_refused_at_inspection_needs_a_reason(counter, station, on_shelf):
    parcel = on_shelf(station)
    form = {"credential": parcel.pickup_code, "action": "refuse"}
    response = counter.post(portal_url(station, "check_out"), form)
    assert "Say why the buyer refused" in response.text
    assert status_of(parcel) == "at_station"
    response = counter.post(portal_url(station, "check_out"), {**form, "reason": "box crushed"})
    assert "Sent back as refused" in response.text
    assert status_of(parcel) == "return_due"


def test_used_and_wrong_codes_say_so_plainly(counter, station, on_shelf, clerk):
    parcel = on_shelf(station)
    with station_scope(station.pk):
        services.parcel_hand_over(station=station, credential=parcel.pickup_code, actor=clerk)
    used = counter.post(portal_url(station, "check_out"), {"credential": parcel.pickup_code})
    assert "already picked up" in used.text
    wrong = counter.post(portal_url(station, "check_out"), {"credential": "999999"})
    assert "No parcel at this station has the code 999999" in wrong.text


def test_wrong_codes_are_throttled_per_user(counter, station, on_shelf, clerk):
    parcel = on_shelf(station)
    wrong = "000000" if parcel.pickup_code != "000000" else "000001"
    for _ in range(throttle.PER_USER):
        counter.post(portal_url(station, "check_out"), {"credential": wrong})
    blocked = counter.post(portal_url(station, "check_out"), {"credential": parcel.pickup_code})
    assert "Typed codes are paused" in blocked.text
    assert parcel.tracking_number not in blocked.text
    # The QR still works: its token cannot be guessed.
    found = counter.post(portal_url(station, "check_out"), {"credential": parcel.pickup_token})
    assert parcel.tracking_number in found.text


def test_wrong_codes_are_throttled_per_station(login, station, on_shelf, owner, clerk, partner):
    from stations.models import Membership, User

    parcel = on_shelf(station)
    clerks = [clerk, owner] + [
        User.objects.create_user(f"c{i}@test.example", "pw-123456") for i in range(2)
    ]
    for extra in clerks[2:]:
        Membership.objects.create(user=extra, station=station, role="clerk")
    wrong = "000000" if parcel.pickup_code != "000000" else "000001"
    for person in clerks[:3]:  # each stays under the per-person limit
        client = login(person)
        for _ in range(throttle.PER_STATION // 3):
            client.post(portal_url(station, "check_out"), {"credential": wrong})
    response = login(clerks[3]).post(
        portal_url(station, "check_out"), {"credential": parcel.pickup_code}
    )
    assert "Typed codes are paused" in response.text


# --- shelf and returns --------------------------------------------------------------------------


@pytest.mark.parametrize("by", ["tracking", "code", "last4"])
def test_shelf_search(counter, station, on_shelf, by):
    mine = on_shelf(station, recipient_phone="+6598887777")
    other = on_shelf(station, recipient_phone="+6591112222")
    q = {
        "tracking": mine.tracking_number[:6].lower() + mine.tracking_number[6:],
        "code": mine.pickup_code,
        "last4": "7777",
    }[by]
    response = counter.get(portal_url(station, "shelf"), {"q": q})
    assert mine.tracking_number in response.text
    assert other.tracking_number not in response.text


def test_shelf_filters_by_status_and_partner(counter, station, on_shelf, announce, other_partner):
    shelved = on_shelf(station)
    announced = announce(station)
    theirs = on_shelf(station, partner_=other_partner)
    response = counter.get(
        portal_url(station, "shelf"), {"status": "at_station", "partner": other_partner.pk}
    )
    assert theirs.tracking_number in response.text
    assert shelved.tracking_number not in response.text
    assert announced.tracking_number not in response.text


def test_hand_back_and_print_the_manifest(counter, station, on_shelf):
    due = [on_shelf(station) for _ in range(2)]
    keep = on_shelf(station)
    with station_scope(station.pk):
        for p in [*due, keep]:
            services.parcel_mark_return_due(parcel=p, reason="overdue", actor=None)
    page = counter.get(portal_url(station, "returns"))
    assert all(p.tracking_number in page.text for p in [*due, keep])
    response = counter.post(
        portal_url(station, "returns"),
        {"partner": due[0].partner_id, "courier_name": "Ahmad", "parcels": [p.pk for p in due]},
        follow=True,
    )
    assert "Hand-back manifest" in response.text
    assert "Ahmad" in response.text
    assert all(p.tracking_number in response.text for p in due)
    assert keep.tracking_number not in response.text
    assert "2 parcels in total" in response.text
    assert [status_of(p) for p in [*due, keep]] == ["returned", "returned", "return_due"]


def test_hand_back_without_courier_keeps_the_ticks(counter, station, on_shelf):
    parcel = on_shelf(station)
    with station_scope(station.pk):
        services.parcel_mark_return_due(parcel=parcel, reason="overdue", actor=None)
    response = counter.post(
        portal_url(station, "returns"),
        {"partner": parcel.partner_id, "courier_name": "", "parcels": [parcel.pk]},
    )
    assert response.status_code == 200
    assert "This field is required" in response.text
    assert status_of(parcel) == "return_due"


def test_the_redrawn_scan_form_speaks_each_clerks_language(counter, station, on_shelf, settings):
    """The empty scan form is drawn once per process and language, for every clerk."""
    page = portal_url(station, "check_out")
    for language, label in (("en", "Buyer's pickup code"), ("ms", "Kod pengambilan pembeli")):
        counter.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        parcel = on_shelf(station)
        response = counter.post(
            page,
            {"credential": parcel.pickup_token, "action": "confirm"},
            headers={"HX-Request": "true"},
        )
        assert label in response.text
        assert 'name="csrfmiddlewaretoken"' in response.text  # the token is the request's own
