"""The partner REST API, /api/v1/, one module per resource. Views parse the request, call a
service or a selector, and render; the rules are in the apps' services and selectors.

Every view runs in the calling partner's scope (PartnerScopedMixin, in base.py).
"""

from __future__ import annotations

from .base import ERRORS, PartnerAPIView, error_response
from .invoices import InvoiceView
from .parcels import (
    ParcelBatchView,
    ParcelCancelView,
    ParcelDetailView,
    ParcelEventsView,
    ParcelListView,
    ParcelPagination,
    ParcelRecallView,
)
from .stations import StationListView, StationPagination
from .webhooks import (
    DeliveryPagination,
    RedeliverView,
    WebhookDeliveriesView,
    WebhookDetailView,
    WebhookListView,
    WebhookRotateView,
)

__all__ = [
    "ERRORS",
    "DeliveryPagination",
    "InvoiceView",
    "ParcelBatchView",
    "ParcelCancelView",
    "ParcelDetailView",
    "ParcelEventsView",
    "ParcelListView",
    "ParcelPagination",
    "ParcelRecallView",
    "PartnerAPIView",
    "RedeliverView",
    "StationListView",
    "StationPagination",
    "WebhookDeliveriesView",
    "WebhookDetailView",
    "WebhookListView",
    "WebhookRotateView",
    "error_response",
]
