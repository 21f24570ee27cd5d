from __future__ import annotations

from django.urls import path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.policies import uses_data_images
from parcels.tracking import TrackingNumberConverter

from . import views

# Exactly the tracking numbers the network takes: any other is a 404 here, as a parcel not found.
register_converter(TrackingNumberConverter, "tracking")

app_name = "api"

PARCEL = "parcels/<tracking:tracking_number>/"
WEBHOOK = "webhooks/<int:pk>/"

# The API's resources: route, view, URL name.
RESOURCES = [
    ("parcels/", views.ParcelListView, "parcels"),
    ("parcels/batch/", views.ParcelBatchView, "parcels_batch"),
    (PARCEL, views.ParcelDetailView, "parcel"),
    (f"{PARCEL}cancel/", views.ParcelCancelView, "parcel_cancel"),
    (f"{PARCEL}recall/", views.ParcelRecallView, "parcel_recall"),
    (f"{PARCEL}events/", views.ParcelEventsView, "parcel_events"),
    ("stations/", views.StationListView, "stations"),
    ("webhooks/", views.WebhookListView, "webhooks"),
    (WEBHOOK, views.WebhookDetailView, "webhook"),
    (f"{WEBHOOK}rotate-secret/", views.WebhookRotateView, "webhook_rotate"),
    (f"{WEBHOOK}deliveries/", views.WebhookDeliveriesView, "webhook_deliveries"),
    ("webhooks/deliveries/<int:pk>/redeliver/", views.RedeliverView, "webhook_redeliver"),
    ("invoices/", views.InvoiceView, "invoices"),
]

urlpatterns = [
    *(path(route, view.as_view(), name=name) for route, view, name in RESOURCES),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's init script from a URL, as CSP refuses inline scripts.
    path(
        "docs/",
        uses_data_images(SpectacularSwaggerSplitView.as_view(url_name="api:schema")),
        name="docs",
    ),
]
