"""Station pages make the same number of queries whatever the number of parcels."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from stations.models import Membership
from tests.conftest import bulk_shelve, make_station

pytestmark = pytest.mark.django_db


def fill_shelf(station, partner, n: int) -> None:
    bulk_shelve(station, partner, n)


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    ("page", "limit"),
    [("stations:dashboard", 8), ("stations:shelf", 7)],
)
def test_query_count_does_not_grow_with_parcels(client, owner, partner, page, limit):
    counts = []
    for n in (10, 1000):
        station = make_station(f"Shelf {n}", capacity=2000)
        Membership.objects.create(user=owner, station=station, role="owner")
        fill_shelf(station, partner, n)
        client.force_login(owner)
        counts.append(count_queries(client, reverse(page, args=[station.slug])))
    assert counts[0] == counts[1], counts
    assert counts[1] <= limit, counts


def test_shelf_pages_through_a_thousand_parcels(client, owner, partner):
    station = make_station("Big", capacity=2000)
    Membership.objects.create(user=owner, station=station, role="owner")
    fill_shelf(station, partner, 1000)
    client.force_login(owner)
    response = client.get(reverse("stations:shelf", args=[station.slug]), {"page": 40})
    assert "Page 40 of 40" in response.text
    assert response.text.count('class="slot"') == 25
