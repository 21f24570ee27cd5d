"""The client's address behind trusted proxies (TRUSTED_PROXY_COUNT): what the client writes into
X-Forwarded-For itself neither dodges a limit per address nor locks out the address it names."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django.urls import reverse

from config.proxies import client_ip
from parcels.public_views import PROBE_LIMIT
from tests.test_settings import run_manage

PROXY = "10.0.0.5"  # our load balancer: every request arrives from it
ATTACKER = "203.0.113.9"
BUYER = "198.51.100.7"


@pytest.fixture
def behind_one_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1  # as settings.py derives it from the same variable


def unknown_link(i: int) -> str:
    return f"/p/{'x' * 30}{i:04d}/"


@pytest.mark.django_db
def test_a_made_up_forwarded_address_neither_dodges_the_buyer_throttle_nor_locks_out_another(
    client, station, on_shelf, behind_one_proxy
):
    parcel = on_shelf(station)
    for i in range(PROBE_LIMIT):
        # A new made-up leftmost entry every time, half of them naming the real buyer's address;
        # the proxy appends the attacker's real one.
        spoofed = BUYER if i % 2 else f"192.0.2.{i}"
        response = client.get(
            unknown_link(i), REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"{spoofed}, {ATTACKER}"
        )
        assert response.status_code == 404
    blocked = client.get(
        f"/p/{parcel.pickup_token}/",
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=f"192.0.2.250, {ATTACKER}",
    )
    assert blocked.status_code == 429
    assert "Too many tries" in blocked.text
    buyer = client.get(f"/p/{parcel.pickup_token}/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=BUYER)
    assert buyer.status_code == 200


@pytest.mark.django_db
def test_without_a_trusted_proxy_the_forwarded_header_is_ignored(client, station, on_shelf):
    parcel = on_shelf(station)
    for i in range(PROBE_LIMIT):
        client.get(unknown_link(i), REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=f"192.0.2.{i}")
    blocked = client.get(
        f"/p/{parcel.pickup_token}/", REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=BUYER
    )
    assert blocked.status_code == 429
    buyer = client.get(
        f"/p/{parcel.pickup_token}/", REMOTE_ADDR=BUYER, HTTP_X_FORWARDED_FOR=ATTACKER
    )
    assert buyer.status_code == 200


@pytest.mark.django_db
def test_failed_logins_count_per_real_address_behind_the_proxy(client, owner, behind_one_proxy):
    # allauth's "10 failed logins a minute per address", fed made-up leftmost entries.
    def log_in(i: int, forwarded: str):
        return client.post(
            reverse("account_login"),
            {"login": f"nobody{i}@test.example", "password": "wrong-password"},
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR=forwarded,
        )

    for i in range(10):
        assert "Too many failed login attempts" not in log_in(i, f"192.0.2.{i}, {ATTACKER}").text
    assert "Too many failed login attempts" in log_in(10, f"192.0.2.99, {ATTACKER}").text
    # The address the attacker named is not affected.
    assert "Too many failed login attempts" not in log_in(11, BUYER).text


@pytest.mark.parametrize(
    ("count", "forwarded", "expected"),
    [
        (0, "192.0.2.1", "10.0.0.5"),  # no proxy: the header is the client's own words
        (1, "192.0.2.1, 203.0.113.9", "203.0.113.9"),
        (2, "192.0.2.1, 203.0.113.9, 10.0.0.4", "203.0.113.9"),  # two proxies: the first's entry
        (2, "203.0.113.9", "203.0.113.9"),  # fewer entries than proxies: the leftmost
        (1, "", "10.0.0.5"),
        (1, "192.0.2.1, not-an-address", "10.0.0.5"),
        (1, "192.0.2.1,2001:DB8::1", "2001:db8::1"),
    ],
)
def test_client_ip(settings, count, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = count
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5", **headers)
    assert client_ip(request) == expected


def test_one_variable_sets_the_count_for_every_limit(tmp_path):
    result = run_manage(
        tmp_path,
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s; "
        "print(s.TRUSTED_PROXY_COUNT, s.ALLAUTH_TRUSTED_PROXY_COUNT, "
        "s.REST_FRAMEWORK['NUM_PROXIES'])",
        DJANGO_DEBUG="1",
        TRUSTED_PROXY_COUNT="2",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["2", "2", "2"]


@pytest.mark.django_db
def test_with_the_cache_down_the_buyer_throttle_lets_buyers_through(
    client, station, on_shelf, settings
):
    # While Redis is down the cache keeps nothing (get → default, add → True, incr → ValueError),
    # as Django's dummy cache does: no count, no error.
    parcel = on_shelf(station)
    settings.CACHES = {
        **settings.CACHES,
        "default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }
    for i in range(PROBE_LIMIT + 2):
        assert client.get(unknown_link(i)).status_code == 404
    assert client.get(f"/p/{parcel.pickup_token}/").status_code == 200
