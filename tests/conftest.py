"""Shared fixtures: two stations, two partners, an owner, a clerk and an outsider, so every module
can ask "and the wrong person?" cheaply."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from parcels import services
from parcels.models import Parcel
from partners.models import Partner, Tariff
from stations.models import Membership, Station, User
from stations.tenancy import network_scope, station_scope

_numbers = itertools.count(1)


@pytest.fixture
def owner(db) -> User:
    return User.objects.create_user("owner@test.example", "pw-owner-123", full_name="Olivia Owner")


@pytest.fixture
def clerk(db) -> User:
    return User.objects.create_user("clerk@test.example", "pw-clerk-123", full_name="Carl Clerk")


@pytest.fixture
def outsider(db) -> User:
    return User.objects.create_user("outsider@test.example", "pw-out-123")


@pytest.fixture
def admin_user(db) -> User:
    return User.objects.create_superuser("admin@test.example", "pw-admin-123")


def make_station(name: str, *, capacity: int = 50, status: str = Station.Status.ACTIVE) -> Station:
    return Station.objects.create(
        name=name,
        slug=name.lower().replace(" ", "-"),
        address="1 Test Street",
        postal_code="123456",
        latitude=Decimal("1.300000"),
        longitude=Decimal("103.800000"),
        phone="+6561234567",
        capacity=capacity,
        status=status,
    )


@pytest.fixture
def station(db, owner, clerk) -> Station:
    station = make_station("Station A")
    Membership.objects.create(user=owner, station=station, role=Membership.Role.OWNER)
    Membership.objects.create(user=clerk, station=station, role=Membership.Role.CLERK)
    return station


@pytest.fixture
def other_station(db, outsider) -> Station:
    station = make_station("Station B")
    Membership.objects.create(user=outsider, station=station, role=Membership.Role.OWNER)
    return station


def make_partner(name: str, *, hold_days: int, handover_fee: int, return_fee: int) -> Partner:
    """A partner with one SGD tariff that took effect a month ago."""
    partner = Partner.objects.create(name=name, slug=name.lower(), default_hold_days=hold_days)
    Tariff.objects.create(
        partner=partner,
        handover_fee=handover_fee,
        return_fee=return_fee,
        currency="SGD",
        valid_from=timezone.localdate() - dt.timedelta(days=30),
    )
    return partner


@pytest.fixture
def partner(db) -> Partner:
    return make_partner("SwiftPost", hold_days=7, handover_fee=45, return_fee=20)


@pytest.fixture
def other_partner(db) -> Partner:
    return make_partner("LionExpress", hold_days=5, handover_fee=50, return_fee=25)


@pytest.fixture
def announce(partner) -> Callable[..., Parcel]:
    """Announce a parcel the way a partner does (in the partner's scope of the whole network)."""

    def _announce(station: Station, *, partner_: Partner | None = None, **kwargs) -> Parcel:
        fields = {
            "tracking_number": f"TRK{next(_numbers):08d}",
            "recipient_name": "Tan Mei Ling",
            "recipient_phone": "+6591234567",
        } | kwargs
        with network_scope():
            parcel, created = services.parcel_announce(
                partner=partner_ or partner, station=station, actor=partner_ or partner, **fields
            )
        assert created
        return parcel

    return _announce


@pytest.fixture
def on_shelf(announce, clerk) -> Callable[..., Parcel]:
    """A parcel announced and checked in at the station by its clerk."""

    def _on_shelf(station: Station, **kwargs) -> Parcel:
        parcel = announce(station, **kwargs)
        with station_scope(station.pk):
            return services.parcel_check_in(
                station=station, tracking_number=parcel.tracking_number, actor=clerk
            )

    return _on_shelf


@pytest.fixture(autouse=True)
def _empty_cache():
    # The cache is Redis in the tests (CACHE_URL); throttle counters must not leak between tests.
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The real hasher is deliberately slow; tests log people in many times.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def run_tasks():
    """Run tasks queued with .delay() in-process, for tests about what a task does (its e-mail).
    The real worker on Redis is exercised in tests/test_worker.py."""
    from config import celery_app

    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_eager_propagates = False


@pytest.fixture
def login(client):
    """login(user) → the test client, logged in as that user."""

    def _login(user: User):
        client.force_login(user)
        return client

    return _login


def bulk_shelve(
    station: Station,
    partner: Partner,
    n: int,
    *,
    deadline: dt.datetime | None = None,
    start: int = 0,
) -> None:
    """n parcels straight onto the shelf with one INSERT (for volume tests, not lifecycle ones)."""
    from parcels import codes

    now = timezone.now()
    with network_scope():
        Parcel.objects.bulk_create(
            [
                Parcel(
                    partner=partner,
                    station=station,
                    tracking_number=f"BULK{station.pk}-{start + i:07d}",
                    recipient_name="Lim Bee Hoon",
                    recipient_phone="+6591234567",
                    recipient_phone_last4="4567",
                    status=Parcel.Status.AT_STATION,
                    shelf_slot=start + i + 1,
                    pickup_token=codes.new_token(),
                    pickup_code=f"{start + i:06d}",
                    announced_at=now - dt.timedelta(days=9),
                    checked_in_at=now - dt.timedelta(days=8),
                    hold_deadline=deadline or now + dt.timedelta(days=3, minutes=i),
                )
                for i in range(n)
            ],
            batch_size=1000,
        )


def portal_url(station: Station, name: str = "dashboard", **kwargs: object) -> str:
    """The station portal's page `name` (a `stations:` URL name) at `station`."""
    return reverse(f"stations:{name}", kwargs={"station_slug": station.slug, **kwargs})


def api_url(parcel: Parcel | str, action: str = "") -> str:
    """The partner API's URL of one parcel (a Parcel or its tracking number), or of an action on
    it (`cancel`, `recall`, `events`). Built by hand, not reversed, so that numbers the URL does
    not take can be sent too."""
    number = parcel.tracking_number if isinstance(parcel, Parcel) else parcel
    return f"/api/v1/parcels/{number}/" + (f"{action}/" if action else "")


class Race(NamedTuple):
    results: list[Any]
    errors: list[BaseException]


def race(
    n: int,
    fn: Callable[[], Any],
    *,
    catch: type[BaseException] | tuple[type[BaseException], ...] = (),
    station_id: int | None = None,
    timeout: float = 120,
) -> Race:
    """Run `fn` in n threads released together at a barrier, each on its own PostgreSQL
    connection (in `station_id`'s scope if given), and return what they returned and the `catch`
    exceptions they raised. Any other exception, or a thread still running after `timeout`
    seconds (a deadlock), fails the test. The tests using it need
    `pytest.mark.django_db(transaction=True)`: the threads must see the rows the test committed."""
    if connection.vendor != "postgresql":
        pytest.fail("the race tests need PostgreSQL (set DATABASE_URL)")
    barrier = threading.Barrier(n)
    results: list[Any] = []
    errors: list[BaseException] = []
    unexpected: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            if station_id is None:
                results.append(fn())
            else:
                with station_scope(station_id):
                    results.append(fn())
        except catch as exc:
            errors.append(exc)
        except Exception as exc:
            unexpected.append(exc)
        finally:
            # Each thread opened a connection of its own; leaving it open keeps the test
            # database busy when pytest-django drops it.
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), f"a thread hung past {timeout} s"
    assert not unexpected, unexpected
    return Race(results, errors)
