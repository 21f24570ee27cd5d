"""Content-Security-Policy and Permissions-Policy on every kind of response, the few pages that
may do more, and the language cookie sent like the session cookie.

The browser tests (tests/e2e) prove the pages still work under these headers: their conftest
fails a test on any violation Chromium reports.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from partners.services import api_key_create
from tests.test_settings import run_manage

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

DENIED = ["camera", "geolocation", "microphone", "payment", "usb", "display-capture", "serial"]


def csp(response) -> dict[str, set[str]]:
    """The Content-Security-Policy header as {directive: {sources}}."""
    header = response.headers["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = set(sources)
    return directives


def permissions(response) -> dict[str, str]:
    """The Permissions-Policy header as {feature: allow list}, e.g. {"camera": "()"}."""
    header = response.headers["Permissions-Policy"]
    return dict(item.strip().split("=", 1) for item in header.split(","))


def assert_strict(response, *, script_src: set[str] | None = None) -> None:
    policy = csp(response)
    assert policy["default-src"] == {"'self'"}
    assert policy["script-src"] == (script_src or {"'self'"})
    assert policy["style-src"] == {"'self'"}
    assert policy["object-src"] == {"'none'"}
    assert policy["base-uri"] == {"'self'"}
    assert policy["frame-ancestors"] == {"'none'"}
    assert policy["form-action"] == {"'self'"}


@pytest.fixture
def pages(client, login, station, owner, admin_user, on_shelf, partner):
    """(name, response) for a portal page, the buyer's page, the API, the admin and a login."""
    parcel = on_shelf(station)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key_create(partner=partner, name='t')[1]}")
    responses = {
        "sign-in": client.get(reverse("account_login")),
        "buyer": client.get(reverse("pickup", args=[parcel.pickup_token])),
        "api": api.get("/api/v1/parcels/"),
        "api-error": api.get("/api/v1/parcels/NOPE/"),
    }
    responses["portal"] = login(owner).get(reverse("stations:dashboard", args=[station.slug]))
    responses["admin"] = login(admin_user).get("/admin/stations/station/")
    responses["admin-form"] = client.get(f"/admin/stations/station/{station.pk}/change/")
    return responses


@pytest.mark.parametrize(
    "name", ["sign-in", "buyer", "api", "api-error", "portal", "admin", "admin-form"]
)
def test_every_kind_of_response_carries_the_strict_policies(pages, name):
    response = pages[name]
    assert response.status_code in (200, 404)
    assert_strict(response)
    features = permissions(response)
    for feature in DENIED:
        assert features[feature] == "()", feature


@pytest.mark.parametrize("url_name", ["stations:check_in", "stations:check_out"])
def test_scanning_pages_may_use_the_camera_and_the_decoders_wasm(login, station, clerk, url_name):
    page = login(clerk).get(reverse(url_name, args=[station.slug]))
    assert page.status_code == 200
    assert_strict(page, script_src={"'self'", "'wasm-unsafe-eval'"})
    features = permissions(page)
    assert features["camera"] == "(self)"
    assert all(features[f] == "()" for f in DENIED if f != "camera")


def test_the_station_application_may_ask_for_the_location(login, outsider):
    page = login(outsider).get(reverse("station_apply"))
    assert page.status_code == 200
    assert_strict(page)
    features = permissions(page)
    assert features["geolocation"] == "(self)"
    assert features["camera"] == "()"


def test_the_api_docs_load_no_inline_script_or_style(client):
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200
    policy = csp(page)
    assert policy["script-src"] == {"'self'"}
    assert policy["img-src"] == {"'self'", "data:"}  # Swagger UI's icons
    assert "<style" not in page.text
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page.text) == []
    script = client.get("/api/v1/docs/?script=")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.text


# Inline handlers (onclick="…"), style attributes and inline <script>/<style> are what the policy
# refuses; a template that brings one back would work in no browser.
INLINE = re.compile(
    r"""\son[a-z]+\s*=|\sstyle\s*=|<style\b|<script(?![^>]*\bsrc=)(?![^>]*type="application/json")""",
    re.I,
)


def test_no_template_relies_on_inline_script_or_style():
    offenders = [
        f"{path.relative_to(TEMPLATES)}: {match.group(0).strip()}"
        for path in TEMPLATES.rglob("*.html")
        for match in INLINE.finditer(path.read_text())
    ]
    assert offenders == []


def test_the_language_cookie_is_http_only_and_same_site(client):
    response = client.post(reverse("set_language"), {"language": "ms", "next": "/"})
    cookie = response.cookies["django_language"]
    assert cookie.value == "ms"
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


@pytest.mark.parametrize(
    ("secure_cookies", "expected"), [(None, "True True"), ("0", "False False")]
)
def test_the_language_cookie_is_secure_like_the_session_cookie(tmp_path, secure_cookies, expected):
    env = {
        "DJANGO_SECRET_KEY": "k" * 60,
        "EMAIL_URL": "consolemail://",
        "SMS_BACKEND": "parcels.notices.LocmemSmsBackend",
    }
    if secure_cookies is not None:
        env["DJANGO_SECURE_COOKIES"] = secure_cookies
    result = run_manage(
        tmp_path,
        "shell",
        "-c",
        "from django.conf import settings as s; "
        "print(s.LANGUAGE_COOKIE_SECURE, s.SESSION_COOKIE_SECURE)",
        **env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected


def test_violation_reports_go_where_the_operator_says(tmp_path):
    result = run_manage(
        tmp_path,
        "shell",
        "-c",
        "from django.conf import settings as s; "
        "print(s.CONTENT_SECURITY_POLICY['DIRECTIVES'].get('report-uri'))",
        DJANGO_DEBUG="1",
        DJANGO_CSP_REPORT_URI="https://reports.example.com/csp",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "['https://reports.example.com/csp']"
