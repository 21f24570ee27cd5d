"""Reads for partners: their webhook endpoints and deliveries, their invoices, and the network's
stations as the partner API lists them. Called in the partner's scope (the API's
authentication enters it)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet

from parcels import selectors as parcel_selectors
from stations.earnings import ledger_month_sums
from stations.models import LedgerLine, Station

from .models import Partner, WebhookDelivery, WebhookEndpoint


def webhook_endpoints_for(*, partner: Partner) -> QuerySet[WebhookEndpoint]:
    """All the partner's endpoints, oldest first, switched off ones included."""
    return WebhookEndpoint.objects.filter(partner=partner).order_by("pk")


def webhook_endpoint_for(*, partner: Partner, pk: int) -> WebhookEndpoint | None:
    """The partner's endpoint with this id; None if it has none (another's is none of its)."""
    return WebhookEndpoint.objects.filter(partner=partner, pk=pk).first()


def webhook_deliveries_for(
    *, endpoint: WebhookEndpoint, status: str = ""
) -> QuerySet[WebhookDelivery]:
    """The endpoint's deliveries with their message; only those with `status` when it is one of
    WebhookDelivery.Status (anything else: all). The caller orders and pages them."""
    qs = WebhookDelivery.objects.filter(endpoint=endpoint).select_related("message")
    if status in WebhookDelivery.Status.values:
        qs = qs.filter(status=status)
    return qs


def webhook_delivery_for(*, partner: Partner, pk: int) -> WebhookDelivery | None:
    """A delivery to one of the partner's endpoints, with its message; None otherwise."""
    return (
        WebhookDelivery.objects.select_related("message")
        .filter(pk=pk, endpoint__partner=partner)
        .first()
    )


def invoice_for(*, partner: Partner, month: dt.date) -> dict[str, Any]:
    """What the partner owes the stations for `month`, each station's month in its own time zone:
    per station (slug) and currency the handovers and returns and their fees, and the totals per
    currency. Summed in the database exactly as the stations' statements are
    (`stations.earnings.ledger_month_sums`)."""
    rows = ledger_month_sums(
        month=month,
        by=("station__slug", "currency"),
        lines=LedgerLine.objects.filter(partner=partner),
    ).order_by("station__slug", "currency")
    lines = [{**r, "station": r.pop("station__slug")} for r in rows]
    totals: dict[str, int] = {}
    for line in lines:
        totals[line["currency"]] = totals.get(line["currency"], 0) + line["total"]
    return {"totals": totals, "stations": lines}


def stations_listed(*, rows: list[tuple[float | None, Station]]) -> list[dict[str, Any]]:
    """The stations as the API lists them, each with its free capacity now and its distance (when
    searched near a point): one grouped query for the whole list."""
    on_shelf = parcel_selectors.on_shelf_counts(station_ids=[st.pk for _d, st in rows])
    return [
        {
            "slug": st.slug,
            "name": st.name,
            "kind": st.kind,
            "address": st.address,
            "postal_code": st.postal_code,
            "latitude": float(st.latitude),
            "longitude": float(st.longitude),
            "timezone": st.timezone,
            "opening_hours": st.opening_hours,
            "capacity": st.capacity,
            "free_capacity": max(st.capacity - on_shelf.get(st.pk, 0), 0),
            "distance_km": round(d, 3) if d is not None else None,
        }
        for d, st in rows
    ]
