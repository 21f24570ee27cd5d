"""Our own OpenAPI schema: valid, written for integrators, and true of the API.

schemathesis sends generated requests to every operation, valid and invalid ones, with every
check it has (no server error; status, content type, headers and body as documented; valid data
accepted, invalid data refused), and then chains operations through the schema's links."""

from __future__ import annotations

import inspect

import pytest
import schemathesis
import yaml
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import override_settings
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from openapi_spec_validator import validate

from config.wsgi import application
from partners.api import views
from partners.services import api_key_create

pytestmark = pytest.mark.django_db

# schemathesis calls into the WSGI app as host "localhost". Fetching the schema touches no table.
with override_settings(ALLOWED_HOSTS=["localhost", "testserver"]):
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application)
# Unknown query parameters are ignored, as HTTP APIs commonly do, so requests with extra ones are
# not "invalid". NUL characters are refused in every string (tests/test_nul.py), which a schema
# cannot say for each field.
schema.config.generation.update(allow_extra_parameters=False, allow_x00=False)


@schema.auth(refresh_interval=None)
class PartnerKey:
    """The key of the test's partner, sent as an integrator does; schemathesis also leaves it
    out or spoils it, to check that the API then refuses (401)."""

    raw = ""

    def get(self, case, ctx):
        return PartnerKey.raw

    def set(self, case, data, ctx):
        case.headers = {**(case.headers or {}), "Authorization": f"Api-Key {data}"}


@pytest.fixture
def raw_schema(client):
    response = client.get("/api/v1/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def operations(raw_schema):
    for path, item in raw_schema["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def test_the_schema_is_valid_openapi(raw_schema):
    validate(raw_schema)  # raises on the first problem


def test_every_operation_is_described_for_integrators(raw_schema):
    docstrings = {
        inspect.getdoc(cls)
        for cls in vars(views).values()
        if inspect.isclass(cls) and inspect.getdoc(cls)
    }
    for name, operation in operations(raw_schema):
        assert operation.get("summary"), name
        assert operation.get("description"), name
        assert operation["description"] not in docstrings, name


def test_every_post_declares_idempotency_and_every_answer_the_rate_limit(raw_schema):
    for name, operation in operations(raw_schema):
        if name.startswith("POST"):
            refs = [p.get("$ref", "") for p in operation["parameters"]]
            assert "#/components/parameters/IdempotencyKey" in refs, name
            assert "Retry-After" in operation["responses"]["409"]["headers"], name
        for code, response in operation["responses"].items():
            assert {"RateLimit-Limit", "RateLimit-Remaining"} <= set(response["headers"]), name
            if code == "429":
                assert "Retry-After" in response["headers"], name


def test_paged_lists_declare_their_cursor(raw_schema):
    paged = [
        (name, operation)
        for name, operation in operations(raw_schema)
        if "Page" in str(operation["responses"].get("200"))  # ParcelPage, StationPage, …
    ]
    assert {name for name, _op in paged} == {
        "GET /api/v1/parcels/",
        "GET /api/v1/stations/",
        "GET /api/v1/webhooks/{id}/deliveries/",
    }
    for name, operation in paged:
        assert "cursor" in {p.get("name") for p in operation["parameters"]}, name


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
    PartnerKey.raw = raw
    yield raw
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def as_a_partner_would(case, station) -> None:
    """What a schema cannot say, in the valid requests: the station must exist, the phone number
    be one that the numbering plan has, the webhook's host resolve to a public address, and an
    event have happened already (each is refused with 400 otherwise, rightly)."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    if not isinstance(case.body, dict):
        return
    items = case.body.get("parcels") if isinstance(case.body.get("parcels"), list) else [case.body]
    for item in items:
        if isinstance(item, dict) and "station" in item:
            item["station"] = station.slug
        if isinstance(item, dict) and "recipient_phone" in item:
            item["recipient_phone"] = "+6591234567"
    if "url" in case.body:
        case.body["url"] = "https://partner.example/hooks"
    if "occurred_at" in case.body:
        case.body["occurred_at"] = "2026-01-05T09:30:00+08:00"


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_operation_honours_its_schema(case, api_key, station):
    # Every check schemathesis has, valid and invalid data alike.
    as_a_partner_would(case, station)
    case.call_and_validate()


def test_chains_of_operations_honour_the_schema(api_key, station):
    class Workflow(schema.as_state_machine()):
        # Each scenario starts from the same data: what an earlier one wrote (a parcel announced,
        # an Idempotency-Key used) would answer the same request differently, and Hypothesis
        # refuses a generator whose choices lead to different paths on a replay.
        def setup(self):
            self.savepoint = transaction.savepoint()

        def teardown(self):
            transaction.savepoint_rollback(self.savepoint)

        def before_call(self, case):
            as_a_partner_would(case, station)

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(
                response,
                additional_checks=additional_checks,
                transport_kwargs=kwargs or None,
                recorder=getattr(self, "recorder", None),
            )

    run_state_machine_as_test(
        Workflow,
        settings=settings(
            max_examples=30,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
