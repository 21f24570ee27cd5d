"""schemathesis against our own OpenAPI schema: generated requests to every operation, checked
for server errors and for responses that break the schema."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from partners.services import api_key_create

pytestmark = pytest.mark.django_db

# schemathesis calls into the WSGI app as host "localhost". Fetching the schema touches no table.
with override_settings(ALLOWED_HOSTS=["localhost", "testserver"]):
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application)


@pytest.fixture
def api_key(settings, partner, station, on_shelf, announce):
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    # Like Django's test client: keep the test's connection (and its transaction) open across
    # the requests schemathesis makes into the WSGI app.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    # Something to find: parcels in two states, a station, a key.
    on_shelf(station, tracking_number="SHELF1")
    announce(station, tracking_number="ANNOUNCED1")
    _key, raw = api_key_create(partner=partner)
    yield raw
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_honours_its_schema(case, api_key):
    # No server error, and every response as documented (status, content type, headers, body).
    # Left out: whether schema-valid data is accepted (a valid-looking station slug that does not
    # exist is rightly a 400) and whether unknown query parameters are refused (they are ignored).
    case.call_and_validate(
        headers={"Authorization": f"Api-Key {api_key}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
        ],
    )
