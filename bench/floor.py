"""The references for bench/handover.py: the SQL one real check-out and one real check-in issue,
run by a minimal Django view and by pgbench.

The statements below follow, one for one, what the portal's requests send to PostgreSQL
(`python bench/handover.py --show-sql` prints those): the user and the membership the
middleware reads (the session itself is read from Redis), the parcel lookups, the row lock, the
status change, the event, the handover and its ledger line (or the notices of a check-in and the
session written through), and what the answer lists. The floor view runs them through Django's
own connection with nothing else: no middleware, no ORM, no templates, no session or CSRF.
pgbench runs the same statements as one transaction script.

This module is also the floor's settings module and URLconf:

    DJANGO_SETTINGS_MODULE=bench.floor gunicorn bench.floor:application
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets

import environ

ON_SHELF_AT_CHECK_IN = 100  # bench/handover.py fills each check-in shelf with this many first


def checkout_token(station_id: int, j: int) -> str:
    """The pickup token of parcel j on check-out station `station_id` (as prepared in SQL)."""
    return "bench" + hashlib.md5(f"{station_id}-{j}".encode()).hexdigest()  # noqa: S324


def checkin_tracking(station_id: int, j: int) -> str:
    return f"CI{station_id:04d}-{j:06d}"


def session_key(client: int) -> str:
    return f"benchfloor{client:02d}"


# --- the statements -----------------------------------------------------------------------------
# Each is (sql, names it reads back for later statements). "BEGIN"/"COMMIT" mark the service's
# transaction. %(name)s are parameters; pgbench_script() turns them into pgbench variables.

# The session itself comes from the cache (Redis), not from SQL: see config/settings.py.
_MIDDLEWARE = [
    ("SELECT * FROM stations_user WHERE id = %(user)s LIMIT 21", ()),
    (
        "SELECT m.*, s.* FROM stations_membership m"
        " JOIN stations_station s ON m.station_id = s.id"
        " WHERE m.user_id = %(user)s AND s.slug = %(slug)s LIMIT 1",
        (),
    ),
]

_LOCK_PARCEL = (
    "SELECT p.*, pa.* FROM parcels_parcel p JOIN partners_partner pa ON p.partner_id = pa.id"
    " WHERE p.station_id = %(station)s AND p.id = %(parcel)s ORDER BY p.id FOR UPDATE OF p",
    (),
)
_WEBHOOK_ENDPOINTS = (
    "SELECT * FROM partners_webhookendpoint WHERE partner_id IN (%(partner)s) AND active = true",
    (),
)

CHECKOUT = [
    *_MIDDLEWARE,
    (
        "SELECT p.id AS parcel, p.partner_id AS partner, p.*, pa.* FROM parcels_parcel p"
        " JOIN partners_partner pa ON p.partner_id = pa.id"
        " WHERE p.station_id = %(station)s AND p.pickup_token = %(token)s ORDER BY p.id LIMIT 1",
        ("parcel", "partner"),
    ),
    # No row lock first: the conditional UPDATE takes it and decides (parcels.services).
    ("BEGIN", ()),
    (
        "UPDATE parcels_parcel SET status = 'picked_up', updated_at = now(), picked_up_at = now()"
        " WHERE id IN (%(parcel)s) AND status IN ('at_station')"
        " AND announced_at IS NOT NULL",  # as announced as when it was read
        (),
    ),
    _WEBHOOK_ENDPOINTS,
    (
        "INSERT INTO parcels_parcelevent (parcel_id, kind, occurred_at, station_id,"
        " actor_user_id, actor_partner_id, detail, created_at) VALUES (%(parcel)s,"
        " 'parcel.picked_up', now(), %(station)s, %(user)s, NULL, '{\"method\": \"token\"}',"
        " now()) RETURNING id",
        (),
    ),
    (
        "INSERT INTO parcels_handover (parcel_id, station_id, partner_id, clerk_id, method,"
        " handed_over_at) VALUES (%(parcel)s, %(station)s, %(partner)s, %(user)s, 'token', now())"
        " RETURNING id",
        (),
    ),
    (
        "SELECT id AS tariff, handover_fee AS fee FROM partners_tariff"
        " WHERE partner_id = %(partner)s AND valid_from <= current_date"
        " ORDER BY valid_from DESC LIMIT 1",
        ("tariff", "fee"),
    ),
    (
        "INSERT INTO stations_ledgerline (station_id, partner_id, parcel_id, tariff_id, kind,"
        " amount, currency, reason, created_by_id, created_at) VALUES (%(station)s,"
        " %(partner)s, %(parcel)s, %(tariff)s, 'handover', %(fee)s, 'SGD', '', NULL, now())"
        " RETURNING id",
        (),
    ),
    ("COMMIT", ()),
]

CHECKIN = [
    *_MIDDLEWARE,
    ("BEGIN", ()),
    ("SELECT * FROM stations_station WHERE id = %(station)s LIMIT 21 FOR NO KEY UPDATE", ()),
    (
        "SELECT id AS parcel, partner_id AS partner, station_id, status FROM parcels_parcel"
        " WHERE station_id = %(station)s AND tracking_number = %(tracking)s"
        " ORDER BY id LIMIT 10",
        ("parcel", "partner"),
    ),
    _LOCK_PARCEL,
    (
        "SELECT shelf_slot, pickup_code, status FROM parcels_parcel"
        " WHERE station_id = %(station)s AND status IN ('at_station', 'return_due')",
        ("occupancy",),
    ),
    (
        "UPDATE parcels_parcel SET status = 'at_station', updated_at = now(),"
        " checked_in_at = now(), shelf_slot = %(slot)s, pickup_token = %(token)s,"
        " pickup_code = lpad(%(code)s::text, 6, '0'), hold_deadline = now() + interval '7 days'"
        " WHERE id IN (%(parcel)s) AND status IN ('announced')",
        (),
    ),
    _WEBHOOK_ENDPOINTS,
    (
        "INSERT INTO parcels_parcelevent (parcel_id, kind, occurred_at, station_id,"
        " actor_user_id, actor_partner_id, detail, created_at) VALUES (%(parcel)s,"
        " 'parcel.checked_in', now(), %(station)s, %(user)s, NULL,"
        ' \'{"slot": "C-01", "announced": true}\', now()) RETURNING id',
        (),
    ),
    (
        "INSERT INTO parcels_notice (parcel_id, kind, channel, status, due_at, queued_until,"
        " attempts, last_error, sent_at, created_at) VALUES"
        " (%(parcel)s, 'pickup', 'sms', 'pending', now(), NULL, 0, '', NULL, now()),"
        " (%(parcel)s, 'reminder', 'sms', 'pending', now() + interval '5 days', NULL, 0, '',"
        " NULL, now()),"
        " (%(parcel)s, 'final', 'sms', 'pending', now() + interval '6 days', NULL, 0, '', NULL,"
        " now()) RETURNING id",  # the pickup notice is queued by its id after the commit
        (),
    ),
    ("COMMIT", ()),
    (
        # The page lists this session's latest 30 check-ins: here the 30 before this one.
        "SELECT p.*, pa.* FROM parcels_parcel p JOIN partners_partner pa ON p.partner_id = pa.id"
        " WHERE p.station_id = %(station)s AND p.id BETWEEN %(parcel)s - 29 AND %(parcel)s",
        (),
    ),
    ("BEGIN", ()),
    (
        "UPDATE django_session SET session_data = %(session_data)s,"
        " expire_date = now() + interval '14 days' WHERE session_key = %(session)s",
        (),
    ),
    ("COMMIT", ()),
]

PICKUP_PAGE = [
    (
        "SELECT p.id AS parcel, pa.*, s.* FROM parcels_parcel p"
        " JOIN partners_partner pa ON p.partner_id = pa.id"
        " JOIN stations_station s ON p.station_id = s.id"
        " WHERE p.pickup_token = %(token)s ORDER BY p.id LIMIT 1",
        ("parcel",),
    ),
    (
        "SELECT * FROM parcels_parcelevent WHERE parcel_id = %(parcel)s ORDER BY occurred_at, id",
        (),
    ),
]

FLOWS = {"checkout": CHECKOUT, "checkin": CHECKIN, "pickup": PICKUP_PAGE}
SESSION_DATA = "x" * 330  # about the size of a signed session with 30 recent check-ins

# What pgbench computes itself where the view computes in Python.
_PGBENCH_EXPRESSIONS = {
    "checkout": {"token": "'bench' || md5(:station || '-' || :j)"},
    "checkin": {
        "tracking": "'CI' || lpad(:station::text, 4, '0') || '-' || lpad(:j::text, 6, '0')",
        "token": "md5(random()::text)",
        "slot": f"{ON_SHELF_AT_CHECK_IN + 1} + :j",
        "code": "100000 + :j",
        "session_data": f"repeat('x', {len(SESSION_DATA)})",
    },
}
_PARAM = re.compile(r"%\((\w+)\)s")


def pgbench_script(flow: str) -> str:
    """The flow as a pgbench script. Client k works at station first_station + k, as user
    first_user + k with session benchfloor{k}, on parcel j = 0, 1, 2 … (j persists between a
    client's transactions)."""
    expressions = _PGBENCH_EXPRESSIONS[flow]
    slug_prefix = f"{flow} pgbench ".replace(" ", "-")
    lines = [
        "\\set j :j + 1",
        "\\set station :first_station + :client_id",
        "\\set user :first_user + :client_id",
        "\\set client :client_id",
    ]

    def convert(match: re.Match) -> str:
        name = match.group(1)
        if name in expressions:
            return f"({expressions[name]})"
        if name == "session":
            return "('benchfloor' || lpad(:client::text, 2, '0'))"
        if name == "slug":
            return f"('{slug_prefix}' || lpad(:client::text, 2, '0'))"
        return f":{name}"

    for sql, reads in FLOWS[flow]:
        if sql in ("BEGIN", "COMMIT"):
            lines.append(f"{sql};")
            continue
        statement = _PARAM.sub(convert, sql)
        if reads and reads != ("occupancy",):
            lines.append(f"{statement} \\gset")
        else:
            lines.append(f"{statement};")
    return "\n".join(lines) + "\n"


# --- the floor view -----------------------------------------------------------------------------

_env = environ.Env()
DEBUG = False
SECRET_KEY = "floor-benchmark-only"  # noqa: S105 - signs nothing
ALLOWED_HOSTS = ["127.0.0.1"]
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.floor"
DATABASES = {"default": _env.db_url("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = 60  # as config.settings: one connection per worker
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if _env.bool("DATABASE_SERVER_SIDE_BINDING", default=False):  # as config.settings, so both
    DATABASES["default"]["OPTIONS"] = {  # sides of a comparison talk to PostgreSQL alike
        "server_side_binding": True,
        "prepare_threshold": _env.int("DATABASE_PREPARE_THRESHOLD", default=5),
    }
USE_TZ = True


def _run(flow: str, params: dict) -> None:
    from django.db import connection, transaction

    with connection.cursor() as cur:
        atomic = None
        for sql, reads in FLOWS[flow]:
            if sql == "BEGIN":
                atomic = transaction.atomic()
                atomic.__enter__()
                continue
            if sql == "COMMIT":
                atomic.__exit__(None, None, None)
                continue
            if "%(slot)s" in sql:  # the check-in's slot and code, as the service picks them
                slots = {slot for slot, _, _ in params["occupancy"] if slot}
                taken = {code for _, code, status in params["occupancy"] if code}
                params["slot"] = next(s for s in range(1, len(slots) + 2) if s not in slots)
                params["code"] = next(
                    c
                    for c in iter(lambda: f"{secrets.randbelow(10**6):06d}", None)
                    if c not in taken
                )
                params["token"] = secrets.token_urlsafe(24)
            cur.execute(sql, params)
            if reads == ("occupancy",):
                params["occupancy"] = cur.fetchall()
            elif reads:
                row = cur.fetchone()
                params.update(zip(reads, row[: len(reads)], strict=True))
            elif cur.description:
                cur.fetchall()


def flow_view(request, flow: str):
    from django.http import HttpResponse

    station, j, client = (int(request.POST[k]) for k in ("station", "j", "client"))
    params = {
        "station": station,
        "user": int(request.POST["user"]),
        "slug": request.POST["slug"],
        "session": session_key(client),
        "session_data": SESSION_DATA,
        "token": checkout_token(station, j),
        "tracking": checkin_tracking(station, j),
    }
    _run(flow, params)
    return HttpResponse(b"ok")


def pickup_view(request, station: int, j: int):
    from django.http import HttpResponse

    params = {"token": checkout_token(station, j)}
    _run("pickup", params)
    return HttpResponse(b"ok")


def up(request):
    from django.http import HttpResponse

    return HttpResponse(b"up")


def _urls():
    from django.urls import path

    return [
        path("up/", up),
        path("checkout/", flow_view, {"flow": "checkout"}),
        path("checkin/", flow_view, {"flow": "checkin"}),
        path("pickup/<int:station>/<int:j>/", pickup_view),
    ]


if os.environ.get("DJANGO_SETTINGS_MODULE") == "bench.floor":
    urlpatterns = _urls()
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
