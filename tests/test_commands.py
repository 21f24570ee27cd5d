from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from parcels.models import Parcel
from partners.models import ApiKey, Partner
from stations.models import LedgerLine, Membership, Station, User
from stations.tenancy import network_scope

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _debug(settings):
    settings.DEBUG = True  # seed_demo's logins have a published password: development only


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    with network_scope():
        return {
            "users": User.objects.count(),
            "stations": Station.objects.count(),
            "partners": Partner.objects.count(),
            "parcels": Parcel.objects.count(),
            "lines": LedgerLine.objects.count(),
        }


def test_seed_demo_creates_everything_once(client):
    first = seed()
    before = counts()
    second = seed()
    assert counts() == before
    assert "Demo data created." in first
    assert "already present" in second
    assert before["stations"] == 2
    assert before["partners"] == 3
    with network_scope():
        statuses = set(Parcel.objects.values_list("status", flat=True))
    assert statuses == set(Parcel.Status.values)
    for email in ("admin@example.com", "owner@example.com", "clerk@example.com"):
        assert client.login(email=email, password="stationkeeper"), email
        client.logout()
    assert User.objects.get(email="admin@example.com").is_superuser
    owner = User.objects.get(email="owner@example.com")
    assert Membership.objects.filter(user=owner, role="owner").count() == 2
    assert Station.objects.filter(status="active").count() == 2

    link = next(line for line in first.splitlines() if "/p/" in line).split()[-1]
    code = next(line for line in first.splitlines() if "pickup code" in line).split()[-1]
    page = client.get(link[link.index("/p/") :])
    assert page.status_code == 200
    assert f"{code[:3]}&#8239;{code[3:]}" in page.text  # the page shows that parcel's code


def test_seed_demo_refuses_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="only runs with DJANGO_DEBUG=1"):
        call_command("seed_demo", stdout=StringIO())
    assert not User.objects.exists()


def test_create_api_key_prints_a_key_that_is_stored_hashed():
    partner = Partner.objects.create(name="SwiftPost", slug="swiftpost")
    out, err = StringIO(), StringIO()
    call_command("create_api_key", "swiftpost", "--name", "prod", stdout=out, stderr=err)
    raw = out.getvalue().strip()
    key = ApiKey.objects.get(partner=partner)
    assert key.key_hash == ApiKey.hash(raw)
    assert raw not in key.key_hash
    assert raw.startswith(key.prefix)
    assert key.name == "prod"
    assert "not shown again" in err.getvalue()


def test_create_api_key_for_unknown_partner_lists_known_ones():
    Partner.objects.create(name="SwiftPost", slug="swiftpost")
    with pytest.raises(
        CommandError, match=r"No partner with slug 'nope'\. Known partners: swiftpost"
    ):
        call_command("create_api_key", "nope")
    assert not ApiKey.objects.exists()
