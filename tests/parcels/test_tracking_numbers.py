"""Tracking numbers have one rule (parcels/tracking.py), kept at the counter and by every service
that stores one: a number outside it is refused with one clear message, never cut or stored."""

from __future__ import annotations

import html

import pytest

from parcels import services, tracking
from parcels.exceptions import InvalidInput
from parcels.models import Parcel
from stations.tenancy import network_scope, station_scope
from tests.conftest import portal_url

pytestmark = pytest.mark.django_db

MESSAGE = str(tracking.INVALID_MESSAGE)
BAD = ["📦123", "' OR 1=1; --", "A" * 300, "ß" * 64, "ﬃ" * 40, "TC1F26/1", "..", "ſp1"]


def stored_numbers() -> set[str]:
    with network_scope():
        return set(Parcel.objects.values_list("tracking_number", flat=True))


@pytest.mark.parametrize("scan", BAD)
def test_the_counter_refuses_a_scan_outside_the_rules_and_keeps_it(login, clerk, station, scan):
    response = login(clerk).post(portal_url(station, "check_in"), {"tracking_number": scan})
    assert response.status_code == 200
    assert html.escape(MESSAGE) in response.text  # next to the field
    assert f'value="{html.escape(scan)}"' in response.text  # the whole scan, not cut to 64
    assert stored_numbers() == set()


@pytest.mark.parametrize("scan", BAD)
def test_an_unannounced_check_in_refuses_it_too(login, clerk, station, partner, scan):
    details = {
        "prompted": tracking.normalize(scan),
        "partner": partner.pk,
        "recipient_name": "Walk In",
        "recipient_phone": "8123 4567",
        "language": "en",
    }
    response = login(clerk).post(
        portal_url(station, "check_in"), {"tracking_number": scan, **details}
    )
    assert response.status_code == 200
    assert html.escape(MESSAGE) in response.text
    assert stored_numbers() == set()


def test_the_scan_input_has_no_length_that_would_cut_a_scan(login, clerk, station):
    response = login(clerk).get(portal_url(station, "check_in"))
    assert 'name="tracking_number"' in response.text
    assert "maxlength" not in response.text


def test_a_scan_with_spaces_and_lower_case_is_checked_in(login, clerk, station, announce):
    announce(station, tracking_number="1234-5678-9012")
    response = login(clerk).post(
        portal_url(station, "check_in"), {"tracking_number": " 1234-5678 -9012 "}
    )
    assert 'class="slot-big">A-01<' in response.text


@pytest.mark.parametrize("number", BAD)
def test_no_service_stores_a_number_outside_the_rules(station, partner, clerk, number):
    with network_scope(), pytest.raises(InvalidInput) as announced:
        services.parcel_announce(
            partner=partner,
            station=station,
            tracking_number=number,
            recipient_name="Tan Mei Ling",
            recipient_phone="+6591234567",
        )
    with station_scope(station.pk), pytest.raises(InvalidInput) as checked_in:
        services.parcel_check_in(
            station=station,
            tracking_number=number,
            actor=clerk,
            partner=partner,
            recipient_name="Tan Mei Ling",
            recipient_phone="+6591234567",
        )
    for exc in (announced.value, checked_in.value):
        assert (exc.code, exc.context["field"], str(exc)) == ("invalid", "tracking_number", MESSAGE)
    assert stored_numbers() == set()


def test_the_rule():
    assert tracking.parse(" sp 1234-5678 sg ") == "SP1234-5678SG"
    assert tracking.parse("a" * 64) == "A" * 64
    for bad in ["", " ", "a" * 65, "-A", "A-", "A_B", "ß", "ſ", "ı", "Ａ", "٣", None, 12]:
        assert tracking.parse(bad) is None, bad


def test_the_schema_pattern_takes_exactly_what_the_rule_takes():
    """The API's schema declares tracking.RAW_PATTERN for numbers as sent; a generated client
    or a fuzzer must find it saying exactly what `parse` accepts (spaces included)."""
    import random
    import re

    from parcels import tracking

    pattern = re.compile(tracking.RAW_PATTERN)
    rng = random.Random(12)  # the same samples every run
    samples = ["A", " a-1 ", "SP 1234 5678 9SG", "-A", "A-", "A\u00a0B", "ß", "A.B", "", "  "]
    samples += ["A" * 64, "A" * 65, " ".join("A" * 64), "A" * 63 + " -"]
    samples += [
        "".join(rng.choice("aZ09- \t.ß") for _ in range(rng.randint(0, 9))) for _ in range(3000)
    ]
    for text in samples:
        assert (pattern.search(text) is not None) == (tracking.parse(text) is not None), repr(text)
