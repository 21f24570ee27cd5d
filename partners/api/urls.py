from __future__ import annotations

from django.urls import path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.policies import uses_data_images
from parcels.tracking import TrackingNumberConverter

from . import views

# Exactly the tracking numbers the network takes: any other is a 404 here, as a parcel not found.
register_converter(TrackingNumberConverter, "tracking")

app_name = "api"

urlpatterns = [
    path("parcels/", views.ParcelListView.as_view(), name="parcels"),
    path("parcels/batch/", views.ParcelBatchView.as_view(), name="parcels_batch"),
    path("parcels/<tracking:tracking_number>/", views.ParcelDetailView.as_view(), name="parcel"),
    path(
        "parcels/<tracking:tracking_number>/cancel/",
        views.ParcelCancelView.as_view(),
        name="parcel_cancel",
    ),
    path(
        "parcels/<tracking:tracking_number>/recall/",
        views.ParcelRecallView.as_view(),
        name="parcel_recall",
    ),
    path(
        "parcels/<tracking:tracking_number>/events/",
        views.ParcelEventsView.as_view(),
        name="parcel_events",
    ),
    path("stations/", views.StationListView.as_view(), name="stations"),
    path("webhooks/", views.WebhookListView.as_view(), name="webhooks"),
    path("webhooks/<int:pk>/", views.WebhookDetailView.as_view(), name="webhook"),
    path(
        "webhooks/<int:pk>/rotate-secret/",
        views.WebhookRotateView.as_view(),
        name="webhook_rotate",
    ),
    path(
        "webhooks/<int:pk>/deliveries/",
        views.WebhookDeliveriesView.as_view(),
        name="webhook_deliveries",
    ),
    path(
        "webhooks/deliveries/<int:pk>/redeliver/",
        views.RedeliverView.as_view(),
        name="webhook_redeliver",
    ),
    path("invoices/", views.InvoiceView.as_view(), name="invoices"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's init script from a URL, as CSP refuses inline scripts.
    path(
        "docs/",
        uses_data_images(SpectacularSwaggerSplitView.as_view(url_name="api:schema")),
        name="docs",
    ),
]
