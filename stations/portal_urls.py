"""The station portal, under /s/<station_slug>/ (StationMiddleware scopes every page here)."""

from __future__ import annotations

from django.urls import path

from parcels import views as parcel_views

from . import views

app_name = "stations"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("check-in/", parcel_views.check_in, name="check_in"),
    path("check-out/", parcel_views.check_out, name="check_out"),
    path("shelf/", parcel_views.shelf, name="shelf"),
    path("returns/", parcel_views.returns, name="returns"),
    path("returns/<int:hand_back_id>/", parcel_views.manifest, name="manifest"),
    path("staff/", views.staff, name="staff"),
    path("staff/<int:membership_id>/remove/", views.staff_remove, name="staff_remove"),
    path(
        "staff/invitations/<int:invitation_id>/withdraw/",
        views.invitation_withdraw,
        name="invitation_withdraw",
    ),
    path("settings/", views.station_settings, name="settings"),
    path("earnings/", views.earnings, name="earnings"),
    path("earnings.csv", views.earnings_csv, name="earnings_csv"),
    path("earnings/statements/<int:statement_id>/", views.statement, name="statement"),
]
