"""A NUL character in a URL is the caller's mistake (400), never a server error: PostgreSQL
cannot compare text with it, so it must not reach a lookup."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/p/abc%00def/", "/invite/x%00y/"])
def test_a_nul_in_a_page_address_is_400(client, url):
    assert client.get(url).status_code == 400


def test_a_nul_in_the_shelf_search_is_400_for_the_clerk(login, clerk, station):
    response = login(clerk).get(f"/s/{station.slug}/shelf/?q=ab%00")
    assert response.status_code == 400
