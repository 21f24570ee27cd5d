"""Who gets what on every route: one table, (who, method, url) → status, and a walk of the URL
resolver that fails when a route has no row, so that a new URL cannot land without saying who may
use it.

The web's actors are a logged-out visitor, a stranger (logged in, member of no station), a clerk of
another station, the clerk and the owner of the station, and a network admin (staff, member of no
station). The API's are a request without a key, another partner's key and the partner's own key.
Within a row the actors take their turn in the columns' order, the most entitled last, so that a
row's one request that changes something (the owner removing the clerk, the partner deleting its
endpoint) comes after everyone else has been refused.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.contrib import admin
from django.contrib.auth.hashers import MD5PasswordHasher
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.test import Client
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve
from rest_framework.test import APIClient

from parcels import services
from parcels.models import Parcel
from partners.models import Partner, WebhookDelivery, WebhookMessage
from partners.services import api_key_create, webhook_endpoint_create
from stations import services as station_services
from stations.models import Membership, Statement, Station, User
from stations.tenancy import network_scope, station_scope
from tests.conftest import make_partner, make_station

pytestmark = pytest.mark.django_db

_numbers = itertools.count(1)

WEB = ("anonymous", "stranger", "other_clerk", "clerk", "owner", "admin")
API = ("no_key", "other_key", "key")

# 302 to the log-in page (the portal, the admin) or elsewhere (a form's answer); 405 for a method
# the route does not take.
# fmt: off
WEB_ROWS: list[tuple[Any, ...]] = [
    # method  url                                               anon strgr oclrk clerk owner admin
    # Someone working at one station is taken straight to it.
    ("GET",  "/",                                               200, 200, 302, 302, 302, 200),
    ("GET",  "/?all",                                           200, 200, 200, 200, 200, 200),
    ("GET",  "/stations/apply/",                                302, 200, 200, 200, 200, 200),
    ("GET",  "/invite/{invitation_token}/",                     200, 200, 200, 200, 200, 200),
    ("GET",  "/invite/no-such-invitation/",                     404, 404, 404, 404, 404, 404),
    ("POST", "/i18n/setlang/",                                  302, 302, 302, 302, 302, 302),
    # The station portal: members only, the owner's pages for the owner only.
    ("GET",  "/s/{station}/",                                   302, 404, 404, 200, 200, 404),
    ("GET",  "/s/{station}/check-in/",                          302, 404, 404, 200, 200, 404),
    ("GET",  "/s/{station}/check-out/",                         302, 404, 404, 200, 200, 404),
    ("GET",  "/s/{station}/shelf/",                             302, 404, 404, 200, 200, 404),
    ("GET",  "/s/{station}/returns/",                           302, 404, 404, 200, 200, 404),
    ("GET",  "/s/{station}/returns/{hand_back}/",               302, 404, 404, 200, 200, 404),
    ("GET",  "/s/{station}/returns/{other_hand_back}/",         302, 404, 404, 404, 404, 404),
    ("GET",  "/s/{station}/staff/",                             302, 404, 404, 404, 200, 404),
    ("POST", "/s/{station}/staff/{clerk_membership}/remove/",   302, 404, 404, 404, 302, 404),
    ("POST", "/s/{station}/staff/invitations/{invitation}/withdraw/",
                                                                302, 404, 404, 404, 302, 404),
    ("GET",  "/s/{station}/settings/",                          302, 404, 404, 404, 200, 404),
    ("GET",  "/s/{station}/earnings/",                          302, 404, 404, 404, 200, 404),
    ("GET",  "/s/{station}/earnings.csv",                       302, 404, 404, 404, 200, 404),
    ("GET",  "/s/{station}/earnings/statements/{statement}/",   302, 404, 404, 404, 200, 404),
    ("GET",  "/s/{station}/earnings/statements/{other_statement}/",
                                                                302, 404, 404, 404, 404, 404),
    ("GET",  "/s/no-such-station/",                             302, 404, 404, 404, 404, 404),
    # The buyer's pages: whoever holds the link, and nobody without it.
    ("GET",  "/p/{token}/",                                     200, 200, 200, 200, 200, 200),
    ("GET",  "/p/{token}/qr.svg",                               200, 200, 200, 200, 200, 200),
    ("GET",  "/p/{token}/qr.png",                               200, 200, 200, 200, 200, 200),
    ("POST", "/p/{token}/extend/",                              302, 302, 302, 302, 302, 302),
    ("GET",  "/p/{wrong_token}/",                               404, 404, 404, 404, 404, 404),
    ("GET",  "/p/{wrong_token}/qr.svg",                         404, 404, 404, 404, 404, 404),
    ("POST", "/p/{wrong_token}/extend/",                        404, 404, 404, 404, 404, 404),
    # Accounts (django-allauth).
    ("GET",  "/accounts/login/",                                200, 302, 302, 302, 302, 302),
    ("GET",  "/accounts/login/code/confirm/",                   302, 302, 302, 302, 302, 302),
    ("POST", "/accounts/logout/",                               302, 302, 302, 302, 302, 302),
    ("GET",  "/accounts/inactive/",                             200, 200, 200, 200, 200, 200),
    ("GET",  "/accounts/signup/",                               200, 302, 302, 302, 302, 302),
    ("GET",  "/accounts/reauthenticate/",                       302, 200, 200, 200, 200, 200),
    ("GET",  "/accounts/email/",                                302, 200, 200, 200, 200, 200),
    ("GET",  "/accounts/confirm-email/",                        200, 200, 200, 200, 200, 200),
    ("GET",  "/accounts/confirm-email/no-such-key/",            200, 200, 200, 200, 200, 200),
    ("GET",  "/accounts/password/change/",                      302, 200, 200, 200, 200, 200),
    ("GET",  "/accounts/password/set/",                         302, 302, 302, 302, 302, 302),
    ("GET",  "/accounts/password/reset/",                       200, 200, 200, 200, 200, 200),
    ("GET",  "/accounts/password/reset/done/",                  200, 200, 200, 200, 200, 200),
    ("GET",  "/accounts/password/reset/key/1-no-such-key/",     200, 200, 200, 200, 200, 200),
    ("GET",  "/accounts/password/reset/key/done/",              200, 200, 200, 200, 200, 200),
    # The network admin: staff only; everyone else is sent to the admin's log-in.
    ("GET",  "/admin/",                                         302, 302, 302, 302, 302, 200),
    ("GET",  "/admin/login/",                                   200, 200, 200, 200, 200, 302),
    ("POST", "/admin/logout/",                                  302, 302, 302, 302, 302, 200),
    ("GET",  "/admin/password_change/",                         302, 302, 302, 302, 302, 200),
    ("GET",  "/admin/password_change/done/",                    302, 302, 302, 302, 302, 200),
    ("GET",  "/admin/autocomplete/",                            302, 302, 302, 302, 302, 403),
    ("GET",  "/admin/jsi18n/",                                  302, 302, 302, 302, 302, 200),
    ("GET",  "/admin/r/{station_type}/{station_pk}/",        302, 302, 302, 302, 302, 404),
    ("GET",  "/admin/stations/",                                302, 302, 302, 302, 302, 200),
    ("GET",  "/admin/stations/user/{owner_pk}/password/",     302, 302, 302, 302, 302, 200),
    ("GET",  "/admin/no-such-page/",                            302, 302, 302, 302, 302, 404),
]

# The admin's pages for each registered model, as the network admin sees them (everyone else is
# sent to log in): 403 where the model cannot be added or deleted there (the ledger, the events).
ADMIN_MODELS: list[tuple[str, tuple[int, ...]]] = [
    # model                    changelist add  change history delete
    ("auth.group",                 (200, 200, 200, 200, 200)),
    ("account.emailaddress",       (200, 200, 200, 200, 200)),
    ("stations.user",              (200, 200, 200, 200, 200)),
    ("stations.station",           (200, 200, 200, 200, 200)),
    ("stations.membership",        (200, 200, 200, 200, 200)),
    ("stations.ledgerline",        (200, 200, 200, 200, 403)),  # add: a correction
    ("stations.statement",         (200, 403, 200, 200, 403)),
    ("partners.partner",           (200, 200, 200, 200, 200)),
    ("partners.tariff",            (200, 200, 200, 200, 200)),
    ("partners.apikey",            (200, 200, 200, 200, 403)),
    ("partners.webhookendpoint",   (200, 200, 200, 200, 200)),
    ("partners.webhookdelivery",   (200, 403, 200, 200, 200)),
    ("parcels.parcel",             (200, 403, 200, 200, 403)),
    ("parcels.parcelevent",        (200, 403, 200, 200, 403)),
    ("parcels.handover",           (200, 403, 200, 200, 403)),
    ("parcels.handback",           (200, 403, 200, 200, 403)),
    ("parcels.notice",             (200, 403, 200, 200, 403)),
]

# The partner API: a key is needed everywhere but on its schema and docs; another partner's
# parcels, endpoints and deliveries are a 404, exactly like ones that do not exist.
API_ROWS: list[tuple[Any, ...]] = [
    # method    url                                              no key  other  own key
    ("GET",    "/api/v1/parcels/",                               401,    200,   200),
    ("POST",   "/api/v1/parcels/",                               401,    201,   201),
    ("POST",   "/api/v1/parcels/batch/",                         401,    400,   400),
    ("GET",    "/api/v1/parcels/{parcel}/",                      401,    404,   200),
    ("POST",   "/api/v1/parcels/{announced}/cancel/",            401,    404,   200),
    ("POST",   "/api/v1/parcels/{parcel}/recall/",               401,    404,   200),
    ("POST",   "/api/v1/parcels/{parcel}/events/",               401,    404,   201),
    ("GET",    "/api/v1/parcels/{parcel}/events/",               401,    405,   405),
    ("GET",    "/api/v1/stations/",                              401,    200,   200),
    ("GET",    "/api/v1/webhooks/",                              401,    200,   200),
    ("POST",   "/api/v1/webhooks/",                              401,    201,   201),
    ("GET",    "/api/v1/webhooks/{webhook}/",                    401,    405,   405),
    ("PATCH",  "/api/v1/webhooks/{webhook}/",                    401,    404,   200),
    ("POST",   "/api/v1/webhooks/{webhook}/rotate-secret/",      401,    404,   200),
    ("GET",    "/api/v1/webhooks/{webhook}/deliveries/",         401,    404,   200),
    ("POST",   "/api/v1/webhooks/deliveries/{delivery}/redeliver/", 401, 404,   202),
    ("DELETE", "/api/v1/webhooks/{webhook}/",                    401,    404,   204),
    ("GET",    "/api/v1/invoices/",                              401,    200,   200),
    ("GET",    "/api/v1/schema/",                                200,    200,   200),
    ("GET",    "/api/v1/docs/",                                  200,    200,   200),
    ("GET",    "/api/v1/no-such-resource/",                      404,    404,   404),
]
# fmt: on

# What the POST and PATCH rows send (JSON for the API, a form for the pages): enough to be
# accepted, so that a 404 is about who asks, not about what they sent.
BODIES: dict[str, dict[str, Any]] = {
    "POST /api/v1/parcels/": {
        "tracking_number": "ACCESSNEW1",
        "station": "{station}",
        "recipient_name": "Tan Mei Ling",
        "recipient_phone": "+6591234567",
    },
    "POST /api/v1/parcels/{parcel}/events/": {
        "kind": "dispatched",
        "occurred_at": "2026-01-01T08:00:00+08:00",
    },
    "POST /api/v1/webhooks/": {"url": "https://partner.example/h2", "events": ["parcel.returned"]},
    "PATCH /api/v1/webhooks/{webhook}/": {"active": False},
    "POST /i18n/setlang/": {"language": "ms", "next": "/"},
}


def admin_rows() -> list[tuple[Any, ...]]:
    """The ADMIN_MODELS table as rows: the network admin's column from it, everyone else's 302."""
    rows = []
    for label, (changelist, add, change, history, delete) in ADMIN_MODELS:
        base = "/admin/" + label.replace(".", "/") + "/"
        obj = base + "{admin_" + label.replace(".", "_") + "}/"
        for url, status in [
            (base, changelist),
            (base + "add/", add),
            (obj + "change/", change),
            (obj + "history/", history),
            (obj + "delete/", delete),
            (obj, 302),  # the old address of the change form
        ]:
            rows.append(("GET", url, 302, 302, 302, 302, 302, status))
    return rows


@dataclass
class Row:
    who: tuple[str, ...]
    method: str
    url: str
    expected: list[int]

    def __str__(self) -> str:
        return f"{self.method} {self.url}"


ROWS = [Row(WEB, method, url, list(statuses)) for method, url, *statuses in WEB_ROWS] + [
    Row(WEB, method, url, list(statuses)) for method, url, *statuses in admin_rows()
]
ROWS += [Row(API, method, url, list(statuses)) for method, url, *statuses in API_ROWS]

# Rows whose answer today is a bug, not a rule: strict, so the fix makes them fail until the
# mark is removed.
KNOWN_BUGS: dict[str, type[Exception]] = {}


def params() -> list:
    return [
        pytest.param(row, id=str(row), marks=pytest.mark.xfail(raises=bug, strict=True))
        if (bug := KNOWN_BUGS.get(str(row)))
        else pytest.param(row, id=str(row))
        for row in ROWS
    ]


class World(dict):
    """The ids and tokens the URLs name, for str.format_map."""

    def __missing__(self, key: str) -> Any:
        if key.startswith("admin_"):  # admin_<app>_<model>: that model's first row
            label = key.removeprefix("admin_")
            model = next(
                m for m in admin.site._registry if m._meta.label_lower.replace(".", "_") == label
            )
            with network_scope():
                return model._default_manager.order_by("pk").values_list("pk", flat=True)[0]
        raise KeyError(key)


def person(email: str, **kwargs: Any) -> User:
    # A usable password (some account pages differ without one), hashed the fast way: this
    # fixture outlives the per-test setting of PASSWORD_HASHERS.
    user = User.objects.create_user(email, None, **kwargs)
    user.password = MD5PasswordHasher().encode("pw-access-123", "access")
    user.save(update_fields=["password"])
    return user


def parcel_on_shelf(station: Station, partner: Partner, clerk: User) -> Parcel:
    number = f"ACCESS{next(_numbers):06d}"
    with network_scope():
        services.parcel_announce(
            partner=partner,
            station=station,
            tracking_number=number,
            recipient_name="Tan Mei Ling",
            recipient_phone="+6591234567",
            actor=partner,
        )
    with station_scope(station.pk):
        return services.parcel_check_in(station=station, tracking_number=number, actor=clerk)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """One of everything a route names, at the station and at another station, made once for
    the module inside a transaction that each test's own transaction nests in (as Django's
    TestCase.setUpTestData does): a test's changes are rolled back, the world is rolled back
    after the last test."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield make_world()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def make_world() -> dict[str, Any]:
    owner = person("owner@access.example")
    clerk = person("clerk@access.example")
    other_clerk = person("other-clerk@access.example")
    stranger = person("stranger@access.example")
    staff = person("admin@access.example", is_staff=True, is_superuser=True)
    station, other_station = make_station("Station A"), make_station("Station B")
    for user, at, role in [
        (owner, station, Membership.Role.OWNER),
        (clerk, station, Membership.Role.CLERK),
        (other_clerk, other_station, Membership.Role.CLERK),
    ]:
        Membership.objects.create(user=user, station=at, role=role)
    partner = make_partner("SwiftPost", hold_days=7, handover_fee=45, return_fee=20)
    other_partner = make_partner("LionExpress", hold_days=5, handover_fee=50, return_fee=25)
    Group.objects.create(name="network support")
    EmailAddress.objects.create(user=owner, email=owner.email, primary=True, verified=True)

    on_shelf = parcel_on_shelf(station, partner, clerk)
    handed_over = parcel_on_shelf(station, partner, clerk)
    returned = parcel_on_shelf(station, partner, clerk)
    theirs = parcel_on_shelf(other_station, other_partner, other_clerk)
    with station_scope(station.pk):
        services.parcel_hand_over(station=station, credential=handed_over.pickup_code, actor=clerk)
        services.parcel_mark_return_due(parcel=returned, reason="overdue", actor=None)
        hand_back = services.parcels_hand_back(
            station=station, parcel_ids=[returned.pk], courier_name="Ahmad", actor=clerk
        )
        invitation = station_services.invitation_create(
            station=station, email="new-clerk@access.example", invited_by=owner
        )
    with station_scope(other_station.pk):
        services.parcel_mark_return_due(parcel=theirs, reason="overdue", actor=None)
        other_hand_back = services.parcels_hand_back(
            station=other_station, parcel_ids=[theirs.pk], courier_name="Ahmad", actor=other_clerk
        )
    with network_scope():
        statement, other_statement = (
            Statement.objects.create(
                station=at, month=dt.date(2026, 10, 1), currency="SGD", total=0
            )
            for at in (station, other_station)
        )
        announced, _created = services.parcel_announce(
            partner=partner,
            station=station,
            tracking_number="ACCESSANNOUNCED",
            recipient_name="Tan Mei Ling",
            recipient_phone="+6591234567",
            actor=partner,
        )
    endpoint = webhook_endpoint_create(
        partner=partner, url="https://partner.example/hooks", events=["parcel.picked_up"]
    )
    message = WebhookMessage.objects.create(
        partner=partner, msg_id="msg_access_table", event_type="parcel.picked_up", payload={}
    )
    delivery = WebhookDelivery.objects.create(message=message, endpoint=endpoint, status="failed")
    return {
        "users": {
            "stranger": stranger,
            "other_clerk": other_clerk,
            "clerk": clerk,
            "owner": owner,
            "admin": staff,
        },
        "keys": {
            "other_key": api_key_create(partner=other_partner, name="access")[1],
            "key": api_key_create(partner=partner, name="access")[1],
        },
        "values": World(
            station=station.slug,
            hand_back=hand_back.pk,
            other_hand_back=other_hand_back.pk,
            clerk_membership=clerk.memberships.get(station=station).pk,
            invitation=invitation.pk,
            invitation_token=invitation.token,
            statement=statement.pk,
            other_statement=other_statement.pk,
            token=on_shelf.pickup_token,
            wrong_token="x" + on_shelf.pickup_token[1:],
            parcel=on_shelf.tracking_number,
            announced=announced.tracking_number,
            webhook=endpoint.pk,
            delivery=delivery.pk,
            station_type=ContentType.objects.get_for_model(station).pk,
            station_pk=station.pk,
            owner_pk=owner.pk,
        ),
    }


def client_for(who: str, world: dict) -> Client:
    if who in API:
        client = APIClient()
        if who in world["keys"]:
            client.credentials(HTTP_AUTHORIZATION=f"Api-Key {world['keys'][who]}")
        return client
    client = Client()
    if who in world["users"]:
        client.force_login(world["users"][who])
    return client


@pytest.mark.parametrize("row", params())
def test_who_gets_what(row: Row, world):
    values = world["values"]
    url = row.url.format_map(values)
    body = {
        field: value.format_map(values) if isinstance(value, str) else value
        for field, value in BODIES.get(str(row), {}).items()
    }
    answers = {}
    for who in row.who:
        send = getattr(client_for(who, world), row.method.lower())
        if row.who == API and row.method != "GET":
            response = send(url, body, format="json")
        else:
            response = send(url, body) if body else send(url)
        answers[who] = response.status_code
    assert answers == dict(zip(row.who, row.expected, strict=True)), url


def routes(patterns: list, prefix: str = "") -> list[str]:
    """Every route of the URL configuration, written as Django's resolver writes a match's
    `route` (the patterns of the includes joined, a regex's leading ^ dropped past the first)."""
    found = []
    for pattern in patterns:
        text = str(pattern.pattern)
        joined = prefix + (text.removeprefix("^") if prefix else text)
        if isinstance(pattern, URLResolver):
            found += routes(pattern.url_patterns, joined)
        else:
            assert isinstance(pattern, URLPattern)
            found.append(joined)
    return found


def test_every_route_has_a_row(world):
    covered = set()
    for row in ROWS:
        with contextlib.suppress(Resolver404):  # a row for an address no route takes
            covered.add(resolve(row.url.format_map(world["values"]).split("?")[0]).route)
    missing = [route for route in routes(get_resolver().url_patterns) if route not in covered]
    assert missing == [], "routes with no row in the access table (add one): " + ", ".join(missing)
