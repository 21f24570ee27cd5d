"""A NUL character in an address is the visitor's mistake, never a server error: PostgreSQL
cannot compare text with it, so it must not reach a lookup."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/p/abc%00def/", "/invite/x%00y/"])
def test_a_nul_in_a_page_address_is_not_found(client, url):
    assert client.get(url).status_code == 404


def test_a_nul_in_the_shelf_search_is_ignored(login, clerk, station, on_shelf):
    parcel = on_shelf(station)
    response = login(clerk).get(f"/s/{station.slug}/shelf/?q={parcel.tracking_number[:6]}%00")
    assert response.status_code == 200
    assert parcel.tracking_number in response.text
