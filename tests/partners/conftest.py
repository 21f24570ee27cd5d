from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from partners.services import api_key_create


@pytest.fixture
def api(partner):
    """An API client authenticated with a fresh key of `partner`."""
    _key, raw = api_key_create(partner=partner, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    client.raw_key = raw
    return client


@pytest.fixture
def other_api(other_partner):
    _key, raw = api_key_create(partner=other_partner, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client
