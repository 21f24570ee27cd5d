"""The network admin: every model listed and searchable; stations approved and suspended."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from parcels import services
from stations.models import Station
from stations.tenancy import station_scope
from tests.conftest import make_station

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def busy_network(station, other_station, on_shelf, announce, clerk):
    parcels = [
        on_shelf(station),
        on_shelf(other_station, recipient_phone="+6581110000"),
        announce(station),
    ]
    with station_scope(station.pk):
        services.parcel_hand_over(station=station, credential=parcels[0].pickup_code, actor=clerk)
    return parcels


def test_every_model_has_a_working_changelist(admin_client, busy_network):
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        response = admin_client.get(url)
        assert response.status_code == 200, url


def test_parcel_detail_is_read_only_with_its_timeline(admin_client, busy_network):
    parcel = busy_network[0]
    response = admin_client.get(reverse("admin:parcels_parcel_change", args=[parcel.pk]))
    assert response.status_code == 200
    assert "parcel.picked_up" in response.text
    assert "parcel.checked_in" in response.text
    assert parcel.pickup_token not in response.text  # the buyer's secret stays out of the admin
    assert 'name="_save"' not in response.text


@pytest.mark.parametrize("query", ["tracking", "phone", "station"])
def test_parcel_search(admin_client, busy_network, query):
    parcel = busy_network[1]
    q = {
        "tracking": parcel.tracking_number,
        "phone": "+65 8111 0000",
        "station": "Station B",
    }[query]
    response = admin_client.get(reverse("admin:parcels_parcel_changelist"), {"q": q})
    assert parcel.tracking_number in response.text
    assert busy_network[0].tracking_number not in response.text
    assert busy_network[2].tracking_number not in response.text


def test_parcel_filters(admin_client, busy_network, partner):
    url = reverse("admin:parcels_parcel_changelist")
    response = admin_client.get(url, {"status__exact": "announced"})
    assert busy_network[2].tracking_number in response.text
    assert busy_network[1].tracking_number not in response.text
    other = busy_network[1].station
    response = admin_client.get(
        url, {"station__id__exact": other.pk, "partner__id__exact": partner.pk}
    )
    assert busy_network[1].tracking_number in response.text
    assert busy_network[0].tracking_number not in response.text


def test_ledger_lines_cannot_be_changed(admin_client, busy_network):
    from stations.models import LedgerLine
    from stations.tenancy import network_scope

    with network_scope():
        line = LedgerLine.objects.get()
    change = admin_client.post(
        reverse("admin:stations_ledgerline_change", args=[line.pk]), {"amount": 999999}
    )
    assert change.status_code == 403
    delete = admin_client.post(reverse("admin:stations_ledgerline_delete", args=[line.pk]))
    assert delete.status_code == 403
    with network_scope():
        assert LedgerLine.objects.get().amount == 45
    with pytest.raises(ValueError, match="immutable"):
        line.save()


def test_approve_and_suspend_actions(admin_client):
    applied = make_station("Fresh", status=Station.Status.APPLIED)
    url = reverse("admin:stations_station_changelist")
    response = admin_client.post(
        url, {"action": "approve", "_selected_action": [applied.pk]}, follow=True
    )
    applied.refresh_from_db()
    assert applied.status == "active"
    assert applied.approved_at is not None
    assert "1 station approved." in response.text

    admin_client.post(url, {"action": "suspend", "_selected_action": [applied.pk]})
    applied.refresh_from_db()
    assert applied.status == "suspended"
    assert applied.suspended_at is not None

    response = admin_client.post(
        url, {"action": "suspend", "_selected_action": [applied.pk]}, follow=True
    )
    assert "Fresh is suspended; that cannot be done now." in response.text


def test_admin_is_closed_to_station_people(client, owner):
    client.force_login(owner)
    response = client.get(reverse("admin:parcels_parcel_changelist"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_failed_notices_are_listed_with_their_error(admin_client, station, on_shelf, monkeypatch):
    from parcels import notices
    from parcels.models import Notice
    from parcels.notices import LocmemSmsBackend, SmsError
    from stations.tenancy import network_scope

    parcel = on_shelf(station)

    def rejected(self, **kwargs):
        raise SmsError("gateway answered 400", permanent=True)

    monkeypatch.setattr(LocmemSmsBackend, "send", rejected)
    with network_scope():
        notice = Notice.objects.get(parcel=parcel, kind="pickup", channel="sms")
        notices.send(notice.pk)
    response = admin_client.get(
        reverse("admin:parcels_notice_changelist"), {"status__exact": "failed"}
    )
    assert parcel.tracking_number in response.text
    assert "gateway answered 400" in response.text


def test_admin_creates_an_api_key_and_shows_it_once(admin_client, partner):
    from partners.models import ApiKey

    response = admin_client.post(
        reverse("admin:partners_apikey_add"),
        {"partner": partner.pk, "name": "warehouse"},
        follow=True,
    )
    key = ApiKey.objects.get()
    import re

    raw = re.search(r"is (sk_[A-Za-z0-9_-]+)\.", response.text).group(1)
    assert ApiKey.hash(raw) == key.key_hash
    assert key.name == "warehouse"
    again = admin_client.get(reverse("admin:partners_apikey_change", args=[key.pk]))
    assert raw not in again.text


def test_admin_redelivers_a_webhook(admin_client, station, partner, on_shelf):
    from partners.models import WebhookDelivery, WebhookEndpoint

    WebhookEndpoint.objects.create(
        partner=partner, url="https://x.example/h", events=["parcel.checked_in"]
    )
    on_shelf(station)
    delivery = WebhookDelivery.objects.get()
    admin_client.post(
        reverse("admin:partners_webhookdelivery_changelist"),
        {"action": "redeliver", "_selected_action": [delivery.pk]},
    )
    assert WebhookDelivery.objects.filter(message=delivery.message).count() == 2


def change_form_data(response) -> dict:
    """What the admin's change form posts back as it was drawn (the form and its inlines)."""
    from django import forms

    form = response.context["adminform"].form
    all_forms = [form]
    for inline in response.context["inline_admin_formsets"]:
        all_forms += [inline.formset.management_form, *inline.formset.forms]
    data: dict = {}
    for f in all_forms:
        for name, field in f.fields.items():
            value = f[name].value()
            if isinstance(field, forms.BooleanField):
                if value:
                    data[f.add_prefix(name)] = "on"
                continue
            if isinstance(field.widget, forms.MultiWidget):  # a date and a time, say
                for i, part in enumerate(field.widget.decompress(value)):
                    data[f"{f.add_prefix(name)}_{i}"] = "" if part is None else str(part)
                continue
            if isinstance(field, forms.JSONField):
                value = field.prepare_value(value)
            data[f.add_prefix(name)] = "" if value is None else value
    return data


def test_admin_cannot_set_a_capacity_below_the_parcels_on_the_shelf(
    admin_client, station, on_shelf
):
    for _n in range(3):
        on_shelf(station)
    url = reverse("admin:stations_station_change", args=[station.pk])
    data = change_form_data(admin_client.get(url))
    refused = admin_client.post(url, data | {"capacity": 2, "name": "Renamed"})
    assert refused.status_code == 200  # the form again, with the error next to the field
    assert refused.context["adminform"].form.errors["capacity"] == [
        "3 parcels are on the shelf now; the capacity cannot be lower than that."
    ]
    station.refresh_from_db()
    assert (station.capacity, station.name) == (50, "Station A")

    saved = admin_client.post(url, data | {"capacity": 3, "name": "Renamed"})
    assert saved.status_code == 302
    station.refresh_from_db()
    assert (station.capacity, station.name) == (3, "Renamed")


def test_admin_switching_an_endpoint_on_forgets_its_failures_as_the_api_does(admin_client, partner):
    from partners.models import WebhookEndpoint

    endpoint = WebhookEndpoint.objects.create(
        partner=partner,
        url="https://partner.example/h",
        events=["parcel.checked_in"],
        active=False,
        disabled_reason="every attempt for a day failed (last: HTTP 503)",
        consecutive_failures=8,
    )
    url = reverse("admin:partners_webhookendpoint_change", args=[endpoint.pk])
    data = change_form_data(admin_client.get(url))
    assert "active" not in data
    response = admin_client.post(url, data | {"active": "on"})
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.active
    assert (endpoint.disabled_reason, endpoint.consecutive_failures) == ("", 0)
    listing = admin_client.get(reverse("admin:partners_webhookendpoint_changelist"))
    assert "every attempt for a day failed" not in listing.text


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://" + "ü" * 60 + ".example/", "The host name is not valid"),
        ("https://10.0.0.5/hook", "The host resolves to a private or local address."),
        ("http://partner.example/hook", "Use an https:// URL."),
    ],
)
def test_admin_refuses_the_webhook_urls_the_api_refuses(
    admin_client, partner, settings, url, message
):
    from partners.models import WebhookEndpoint

    settings.WEBHOOK_ALLOW_HTTP = settings.WEBHOOK_ALLOW_PRIVATE = False
    response = admin_client.post(
        reverse("admin:partners_webhookendpoint_add"),
        {"partner": partner.pk, "url": url, "events": ["parcel.picked_up"], "active": "on"},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["url"][0].startswith(message)
    assert not WebhookEndpoint.objects.exists()


def test_admin_adds_an_endpoint_as_the_api_does(admin_client, partner):
    from partners.models import WebhookEndpoint

    response = admin_client.post(
        reverse("admin:partners_webhookendpoint_add"),
        {
            "partner": partner.pk,
            "url": "https://Bücher.example/h",
            "events": ["parcel.returned", "parcel.picked_up"],
            "active": "on",
        },
    )
    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.url == "https://xn--bcher-kva.example/h"
    assert endpoint.events == ["parcel.picked_up", "parcel.returned"]
    assert endpoint.secret.startswith("whsec_")


def test_api_keys_are_revoked_not_deleted(admin_client, partner):
    from partners.models import ApiKey
    from partners.services import api_key_create

    key, _raw = api_key_create(partner=partner, name="old")
    response = admin_client.post(reverse("admin:partners_apikey_delete", args=[key.pk]))
    assert response.status_code == 403
    assert ApiKey.objects.filter(pk=key.pk).exists()
