"""Parcel sizes as a partner announces them: a class, measures, or neither."""

from __future__ import annotations

import pytest

from parcels.models import Parcel
from parcels.services import intake
from stations import sizes
from stations.tenancy import network_scope
from tests.partners.test_api import announce_body

pytestmark = pytest.mark.django_db


BOX = {"length": 30, "width": 20, "height": 10}  # an M parcel, too thick for S


def stored(number: str) -> Parcel:
    with network_scope():
        return Parcel.objects.get(tracking_number=number)


@pytest.mark.parametrize(
    ("edges", "weight", "expected"),
    [
        ((64, 38, 8), 500, "S"),  # any orientation: the edges are sorted
        ((30, 20, 10), None, "M"),
        ((40, 35, 60), 2_000, "L"),
        ((40, 40, 40), None, "XL"),  # the largest compartment is 38 by 41 by 64
        ((50, 50, 50), None, "XL"),
        ((10, 10, 10), 26_000, "XL"),  # too heavy for a locker compartment
        (None, 2_000, ""),  # a weight alone says nothing of the size
        (None, 26_000, "XL"),
        (None, None, ""),
    ],
)
def test_the_smallest_class_the_measures_fit(edges, weight, expected):
    length, width, height = edges or (None, None, None)
    measured = sizes.Measures(length, width, height, weight)
    assert sizes.size_from(measured) == expected
    assert sizes.counted(expected) == (expected or "M")


def test_announce_with_measures_stores_them_and_their_class(api, station):
    body = announce_body(station, "SIZE1", dimensions_cm=BOX, weight_g=800)
    response = api.post("/api/v1/parcels/", body, format="json")
    assert response.status_code == 201, response.json()
    shown = response.json()
    assert (shown["size"], shown["dimensions_cm"], shown["weight_g"]) == ("M", BOX, 800)
    parcel = stored("SIZE1")
    assert (parcel.size, parcel.height_cm, parcel.weight_g) == ("M", 10, 800)


def test_a_class_may_be_larger_than_the_measures_need_a_smaller_one_is_raised(api, station):
    bigger = announce_body(station, "SIZE2", size="L", dimensions_cm=BOX)
    assert api.post("/api/v1/parcels/", bigger, format="json").json()["size"] == "L"
    smaller = announce_body(station, "SIZE3", size="S", dimensions_cm=BOX)
    response = api.post("/api/v1/parcels/", smaller, format="json")
    assert response.status_code == 201
    assert response.json()["size"] == "M"  # what the box needs
    assert stored("SIZE3").size == "M"


def test_a_parcel_no_class_takes_is_409_too_large(api, station):
    huge = {"length": 200, "width": 100, "height": 100}
    response = api.post(
        "/api/v1/parcels/", announce_body(station, "HUGE", dimensions_cm=huge), format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "too_large"
    assert "60 by 80 by 120 cm and 30 kg" in response.json()["detail"]
    batch = {"parcels": [announce_body(station, "HUGE", weight_g=31_000)]}
    [item] = api.post("/api/v1/parcels/batch/", batch, format="json").json()["results"]
    assert (item["status"], item["code"]) == ("error", "too_large")
    with network_scope():
        assert not Parcel.objects.filter(tracking_number="HUGE").exists()


def test_unknown_size_is_allowed(api, station):
    response = api.post("/api/v1/parcels/", announce_body(station, "SIZE4"), format="json")
    assert response.status_code == 201
    assert response.json()["size"] == ""
    assert response.json()["dimensions_cm"] is None


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"dimensions_cm": {"length": 30, "width": 20}}, "dimensions_cm"),  # two edges of three
        ({"dimensions_cm": {**BOX, "length": 0}}, "dimensions_cm"),
        ({"dimensions_cm": [30, 20, 10]}, "dimensions_cm"),
        ({"weight_g": intake.MAX_WEIGHT_G + 1}, "weight_g"),
        ({"size": "XXL"}, "size"),
        ({"size": "s"}, "size"),
    ],
)
def test_bad_measures_are_400_on_their_field(api, station, extra, field):
    response = api.post(
        "/api/v1/parcels/", announce_body(station, "BADSIZE", **extra), format="json"
    )
    assert response.status_code == 400
    assert field in response.json()["errors"]
    with network_scope():
        assert not Parcel.objects.filter(tracking_number="BADSIZE").exists()


def test_the_batch_reads_sizes_per_item(api, station):
    items = [
        announce_body(station, "B1", size="S"),
        announce_body(station, "B2", dimensions_cm={"length": 50, "width": 50, "height": 50}),
        announce_body(station, "B3", dimensions_cm={"length": 50, "width": 50}),
        announce_body(station, "B4", weight_g=2.5),
    ]
    body = api.post("/api/v1/parcels/batch/", {"parcels": items}, format="json").json()
    assert [r["status"] for r in body["results"]] == ["created", "created", "error", "error"]
    assert [r["parcel"]["size"] for r in body["results"][:2]] == ["S", "XL"]
    assert "dimensions_cm" in body["results"][2]["errors"]
    assert "weight_g" in body["results"][3]["errors"]
    assert stored("B2").length_cm == 50
