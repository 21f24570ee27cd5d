"""Probe: bad input at every face, counted by status. Nothing should answer 5xx.

Sends a fixed list of hostile or malformed requests (the kinds an outside fuzzing round tried:
deep JSON, tracking numbers that grow when upper-cased or that no URL can carry, crafted cursors,
odd webhook URLs, odd batch items, odd scans at the counter) through Django's test client with
production settings (DEBUG off) against the benchmark database, and prints the responses by
status, listing every 5xx. Exits 1 if there was one.

    make probe          (or: python bench/probe.py)
"""

from __future__ import annotations

import base64
import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.test import Client  # noqa: E402

from bench.common import fresh_database  # noqa: E402
from partners.models import Partner  # noqa: E402
from partners.services import api_key_create  # noqa: E402
from stations.models import Membership, Station, User  # noqa: E402

TRACKING = [
    "ß" * 64,
    "ﬃ" * 40,
    "TC1F26/1",
    "..",
    ".",
    "📦📦📦",
    "' OR 1=1; --",
    "X" * 300,
    "",
    "   ",
    "A\x00B",
    "ǆ" * 33,
    "İ" * 40,
    "<script>",
    "%2F",
]
JSON_VALUES: list[object] = [None, 123, 1.5, True, [], {}, ["A"], {"a": 1}]
DEEP = "[" * 1000 + "]" * 1000
DEEP_OBJ = '{"a":' * 1000 + "1" + "}" * 1000


def cursor(raw: str) -> str:
    return base64.b64encode(raw.encode()).decode()


CURSORS = [
    cursor("p=notadate"),
    cursor("p=9999-99-99"),
    cursor("p=\x00"),
    cursor("o=-1"),
    cursor("o=99999999999999999999"),
    cursor("r=1&p=2026-01-01T00:00:00+00:00"),
    cursor("p=" + "9" * 400),
    "!!!notbase64",
    "",
    cursor("\x00"),
]


def requests(slug: str) -> Iterator[tuple[str, str, str, object]]:
    """(face, method, path, body): body is JSON-able, a raw str (sent as is), or form data."""
    good = {
        "station": slug,
        "recipient_name": "Probe Buyer",
        "recipient_phone": "+6591234567",
    }
    for number in TRACKING:
        yield "api", "POST", "/api/v1/parcels/", {**good, "tracking_number": number}
        yield (
            "api",
            "POST",
            "/api/v1/parcels/batch/",
            {"parcels": [{**good, "tracking_number": number}, {**good, "tracking_number": "OK1"}]},
        )
        path = quote(number, safe="")
        for tail in ("", "cancel/", "recall/", "events/"):
            method = "GET" if not tail else "POST"
            body = {"kind": "in_transit", "occurred_at": "2026-12-01T08:00:00Z"}
            yield "api", method, f"/api/v1/parcels/{path}/{tail}", body if tail else None
    for value in JSON_VALUES:
        for field in ("tracking_number", "station", "recipient_name", "recipient_phone"):
            yield "api", "POST", "/api/v1/parcels/", {**good, "tracking_number": "V1", field: value}
        yield (
            "api",
            "POST",
            "/api/v1/parcels/batch/",
            {"parcels": [value, {**good, "tracking_number": "V2"}]},
        )
        yield "api", "POST", "/api/v1/parcels/batch/", {"parcels": value}
        yield "api", "POST", "/api/v1/parcels/", value
    for raw in (DEEP, DEEP_OBJ, "{", "nul\x00", '{"parcels": ' + DEEP + "}"):
        for path in ("/api/v1/parcels/", "/api/v1/parcels/batch/", "/api/v1/webhooks/"):
            yield "api", "POST", path, raw
    yield (
        "api",
        "POST",
        "/api/v1/parcels/batch/",
        {"parcels": [{**good, "tracking_number": "SEEN1", "station": "no-such-station"}]},
    )
    for c in CURSORS:
        for path in ("/api/v1/parcels/", "/api/v1/stations/"):
            yield "api", "GET", f"{path}?cursor={quote(c)}", None
    for q in (
        "page_size=0",
        "page_size=-1",
        "page_size=100000",
        "page_size=x",
        "status=nope",
        "updated_since=nope",
        "updated_since=99999-01-01",
        "station=%00",
    ):
        yield "api", "GET", f"/api/v1/parcels/?{q}", None
    for q in (
        "near=x",
        "near=91,0",
        "near=1,2,3",
        "near=1.3,103.8&radius_km=nan",
        "near=1.3,103.8&radius_km=1e309",
        "near=nan,nan",
    ):
        yield "api", "GET", f"/api/v1/stations/?{q}", None
    for q in ("month=x", "month=9999-99", "month=0000-01", "month=%00"):
        yield "api", "GET", f"/api/v1/invoices/?{q}", None
    urls = [
        "https://" + "ü" * 70 + ".example/",
        "https://" + "a" * 64 + ".example/",
        "https://" + "ü" * 300 + ".example/",
        "https://xn--.example/",
        "https://exa mple.com/",
        "https://[::1]/",
        "https://127.0.0.1/",
        "https://0x7f.1/",
        "ftp://example.com/",
        "https://example.com:99999/",
        "https://" + "a" * 3000 + ".com/",
        "https://\x00.com/",
        "javascript:alert(1)",
    ]
    for url in urls:
        yield "api", "POST", "/api/v1/webhooks/", {"url": url, "events": ["parcel.picked_up"]}
        yield "api", "PATCH", "/api/v1/webhooks/1/", {"url": url}
    for events in (None, [], ["nope"], "parcel.picked_up", [None], [{}]):
        yield "api", "POST", "/api/v1/webhooks/", {"url": "https://example.com/h", "events": events}
    for path in (
        "/api/v1/webhooks/99999/rotate-secret/",
        "/api/v1/webhooks/deliveries/99999/redeliver/",
    ):
        yield "api", "POST", path, None
    for number in TRACKING:
        yield "portal", "POST", f"/s/{slug}/check-in/", {"tracking_number": number}
        yield "portal", "POST", f"/s/{slug}/check-out/", {"credential": number}
        yield "portal", "GET", f"/s/{slug}/shelf/?q={quote(number, safe='')}", None
        yield "buyer", "GET", f"/p/{quote(number, safe='')}/", None


def main() -> None:
    fresh_database()
    partner = Partner.objects.create(name="Probe Carrier", slug="probe-carrier")
    _key, raw_key = api_key_create(partner=partner, name="probe")
    station = Station.objects.create(
        name="Probe Station",
        slug="probe-station",
        address="1 Probe Road",
        postal_code="100001",
        latitude="1.300000",
        longitude="103.800000",
        phone="+6561234567",
        capacity=300,
        status=Station.Status.ACTIVE,
    )
    user = User.objects.filter(email="probe-clerk@example.com").first()
    if user is None:
        user = User.objects.create_user(email="probe-clerk@example.com", password=None)
    Membership.objects.create(user=user, station=station, role=Membership.Role.CLERK)

    api = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    portal = Client(raise_request_exception=False)
    portal.force_login(user)
    buyer = Client(raise_request_exception=False)
    clients = {"api": api, "portal": portal, "buyer": buyer}

    statuses: Counter[int] = Counter()
    failures = []
    total = 0
    for face, method, path, body in requests(station.slug):
        client = clients[face]
        kwargs: dict = {}
        if face == "api" and body is not None:
            kwargs = {
                "data": body if isinstance(body, str) else json.dumps(body),
                "content_type": "application/json",
            }
        elif body is not None:
            kwargs = {"data": body}
        if face == "api" and method != "GET":
            response = client.generic(method, path, **kwargs)
        else:
            response = getattr(client, method.lower())(path, **kwargs)
        total += 1
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            failures.append((face, method, path[:100], repr(body)[:100]))
    print(f"{total} requests: " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
    fives = sum(n for s, n in statuses.items() if s >= 500)
    print(f"5xx: {fives}")
    for failure in failures:
        print("  ", *failure)
    sys.exit(1 if fives else 0)


if __name__ == "__main__":
    main()
