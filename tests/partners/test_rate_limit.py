"""The API's rate limit per key: exact under concurrency, and it says where a key stands."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from partners.authentication import ApiKeyRateThrottle
from tests.conftest import race

LIMIT = 40


@pytest.fixture
def rate(monkeypatch):
    """A limit of LIMIT a minute, in one fixed window: the clock stands still, so a test never
    straddles two windows whatever the machine's speed."""
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": f"{LIMIT}/min"})
    monkeypatch.setattr(ApiKeyRateThrottle, "timer", staticmethod(lambda: 1_800_000_030.0))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("threads", [1, 8, 16])
def test_exactly_the_limit_gets_through_whatever_the_concurrency(partner, rate, threads):
    from partners.services import api_key_create

    _key, raw = api_key_create(partner=partner, name="race")
    per_thread = 2 * LIMIT // threads + 1  # twice the limit in all

    def worker() -> list[int]:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
        return [client.get("/api/v1/stations/").status_code for _ in range(per_thread)]

    statuses = [status for answers in race(threads, worker).results for status in answers]
    assert len(statuses) == threads * per_thread > 2 * LIMIT
    assert statuses.count(200) == LIMIT
    assert statuses.count(429) == len(statuses) - LIMIT


@pytest.mark.django_db
def test_every_answer_says_the_limit_and_what_is_left(api, other_api, rate):
    first = api.get("/api/v1/parcels/")
    assert first.status_code == 200
    assert first["RateLimit-Limit"] == str(LIMIT)
    assert first["RateLimit-Remaining"] == str(LIMIT - 1)
    assert "Retry-After" not in first
    missing = api.get("/api/v1/parcels/NOSUCHPARCEL/")  # errors count and say so too
    assert missing.status_code == 404
    assert missing["RateLimit-Remaining"] == str(LIMIT - 2)
    for _ in range(LIMIT - 2):
        api.get("/api/v1/parcels/")
    over = api.get("/api/v1/parcels/")
    assert over.status_code == 429
    assert over.json()["code"] == "throttled"
    assert over["RateLimit-Limit"] == str(LIMIT)
    assert over["RateLimit-Remaining"] == "0"
    # The clock stands 30 s into its minute: the window ends in 30 s.
    assert over["Retry-After"] == "30"
    # Another key has its own count.
    theirs = other_api.get("/api/v1/parcels/")
    assert theirs.status_code == 200
    assert theirs["RateLimit-Remaining"] == str(LIMIT - 1)


@pytest.mark.django_db
def test_a_request_without_a_key_has_no_rate_headers(rate):
    response = APIClient().get("/api/v1/parcels/")
    assert response.status_code == 401
    assert "RateLimit-Limit" not in response


@pytest.mark.django_db
def test_with_the_cache_down_requests_go_through(api, rate, settings):
    # What the cache does while Redis is down: it keeps nothing (get → default, add → True,
    # incr → ValueError), exactly Django's dummy cache.
    settings.CACHES = {
        **settings.CACHES,
        "default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }
    statuses = {api.get("/api/v1/parcels/").status_code for _ in range(LIMIT + 5)}
    assert statuses == {200}
