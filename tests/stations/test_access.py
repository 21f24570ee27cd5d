"""Who reaches which station page: a table walked over every station URL."""

from __future__ import annotations

import pytest
from django.urls import reverse

from parcels import services
from stations.tenancy import station_scope

pytestmark = pytest.mark.django_db

# (url name, extra kwargs, owner only)
STATION_URLS = [
    ("stations:dashboard", {}, False),
    ("stations:check_in", {}, False),
    ("stations:check_out", {}, False),
    ("stations:shelf", {}, False),
    ("stations:returns", {}, False),
    ("stations:manifest", {"hand_back_id": "HB"}, False),
    ("stations:staff", {}, True),
    ("stations:staff_remove", {"membership_id": "CLERK"}, True),
    ("stations:settings", {}, True),
    ("stations:earnings", {}, True),
    ("stations:earnings_csv", {}, True),
    ("stations:statement", {"statement_id": "STATEMENT"}, True),
]


@pytest.fixture
def hand_back(station, on_shelf, clerk):
    parcel = on_shelf(station)
    with station_scope(station.pk):
        services.parcel_mark_return_due(parcel=parcel, reason="overdue", actor=None)
        return services.parcels_hand_back(
            station=station, parcel_ids=[parcel.pk], courier_name="Ahmad", actor=clerk
        )


def statement_for(station):
    import datetime as dt

    from stations.models import Statement
    from stations.tenancy import network_scope

    with network_scope():
        return Statement.objects.get_or_create(
            station=station, month=dt.date(2026, 10, 1), currency="SGD", defaults={"total": 0}
        )[0]


def urls_for(station, hand_back, clerk):
    for name, extra, owner_only in STATION_URLS:
        kwargs = {"station_slug": station.slug}
        for key, value in extra.items():
            kwargs[key] = {
                "HB": hand_back.pk,
                "CLERK": clerk.memberships.get(station=station).pk,
                "STATEMENT": statement_for(station).pk,
            }[value]
        method = "post" if name.endswith("_remove") else "get"
        yield method, reverse(name, kwargs=kwargs), owner_only


def test_owner_reaches_every_page(client, station, owner, clerk, hand_back):
    client.force_login(owner)
    for method, url, _owner_only in urls_for(station, hand_back, clerk):
        if method == "get":
            assert client.get(url).status_code == 200, url


def test_clerk_reaches_counter_pages_but_gets_404_on_owner_pages(client, station, clerk, hand_back):
    client.force_login(clerk)
    for method, url, owner_only in urls_for(station, hand_back, clerk):
        response = getattr(client, method)(url)
        assert response.status_code == (404 if owner_only else 200), url
    assert clerk.memberships.filter(station=station).exists()  # the POST removed nobody


def test_member_of_another_station_gets_404_everywhere(
    client, station, other_station, outsider, clerk, hand_back
):
    client.force_login(outsider)  # owner of other_station
    for method, url, _owner_only in urls_for(station, hand_back, clerk):
        response = getattr(client, method)(url)
        assert response.status_code == 404, url
        assert station.name not in response.text


def test_logged_out_visitor_is_sent_to_log_in(client, station, clerk, hand_back):
    for method, url, _owner_only in urls_for(station, hand_back, clerk):
        response = getattr(client, method)(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next=")


def test_hand_back_of_another_station_is_404_with_a_valid_id(
    client, station, other_station, outsider, hand_back
):
    client.force_login(outsider)
    url = reverse(
        "stations:manifest",
        kwargs={"station_slug": other_station.slug, "hand_back_id": hand_back.pk},
    )
    assert client.get(url).status_code == 404


def test_unknown_station_is_404(client, owner):
    client.force_login(owner)
    assert client.get("/s/no-such-station/").status_code == 404
