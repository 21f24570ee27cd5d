"""Reads for partners: their webhook endpoints and deliveries. Called in the partner's scope (the
API's authentication enters it). The invoice is stations.selectors.invoice_for, the station list
parcels.selectors.stations_listed: partners builds on no other app."""

from __future__ import annotations

from django.db.models import QuerySet

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
