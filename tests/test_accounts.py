from __future__ import annotations

import re

import pytest
from django.core import mail

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
    assert "new.owner@example.com" in home.text and "No station yet" in home.text


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
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [owner.email]
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
