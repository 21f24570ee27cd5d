from __future__ import annotations

import base64

import pytest
from django.db import IntegrityError, transaction

from parcels import codes
from parcels.models import Parcel, shelf_label
from stations.tenancy import network_scope

pytestmark = pytest.mark.django_db


def test_token_has_at_least_128_random_bits_and_is_url_safe():
    token = codes.new_token()
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert len(raw) * 8 >= 128
    assert token == token.strip()
    assert all(c.isalnum() or c in "-_" for c in token)
    assert len({codes.new_token() for _ in range(1000)}) == 1000


@pytest.mark.parametrize(
    ("scanned", "expected"),
    [
        ("https://sk.example/p/AbCdEfGhIjKlMnOpQrStUv12/", "AbCdEfGhIjKlMnOpQrStUv12"),
        ("http://127.0.0.1:8000/p/AbCdEfGhIjKlMnOpQrStUv12", "AbCdEfGhIjKlMnOpQrStUv12"),
        ("  AbCdEfGhIjKlMnOpQrStUv12\n", "AbCdEfGhIjKlMnOpQrStUv12"),
        ("https://evil.example/x/?next=/p/", None),
        ("short", None),
        ("<script>", None),
    ],
)
def test_token_from_scan(scanned, expected):
    assert codes.token_from_scan(scanned) == expected


def test_new_code_avoids_taken_codes(monkeypatch):
    draws = iter([123456, 123456, 42])
    monkeypatch.setattr(codes.secrets, "randbelow", lambda n: next(draws))
    assert codes.new_code({"123456"}) == "000042"


def test_two_parcels_on_one_shelf_never_share_a_code(station, on_shelf, monkeypatch):
    # Force the generator to offer the same code again and again before a fresh one.
    first = on_shelf(station)
    offers = iter([int(first.pickup_code)] * 5 + [777777])
    monkeypatch.setattr(codes.secrets, "randbelow", lambda n: next(offers))
    second = on_shelf(station)
    assert first.pickup_code != second.pickup_code
    assert second.pickup_code == "777777"


def test_database_refuses_a_shared_code_on_one_shelf(station, on_shelf):
    first, second = on_shelf(station), on_shelf(station)
    with network_scope(), pytest.raises(IntegrityError), transaction.atomic():
        Parcel.objects.filter(pk=second.pk).update(pickup_code=first.pickup_code)


def test_same_code_allowed_at_two_stations(station, other_station, on_shelf, monkeypatch):
    monkeypatch.setattr(codes.secrets, "randbelow", lambda n: 314159)
    assert on_shelf(station).pickup_code == on_shelf(other_station).pickup_code == "314159"


@pytest.mark.parametrize(
    ("slot", "label"), [(1, "A-01"), (50, "A-50"), (51, "B-01"), (1300, "Z-50"), (1301, "AA-01")]
)
def test_shelf_label(slot, label):
    assert shelf_label(slot) == label
