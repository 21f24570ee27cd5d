from __future__ import annotations

import re
import socket
from contextlib import contextmanager

import pytest
from django.core import mail
from django.test import Client

from stations.models import User

pytestmark = pytest.mark.django_db


def test_sign_up_with_email_logs_the_new_user_in(client):
    page = client.get("/accounts/signup/")
    assert page.status_code == 200
    response = client.post(
        "/accounts/signup/",
        {
            "email": "New.Owner@Example.com",
            "password1": "a-long-pass-123",
            "password2": "a-long-pass-123",
        },
    )
    assert response.status_code == 302
    user = User.objects.get()
    assert user.email == "new.owner@example.com"
    home = client.get("/")
    assert "new.owner@example.com" in home.text
    assert "No station yet" in home.text


def test_sign_up_errors_show_next_to_the_field_and_keep_the_email(client):
    response = client.post(
        "/accounts/signup/",
        {"email": "someone@example.com", "password1": "short", "password2": "other"},
    )
    assert response.status_code == 200
    assert 'value="someone@example.com"' in response.text
    assert 'class="field has-error"' in response.text
    assert not User.objects.exists()


def test_login_by_email_any_case(client, owner):
    response = client.post(
        "/accounts/login/", {"login": "OWNER@test.example", "password": "pw-owner-123"}
    )
    assert response.status_code == 302
    assert client.get("/").context["user"] == owner


def test_wrong_password_says_so(client, owner):
    response = client.post("/accounts/login/", {"login": owner.email, "password": "nope"})
    assert response.status_code == 200
    assert "not correct" in response.text


def test_password_reset_mails_a_working_link(client, owner):
    client.post("/accounts/password/reset/", {"email": owner.email})
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [owner.email]
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    form = client.get(link.group(1), follow=True)
    assert form.status_code == 200
    response = client.post(
        form.redirect_chain[-1][0] if form.redirect_chain else link.group(1),
        {"password1": "brand-new-pass-42", "password2": "brand-new-pass-42"},
    )
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password("brand-new-pass-42")


def test_user_emails_are_unique_whatever_the_case(owner):
    from django.db import IntegrityError

    with pytest.raises(IntegrityError):
        User.objects.create(email="Owner@Test.Example")


@contextmanager
def database_unreachable():
    """This process's database connection points at a port nobody listens on until the block
    ends: every query fails as with PostgreSQL stopped (the shared server itself is not touched)."""
    from django.db import connection

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = str(dead_port)
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["PORT"] = port


@pytest.mark.django_db(transaction=True)
def test_a_database_outage_at_login_says_try_again_and_locks_nobody_out(owner):
    browser = Client(raise_request_exception=False)  # what the person at the screen gets
    credentials = {"login": owner.email, "password": "pw-owner-123"}
    with database_unreachable():
        # More attempts than the lockout allows ("5/5m/key" in ACCOUNT_RATE_LIMITS).
        answers = [browser.post("/accounts/login/", credentials) for _ in range(7)]
    assert {a.status_code for a in answers} == {503}
    assert "Try again shortly" in answers[-1].text
    assert answers[-1]["Retry-After"] == "30"
    # The database is back: the same person signs in, not locked out by the outage.
    response = browser.post("/accounts/login/", credentials)
    assert response.status_code == 302
    assert browser.get("/").context["user"] == owner


def test_wrong_passwords_still_lock_the_account_for_a_while(client, owner):
    for _ in range(5):
        assert (
            "not correct"
            in client.post("/accounts/login/", {"login": owner.email, "password": "nope"}).text
        )
    response = client.post("/accounts/login/", {"login": owner.email, "password": "pw-owner-123"})
    assert response.status_code == 200
    assert "Too many failed login attempts" in response.text


# --- the portal reads the person with their membership; Django's session checks still hold ---


@pytest.mark.parametrize("change", ["password", "deactivated", "removed", "none"])
def test_a_portal_request_checks_the_session_as_django_does(client, clerk, station, change):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from stations.models import Membership
    from tests.conftest import portal_url

    client.force_login(clerk)
    page = portal_url(station, "check_in")
    assert client.get(page).status_code == 200
    if change == "password":  # changed on another device: this session's hash is stale
        clerk.set_password("a-brand-new-password-1")
        clerk.save()
    elif change == "deactivated":
        User.objects.filter(pk=clerk.pk).update(is_active=False)
    elif change == "removed":
        Membership.objects.filter(user=clerk, station=station).delete()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(page)
    if change == "removed":
        assert response.status_code == 404
    elif change == "none":
        assert response.status_code == 200
        person_reads = [q for q in queries.captured_queries if '"stations_user"' in q["sql"]]
        assert len(person_reads) == 1  # with the membership, not read again for the session
    else:
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]
