"""The outside probe's bad input to the partner API (issue 12): each answers 4xx in the API's
error shape, never a server error, and a bad item of a batch never costs the good ones."""

from __future__ import annotations

import base64
import json

import pytest
from django.urls import Resolver404, resolve

from parcels import tracking
from parcels.models import Parcel
from partners.api import parsers
from partners.models import WebhookEndpoint
from stations.models import Station
from stations.tenancy import network_scope
from tests.conftest import api_url, make_station

pytestmark = pytest.mark.django_db

INVALID_NUMBER = [str(tracking.INVALID_MESSAGE)]


def item(station, number="SP0001SG", **extra):
    return {
        "tracking_number": number,
        "station": station.slug if isinstance(station, Station) else station,
        "recipient_name": "Tan Mei Ling",
        "recipient_phone": "+6591234567",
        **extra,
    }


def stored_numbers() -> set[str]:
    with network_scope():
        return set(Parcel.objects.values_list("tracking_number", flat=True))


def post_raw(api, url: str, body: str):
    return api.generic("POST", url, body, content_type="application/json")


# --- 11: nesting --------------------------------------------------------------------------------

DEEP = "[" * 1000 + "]" * 1000  # the probe's 2 KB


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/parcels/",
        "/api/v1/parcels/batch/",
        "/api/v1/parcels/SP0001SG/events/",
        "/api/v1/webhooks/",
    ],
)
@pytest.mark.parametrize(
    "body",
    [DEEP, '{"parcels": ' + DEEP + "}", '{"parcels": [{"station": ' + DEEP + "}]}"],
    ids=["bare", "in-batch", "in-item"],
)
def test_deeply_nested_json_is_400_invalid_json(api, station, announce, url, body):
    announce(station, tracking_number="SP0001SG")
    response = post_raw(api, url, body)
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid_json",
        "detail": "The JSON nests arrays and objects more than 32 levels deep.",
    }


def test_nesting_up_to_the_bound_is_read_as_usual(api, station):
    # At the bound the body is parsed, and the serializer says what is wrong with the field.
    nested = "[" * (parsers.MAX_DEPTH - 1) + "]" * (parsers.MAX_DEPTH - 1)
    body = json.dumps(item(station))[:-1] + ', "recipient_name": ' + nested + "}"
    response = post_raw(api, "/api/v1/parcels/", body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "recipient_name" in response.json()["errors"]


def test_brackets_inside_strings_do_not_count(api, station):
    name = '[{"\\' * 30 + "Tan"  # 123 characters
    response = api.post("/api/v1/parcels/", item(station, recipient_name=name), format="json")
    assert response.status_code == 201
    assert response.json()["recipient_name"] == name


def test_recursion_past_the_bound_is_still_a_400(api, station, monkeypatch):
    # The last guard: if json.loads recurses out of the interpreter's depth anyway.
    monkeypatch.setattr(parsers, "MAX_DEPTH", 10**9)
    response = post_raw(api, "/api/v1/parcels/", "[" * 100_000 + "]" * 100_000)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"


def test_malformed_json_is_400_invalid_json(api):
    response = post_raw(api, "/api/v1/parcels/", '{"tracking_number": ')
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"
    assert response.json()["detail"].startswith("JSON parse error")


def test_the_nesting_depth_skips_strings_and_escapes():
    assert parsers.nesting_depth("[]") == 1
    assert parsers.nesting_depth('{"a": [1, {"b": "]]]"}]}') == 3
    assert parsers.nesting_depth('["\\\\", ["\\"[[["]]') == 2
    assert parsers.nesting_depth('"[[[[" ') == 0
    assert parsers.nesting_depth("") == 0


# --- 12 and 15: tracking numbers ----------------------------------------------------------------

BAD_NUMBERS = [
    "ß" * 64,  # upper-cases to 128 characters
    "ﬃ" * 40,  # to 120
    "ß",  # to SS: not what the label says
    "TC1F26/1",
    "..",
    "A.B",
    "📦123",
    "' OR 1=1; --",
    "A" * 65,
    "A" * 300,
    "-SP1",
    "SP1-",
    "SP\x001",
]


@pytest.mark.parametrize("number", BAD_NUMBERS)
def test_announcing_a_number_outside_the_rules_is_400(api, station, number):
    response = api.post("/api/v1/parcels/", item(station, number), format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["errors"] == {"tracking_number": INVALID_NUMBER}
    assert stored_numbers() == set()


def test_a_number_is_checked_after_spaces_and_case(api, station):
    response = api.post("/api/v1/parcels/", item(station, " sp-1234 5678 9sg "), format="json")
    assert response.status_code == 201
    assert response.json()["tracking_number"] == "SP-123456789SG"
    assert stored_numbers() == {"SP-123456789SG"}
    # Every per-parcel URL reaches it, in either case.
    assert api.get("/api/v1/parcels/sp-123456789sg/").status_code == 200
    event = {"kind": "dispatched", "occurred_at": "2026-01-01T08:00:00Z"}
    assert (
        api.post("/api/v1/parcels/Sp-123456789sG/events/", event, format="json").status_code == 201
    )
    assert api.post("/api/v1/parcels/SP-123456789SG/recall/", {}, format="json").status_code == 409
    assert api.post("/api/v1/parcels/sp-123456789sg/cancel/").status_code == 200


def test_64_characters_after_normalizing_are_taken(api, station):
    number = "A1-" * 21 + "Z"  # 64
    spaced = " ".join(number)  # 127 as typed
    response = api.post("/api/v1/parcels/", item(station, spaced.lower()), format="json")
    assert response.status_code == 201
    assert stored_numbers() == {number}
    assert api.get(api_url(number)).status_code == 200


@pytest.mark.parametrize(
    "path",
    ["TC1F26/1", "..", "A.B", "%F0%9F%93%A6", "%27%20OR%201%3D1", "A" * 65, "%C3%9F", "SP%201"],
)
@pytest.mark.parametrize("suffix", ["", "cancel/", "recall/", "events/"])
def test_per_parcel_urls_with_a_number_outside_the_rules_are_404(api, path, suffix):
    response = api.post(f"/api/v1/parcels/{path}/{suffix}", {}, format="json")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Not found."}


@pytest.mark.parametrize(
    "text",
    [
        "SP123456789SG",
        "sp123456789sg",
        "1234-5678-9012",
        "A",
        "9",
        "A" * 64,
        "A" * 65,
        "-",
        "A-",
        "-A",
        "A--B",
        "TC1F26.1",
        "ß",
        "ﬃ",
        "Ａ1",  # fullwidth
        "_A",
        "A~B",
        "٣",  # an Arabic-Indic digit
    ],
)
def test_the_url_takes_exactly_the_numbers_the_rules_take(text):
    try:
        match = resolve(api_url(text))
    except Resolver404:
        match = None
    number = tracking.parse(text)
    assert (match is not None) == (number is not None)
    if match is not None:
        assert match.kwargs["tracking_number"] == number


# --- 12 and 16: batches -------------------------------------------------------------------------


def single_error(api, body) -> tuple[str, dict]:
    """What the single announcement says about `body`: its code and its field messages."""
    response = post_raw(api, "/api/v1/parcels/", json.dumps(body))
    assert 400 <= response.status_code < 500
    data = response.json()
    return data["code"], data.get("errors") or {"station": [data["detail"]]}


def test_one_bad_item_in_a_batch_of_1000_costs_only_itself(api, station):
    items = [item(station, f"GOOD{i:04d}") for i in range(1000)]
    items[500] = item(station, "ß" * 64)
    response = api.post("/api/v1/parcels/batch/", {"parcels": items}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["existing"], body["failed"]) == (999, 0, 1)
    bad = body["results"][500]
    assert (bad["status"], bad["code"], bad["errors"]) == (
        "error",
        "invalid",
        {"tracking_number": INVALID_NUMBER},
    )
    assert bad["tracking_number"] == "ß" * 64  # as sent, whole
    assert len(stored_numbers()) == 999


def test_each_bad_item_is_its_own_error_with_the_single_announcements_code(
    api, station, other_station, announce
):
    announce(station, tracking_number="KNOWN1")
    closed = make_station("Closed", status=Station.Status.SUSPENDED)
    bad_items = [
        item("no-such-station", "KNOWN1"),  # known number, unknown station
        item("no-such-station", "NEW9"),
        item(station, None),
        item(station, "NEW8", recipient_name=None),
        item(station, "NEW7", recipient_email=None),
        {**item(station, "NEW6"), "station": None},
        item(other_station, "KNOWN1"),  # announced elsewhere
        item(closed, "NEW5"),  # an inactive station
        item(station, "TC1F26/1"),
        item(station, "NEW4", recipient_name="x" * 151),
        item(station, "NEW3", recipient_phone="12"),
        item(station, "NEW2", recipient_name="Tan\x00"),
        1,
        "SP0001SG",
        ["SP0001SG"],
        None,
        {},
    ]
    items = [item(station, "GOOD1"), *bad_items, item(station, "GOOD2")]
    response = api.post("/api/v1/parcels/batch/", {"parcels": items}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["existing"], body["failed"]) == (2, 0, len(bad_items))
    results = body["results"][1:-1]
    for bad, result in zip(bad_items, results, strict=True):
        assert result["status"] == "error"
        assert (result["code"], result["errors"]) == single_error(api, bad), bad
    assert [r["tracking_number"] for r in results[2:6]] == ["", "NEW8", "NEW7", "NEW6"]
    assert all(r["tracking_number"] == "" for r in results[-5:])  # never "NONE"
    assert stored_numbers() == {"KNOWN1", "GOOD1", "GOOD2"}


def test_a_known_number_with_an_unknown_station_is_not_exists(api, station, announce):
    announce(station, tracking_number="KNOWN1")
    response = api.post(
        "/api/v1/parcels/batch/",
        {"parcels": [item("no-such-station", "KNOWN1")]},
        format="json",
    )
    [result] = response.json()["results"]
    assert (result["status"], result["code"], result["errors"]) == (
        "error",
        "invalid",
        {"station": ["No station has this slug."]},
    )


def test_a_batch_that_is_not_a_list_is_still_refused_whole(api):
    for parcels in ({"a": 1}, "SP1", None, []):
        response = api.post("/api/v1/parcels/batch/", {"parcels": parcels}, format="json")
        assert response.status_code == 400
        assert response.json()["code"] == "invalid"
        assert "parcels" in response.json()["errors"]


def test_the_batch_service_refuses_what_the_database_would_for_any_caller(partner, station):
    # Not through the API's serializer: the service itself keeps a bad item from aborting the
    # batch's INSERT.
    from parcels import services

    good = item(station, "GOOD1")
    bad = [
        item(station, "ß" * 64),
        item(station, "NEW1", recipient_name="x" * 151),
        item(station, "NEW2", recipient_name="Tan\x00"),
        item(station, "NEW3", recipient_email="a@b.example" + "x" * 250),
        item(station, "NEW4", recipient_name=["Tan"]),
        item("no\x00slug", "NEW5"),
        item(station, 12345),
        "not a mapping",
    ]
    with network_scope():
        results = services.parcels_announce_batch(partner=partner, items=[*bad, good])
    assert [r["status"] for r in results] == ["error"] * len(bad) + ["created"]
    assert [next(iter(r["errors"])) for r in results[:-1]] == [
        "tracking_number",
        "recipient_name",
        "recipient_name",
        "recipient_email",
        "recipient_name",
        "station",
        "tracking_number",
        "non_field_errors",
    ]
    assert stored_numbers() == {"GOOD1"}


# --- 13: cursors --------------------------------------------------------------------------------


def cursor(query: str) -> str:
    return base64.b64encode(query.encode()).decode()


@pytest.fixture
def lists(partner):
    endpoint = WebhookEndpoint.objects.create(
        partner=partner, url="https://partner.example/hook", events=["parcel.picked_up"]
    )
    return {
        "parcels": "/api/v1/parcels/",
        "stations": "/api/v1/stations/",
        "deliveries": f"/api/v1/webhooks/{endpoint.pk}/deliveries/",
    }


@pytest.mark.parametrize("name", ["parcels", "stations", "deliveries"])
@pytest.mark.parametrize(
    ("raw", "refused_on"),
    [
        (cursor("p=notadate"), {"parcels", "deliveries"}),
        (cursor("p=9999-99-99"), {"parcels", "deliveries"}),
        (cursor("p=2026-11-21"), {"parcels", "deliveries"}),  # no time zone: not one of ours
        (cursor("p=2026-11-21 08:00:00%2B23:00"), set()),  # read in UTC
        (cursor("p=0001-01-01 00:00:00%2B05:00"), {"parcels", "deliveries"}),  # before year 1
        (cursor("p=%00"), {"parcels", "stations", "deliveries"}),
        (cursor("p=a%00b&r=1"), {"parcels", "stations", "deliveries"}),
        (cursor("o=x"), {"parcels", "stations", "deliveries"}),
        ("not base64!", {"parcels", "stations", "deliveries"}),
        (cursor("p=tiong-bahru&r=1"), {"parcels", "deliveries"}),
    ],
)
def test_a_crafted_cursor_is_404_invalid_cursor(api, station, lists, name, raw, refused_on):
    response = api.get(lists[name], {"cursor": raw})
    if name in refused_on:
        assert response.status_code == 404
        assert response.json() == {
            "code": "invalid_cursor",
            "detail": "This cursor is not one of ours. Use the `next` or `previous` link as "
            "given, or start again from the first page.",
        }
    else:
        assert response.status_code == 200


def test_the_cursors_we_give_out_still_page(api, station, announce):
    for _ in range(3):
        announce(station)
    first = api.get("/api/v1/parcels/", {"page_size": 2}).json()
    second = api.get(first["next"]).json()
    assert len(first["results"]) == 2
    assert len(second["results"]) == 1
    back = api.get(second["previous"]).json()
    assert [p["tracking_number"] for p in back["results"]] == [
        p["tracking_number"] for p in first["results"]
    ]


@pytest.mark.parametrize("size", ["0", "-1", "501", "100000", "x", "1.5", "", "٣"])
def test_a_page_size_outside_1_to_500_is_refused_not_changed(api, size):
    response = api.get("/api/v1/parcels/", {"page_size": size})
    assert response.status_code == 400
    assert response.json()["errors"] == {"page_size": ["A whole number from 1 to 500."]}


def test_a_page_size_inside_the_range_is_used(api, station, announce):
    for _ in range(3):
        announce(station)
    response = api.get("/api/v1/parcels/", {"page_size": "2"})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 2
    assert response.json()["next"]


def test_text_padded_past_its_limit_is_refused_as_the_schema_says(api, station, announce):
    """maxLength counts what was sent: spaces around the text count too."""
    parcel = announce(station)
    response = api.post(
        api_url(parcel, "events"),
        {"kind": "in_transit", "occurred_at": "2026-11-21T08:00:00Z", "location": " x" + " " * 119},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "location": ["Ensure this field has no more than 120 characters."]
    }


def test_a_batch_item_whose_station_is_not_text_is_that_items_error(partner, station):
    from parcels import services

    items = [{**item(station, "LIST1"), "station": [station.slug]}]
    items += [{**item(station, "DICT1"), "station": {"slug": station.slug}}, item(station, "GOOD2")]
    with network_scope():
        results = services.parcels_announce_batch(partner=partner, items=items)
    assert [r["status"] for r in results] == ["error", "error", "created"]
    assert (
        results[0]["errors"] == results[1]["errors"] == {"station": ["No station has this slug."]}
    )
    assert stored_numbers() == {"GOOD2"}


@pytest.mark.parametrize("name", ["\u00a0", " ", "\t\n"])
def test_a_name_of_white_space_alone_is_blank_as_the_schema_says(api, station, name):
    """The schema's pattern for a required text asks for something besides white space; the API
    refuses exactly that (a no-break space included), with the blank message."""
    response = api.post(
        "/api/v1/parcels/", item(station, "BLANK1", recipient_name=name), format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"recipient_name": ["This field may not be blank."]}
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    field = schema["components"]["schemas"]["AnnounceInputRequest"]["properties"]["recipient_name"]
    assert field["pattern"] == r"\S"


def test_a_batch_reads_its_stations_once(api, station):
    """The service reads the batch's stations by slug; the answer's slugs come from those rows,
    not from a second read."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    body = {"parcels": [item(station, f"ONCE{i}") for i in range(5)]}
    with CaptureQueriesContext(connection) as queries:
        response = api.post("/api/v1/parcels/batch/", body, format="json")
    assert response.json()["created"] == 5
    assert {r["parcel"]["station"] for r in response.json()["results"]} == {station.slug}
    station_reads = [q["sql"] for q in queries if 'FROM "stations_station"' in q["sql"]]
    assert len(station_reads) == 1, station_reads
