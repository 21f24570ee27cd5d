from __future__ import annotations

from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path, re_path
from django.views.defaults import page_not_found

from parcels import public_views
from stations import views as station_views

admin.site.site_header = "Stationkeeper network admin"
admin.site.site_title = "Stationkeeper admin"


def not_found(request, exception=None):
    """API paths answer in JSON, like the rest of the API; pages get the friendly page."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "not_found", "detail": "Not found."}, status=404)
    return page_not_found(request, exception)


handler404 = not_found

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
