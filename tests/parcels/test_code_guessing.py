"""Pickup codes cannot be guessed anywhere: every lookup by a typed code, at check-out, in the
shelf search or through the hand-over service, counts against the same wrong-code limits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from parcels import services, throttle
from stations.tenancy import station_scope
from tests.conftest import portal_url

pytestmark = pytest.mark.django_db

PAUSED = "Typed codes are paused"


def wrong_codes(parcel, n):
    """n 6-digit codes that are not the parcel's."""
    return [f"{i:06d}" for i in range(n + 1) if f"{i:06d}" != parcel.pickup_code][:n]


@pytest.fixture
def counter(login, clerk):
    return login(clerk)


def test_shelf_searches_by_wrong_codes_are_cut_off_like_typed_codes(counter, station, on_shelf):
    parcel = on_shelf(station)
    for code in wrong_codes(parcel, throttle.PER_USER):
        page = counter.get(portal_url(station, "shelf"), {"q": code})
        assert page.status_code == 200
        assert PAUSED not in page.text
    paused = counter.get(portal_url(station, "shelf"), {"q": parcel.pickup_code})
    assert PAUSED in paused.text
    assert parcel.tracking_number not in paused.text
    # The same limit pauses check-out's typed codes; the tracking number and the QR still work.
    checkout = counter.post(portal_url(station, "check_out"), {"credential": parcel.pickup_code})
    assert PAUSED in checkout.text
    assert parcel.tracking_number not in checkout.text
    by_tracking = counter.get(portal_url(station, "shelf"), {"q": parcel.tracking_number})
    assert parcel.tracking_number in by_tracking.text
    found = counter.post(portal_url(station, "check_out"), {"credential": parcel.pickup_token})
    assert parcel.tracking_number in found.text


def test_wrong_codes_count_together_wherever_they_are_typed(counter, station, on_shelf, clerk):
    parcel = on_shelf(station)
    guesses = wrong_codes(parcel, throttle.PER_USER)
    # One person guessing in three places, a few each: together they reach the limit.
    for code in guesses[:4]:
        counter.get(portal_url(station, "shelf"), {"q": code})
    for code in guesses[4:7]:
        counter.post(portal_url(station, "check_out"), {"credential": code})
    with station_scope(station.pk):
        for code in guesses[7:]:
            with pytest.raises(services.ParcelNotFound):
                services.parcel_hand_over(station=station, credential=code, actor=clerk)
        with pytest.raises(throttle.CodesPaused) as paused:
            services.parcel_hand_over(station=station, credential=parcel.pickup_code, actor=clerk)
    assert paused.value.code == "codes_paused"
    assert PAUSED in counter.get(portal_url(station, "shelf"), {"q": parcel.pickup_code}).text


def test_finding_real_codes_is_not_counted(counter, station, on_shelf):
    parcel = on_shelf(station)
    for _ in range(throttle.PER_USER + 5):
        page = counter.get(portal_url(station, "shelf"), {"q": parcel.pickup_code})
        assert parcel.tracking_number in page.text


def test_with_the_cache_down_codes_are_still_found(counter, station, on_shelf, settings):
    # While Redis is down the cache keeps nothing (get → default, add → True, incr → ValueError),
    # as Django's dummy cache does: lookups go on, uncounted, and nothing raises.
    parcel = on_shelf(station)
    counter.get(
        portal_url(station, "shelf")
    )  # the session is in Redis; read it before it "goes down"
    settings.CACHES = {
        **settings.CACHES,
        "default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }
    for code in wrong_codes(parcel, throttle.PER_USER + 1):
        assert counter.get(portal_url(station, "shelf"), {"q": code}).status_code == 200
    assert (
        parcel.tracking_number
        in counter.get(portal_url(station, "shelf"), {"q": parcel.pickup_code}).text
    )
    found = counter.post(portal_url(station, "check_out"), {"credential": parcel.pickup_code})
    assert parcel.tracking_number in found.text


def test_only_the_throttled_selector_looks_parcels_up_by_code():
    # A new screen cannot forget the limit: the code is compared in parcels/selectors.py alone,
    # where `parcel_by_code` keeps the limits (the shelf search goes through it too).
    root = Path(__file__).resolve().parents[2]
    lookup = re.compile(r"pickup_code(__\w+)?\s*=[^=]|pickup_code\s*(=|IN)\s*%s", re.IGNORECASE)
    found = set()
    for app in ("config", "stations", "parcels", "partners"):
        for path in (root / app).rglob("*.py"):
            if "migrations" in path.parts or path.name == "models.py":
                continue
            if lookup.search(path.read_text()):
                found.add(str(path.relative_to(root)))
    assert found == {"parcels/selectors.py"}


def test_six_digits_that_start_a_tracking_number_are_a_search_not_a_wrong_code(
    counter, station, on_shelf
):
    """All-digit tracking numbers exist (`123456789012`); looking one up by its first six
    digits, however often, finds it and never pauses anyone's typed codes."""
    parcel = on_shelf(station, tracking_number="123456789012")
    for _ in range(throttle.PER_USER + 2):
        page = counter.get(portal_url(station, "shelf"), {"q": "123456"})
        assert "123456789012" in page.text
        assert PAUSED not in page.text
    checkout = counter.post(portal_url(station, "check_out"), {"credential": parcel.pickup_code})
    assert PAUSED not in checkout.text
    assert parcel.tracking_number in checkout.text
