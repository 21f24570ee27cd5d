from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path

from parcels import public_views
from stations import views as station_views

admin.site.site_header = "Stationkeeper network admin"
admin.site.site_title = "Stationkeeper admin"

urlpatterns = [
    path("", station_views.home, name="home"),
    path("p/<str:token>/", public_views.pickup, name="pickup"),
    path("p/<str:token>/extend/", public_views.extend, name="pickup_extend"),
    re_path(r"^p/(?P<token>[^/]+)/qr\.(?P<fmt>svg|png)$", public_views.qr, name="pickup_qr"),
    path("stations/apply/", station_views.apply, name="station_apply"),
    path("s/<slug:station_slug>/", include("stations.portal_urls")),
    path("invite/<str:token>/", station_views.invitation, name="invitation"),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("partners.api.urls")),
]
