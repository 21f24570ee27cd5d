from __future__ import annotations

import sys

from django.contrib import admin
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.urls import include, path, re_path
from django.views.defaults import page_not_found
from django.views.defaults import server_error as django_server_error

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

# How long a client should wait before trying again after a database outage.
RETRY_AFTER_SECONDS = 30


def server_error(request):
    """A database that cannot be reached (stopped, restarting, out of connections) is a
    temporary outage, not a bug: 503 with Retry-After, "try again shortly". Anything else is
    Django's plain 500. Called for an error raised anywhere in the request, middleware included."""
    exc = sys.exc_info()[1]
    if not isinstance(exc, OperationalError | InterfaceError):
        return django_server_error(request)
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"code": "unavailable", "detail": "The service is briefly unavailable; retry."},
            status=503,
        )
    else:
        # Rendered without the request: its user and session would need the database.
        response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


handler500 = server_error

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
