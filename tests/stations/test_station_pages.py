"""Applying for a station, approval, the dashboard, staff and settings."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

from parcels import services
from stations.models import Invitation, Membership, Station, User
from stations.tenancy import station_scope

pytestmark = pytest.mark.django_db

APPLICATION = {
    "name": "Bukit Merah Minimart",
    "kind": "shop",
    "address": "123 Bukit Merah Lane 1, #01-88",
    "postal_code": "150123",
    "latitude": "1.282000",
    "longitude": "103.822000",
    "phone": "6271 2345",
    "capacity": "80",
    **{f"opens_{d}": "08:00" for d in range(7)},
    **{f"closes_{d}": "20:00" for d in range(7)},
    "closed_6": "on",
}


def test_apply_creates_an_applied_station_and_shows_the_pending_page(login, outsider):
    client = login(outsider)
    response = client.post(reverse("station_apply"), APPLICATION, follow=True)
    station = Station.objects.get(name="Bukit Merah Minimart")
    assert station.status == "applied"
    assert station.opening_hours == {str(d): [["08:00", "20:00"]] for d in range(6)}
    assert str(station.phone) == "+6562712345"
    assert Membership.objects.get(station=station).user == outsider
    assert "Your application is being reviewed" in response.text
    # An applied station has no counter yet.
    response = client.post(
        reverse("stations:check_in", args=[station.slug]), {"tracking_number": "X1"}
    )
    assert "cannot take parcels in" in response.text


def test_application_errors_show_next_to_the_field_and_keep_the_input(login, outsider):
    bad = {**APPLICATION, "closes_2": "07:00", "capacity": "0", "latitude": "95"}
    response = login(outsider).post(reverse("station_apply"), bad)
    assert response.status_code == 200
    assert "Closing time must be after opening time." in response.text
    assert 'value="Bukit Merah Minimart"' in response.text
    assert response.text.count("has-error") >= 3
    assert not Station.objects.exists()


def test_applying_needs_an_account(client):
    response = client.get(reverse("station_apply"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_admin_approval_emails_the_owner(
    login, admin_user, outsider, run_tasks, django_capture_on_commit_callbacks
):
    login(outsider).post(reverse("station_apply"), APPLICATION)
    station = Station.objects.get()
    client = login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:stations_station_changelist"),
            {"action": "approve", "_selected_action": [station.pk]},
        )
    station.refresh_from_db()
    assert station.status == "active"
    [email] = mail.outbox
    assert email.to == [outsider.email]
    assert "is approved" in email.subject
    assert f"/s/{station.slug}/" in email.body


def test_admin_rejection_requires_a_reason_and_emails_it(
    login, admin_user, outsider, run_tasks, django_capture_on_commit_callbacks
):
    login(outsider).post(reverse("station_apply"), APPLICATION)
    station = Station.objects.get()
    client = login(admin_user)
    changelist = reverse("admin:stations_station_changelist")
    form = {"action": "reject", "_selected_action": [station.pk]}
    asked = client.post(changelist, form)
    assert "Reason (e-mailed to the owner)" in asked.text
    empty = client.post(changelist, {**form, "reject_confirmed": "1", "reason": " "})
    assert "This field is required" in empty.text
    station.refresh_from_db()
    assert station.status == "applied"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            changelist, {**form, "reject_confirmed": "1", "reason": "The address is a car park."}
        )
    station.refresh_from_db()
    assert (station.status, station.rejection_reason) == ("rejected", "The address is a car park.")
    [email] = mail.outbox
    assert "The address is a car park." in email.body
    page = login(outsider).get(reverse("stations:dashboard", args=[station.slug]))
    assert "was not approved" in page.text
    assert "car park" in page.text


def test_dashboard_figures_and_earnings_for_owners_only(
    login, station, owner, clerk, on_shelf, announce
):
    parcels = [on_shelf(station) for _ in range(3)]
    announce(station)
    with station_scope(station.pk):
        services.parcel_hand_over(station=station, credential=parcels[0].pickup_code, actor=clerk)
        services.parcel_mark_return_due(parcel=parcels[1], reason="overdue", actor=None)
    page = login(owner).get(reverse("stations:dashboard", args=[station.slug]))
    figures = dict(
        re.findall(r'<p class="label">([^<]+)</p>\s*<p class="stat-value[^"]*">(\d+)', page.text)
    )
    # The shelf holds what waits for pickup and what waits for its courier, as everywhere.
    assert figures["On the shelf"] == "2"
    assert "1 of them due back" in page.text
    assert f"{station.capacity - 2} slots free" in page.text
    assert figures["Due back to couriers"] == "1"
    assert figures["Checked in today"] == "3"
    assert figures["Handed over today"] == "1"
    assert "SGD 0.45" in page.text
    assert "Earned this month" in page.text
    clerk_page = login(clerk).get(reverse("stations:dashboard", args=[station.slug]))
    assert "Earned this month" not in clerk_page.text
    assert "SGD" not in clerk_page.text
    assert "Staff" not in clerk_page.text


def test_new_station_dashboard_has_clear_empty_states(login, station, owner):
    page = login(owner).get(reverse("stations:dashboard", args=[station.slug]))
    assert "The shelf is empty." in page.text


def test_invite_a_clerk_who_signs_up_and_joins(
    client, login, station, owner, run_tasks, django_capture_on_commit_callbacks
):
    staff_url = reverse("stations:staff", args=[station.slug])
    with django_capture_on_commit_callbacks(execute=True):
        login(owner).post(staff_url, {"email": "New.Clerk@Example.com"})
    [email] = mail.outbox
    link = re.search(r"https?://[^/]+(/invite/\S+/)", email.body).group(1)
    client.logout()
    page = client.get(link)
    assert "Create an account" in page.text
    client.post(
        f"{reverse('account_signup')}?next={link}",
        {
            "email": "new.clerk@example.com",
            "password1": "clerk-pass-987",
            "password2": "clerk-pass-987",
        },
    )
    accepted = client.post(link, follow=True)
    assert "Welcome to Station A" in accepted.text
    user = User.objects.get(email="new.clerk@example.com")
    assert Membership.objects.get(user=user, station=station).role == "clerk"
    assert Invitation.objects.get().accepted_by == user
    # The link works once.
    again = client.post(link, follow=True)
    assert Membership.objects.filter(user=user).count() == 1
    assert again.status_code == 200


def test_invitation_for_someone_else_is_refused(login, station, owner, outsider):
    login(owner).post(reverse("stations:staff", args=[station.slug]), {"email": "x@example.com"})
    invitation = Invitation.objects.get()
    response = login(outsider).post(f"/invite/{invitation.token}/", follow=True)
    assert "This invitation is for x@example.com" in response.text
    assert not Membership.objects.filter(user=outsider, station=station).exists()


def test_inviting_an_existing_member_says_so(login, station, owner, clerk):
    response = login(owner).post(
        reverse("stations:staff", args=[station.slug]), {"email": clerk.email}
    )
    assert "already works at this station" in response.text
    assert not Invitation.objects.exists()


def test_owner_removes_a_clerk(login, station, owner, clerk):
    membership = Membership.objects.get(user=clerk, station=station)
    response = login(owner).post(
        reverse("stations:staff_remove", args=[station.slug, membership.pk]), follow=True
    )
    assert "The clerk was removed" in response.text
    assert not Membership.objects.filter(pk=membership.pk).exists()
    owner_membership = Membership.objects.get(user=owner, station=station)
    login(owner).post(reverse("stations:staff_remove", args=[station.slug, owner_membership.pk]))
    assert Membership.objects.filter(pk=owner_membership.pk).exists()


def test_settings_change_hours_phone_and_capacity(login, station, owner):
    form = {
        "phone": "+65 6333 4444",
        "capacity": "75",
        **{f"opens_{d}": "10:00" for d in range(7)},
        **{f"closes_{d}": "22:00" for d in range(7)},
        "closed_0": "on",
    }
    response = login(owner).post(
        reverse("stations:settings", args=[station.slug]), form, follow=True
    )
    assert "Settings saved." in response.text
    station.refresh_from_db()
    assert station.capacity == 75
    assert str(station.phone) == "+6563334444"
    assert "0" not in station.opening_hours
    assert station.opening_hours["1"] == [["10:00", "22:00"]]


def test_capacity_cannot_go_below_the_parcels_on_the_shelf(login, station, owner, on_shelf):
    on_shelf(station)
    on_shelf(station)
    form = {"phone": "+6563334444", "capacity": "1", **{f"closed_{d}": "on" for d in range(7)}}
    response = login(owner).post(reverse("stations:settings", args=[station.slug]), form)
    assert "2 parcels are on the shelf now" in response.text
    station.refresh_from_db()
    assert station.capacity == 50


def test_expired_invitation_is_refused_and_can_be_withdrawn(login, station, owner, outsider):
    import datetime as dt

    from django.utils import timezone

    login(owner).post(reverse("stations:staff", args=[station.slug]), {"email": outsider.email})
    invitation = Invitation.objects.get()
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )
    response = login(outsider).post(f"/invite/{invitation.token}/", follow=True)
    assert "This invitation has expired" in response.text
    assert not Membership.objects.filter(user=outsider, station=station).exists()
    login(owner).post(reverse("stations:invitation_withdraw", args=[station.slug, invitation.pk]))
    assert not Invitation.objects.exists()


def test_a_used_invitation_does_not_work_for_someone_else(login, station, owner, outsider):
    login(owner).post(reverse("stations:staff", args=[station.slug]), {"email": outsider.email})
    invitation = Invitation.objects.get()
    login(outsider).post(f"/invite/{invitation.token}/")
    assert Membership.objects.filter(user=outsider, station=station).exists()
    other = User.objects.create_user(outsider.email.upper().replace("OUTSIDER", "x"), "pw-123456")
    response = login(other).post(f"/invite/{invitation.token}/", follow=True)
    assert not Membership.objects.filter(user=other).exists()
    assert response.status_code == 200


def test_station_emails_are_sent_once_and_not_html_escaped(station, owner):
    from stations.tasks import send_station_decision

    Station.objects.filter(pk=station.pk).update(name="O'Brien & Sons", status="active")
    send_station_decision(station.pk)
    send_station_decision(station.pk)  # the task delivered twice
    [email] = mail.outbox
    assert email.subject == "O'Brien & Sons is approved"
    assert "&amp;" not in email.body
    assert "&#x27;" not in email.body


def test_view_only_admins_cannot_run_station_actions(client, station):
    from django.contrib.auth.models import Permission

    viewer = User.objects.create_user("viewer@test.example", "pw-123456", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_station"))
    Station.objects.filter(pk=station.pk).update(status="applied")
    client.force_login(viewer)
    client.post(
        reverse("admin:stations_station_changelist"),
        {"action": "approve", "_selected_action": [station.pk]},
    )
    station.refresh_from_db()
    assert station.status == "applied"
