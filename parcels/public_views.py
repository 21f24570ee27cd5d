"""What a buyer sees, with no account: the pickup page behind the link in their message."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from stations.tenancy import network_scope

from . import codes, selectors
from .models import Parcel
from .templatetags.parcel_tags import masked


@never_cache
def pickup(request: HttpRequest, token: str) -> HttpResponse:
    if codes.token_from_scan(token) != token:
        raise Http404
    # The buyer's token is the only key they have: look it up across the network (one indexed
    # row), then show that one parcel and nothing else.
    with network_scope():
        parcel = selectors.parcel_for_buyer(token=token)
    if parcel is None:
        raise Http404
    link = settings.SITE_URL + reverse("pickup", args=[token])
    on_shelf = parcel.status == Parcel.Status.AT_STATION
    now = timezone.now()
    return render(
        request,
        "parcels/pickup.html",
        {
            "parcel": parcel,
            "station": parcel.station,
            "masked_name": masked(parcel.recipient_name),
            "on_shelf": on_shelf,
            "qr_svg": codes.qr_svg(link) if on_shelf else "",
            "time_left": parcel.hold_deadline - now
            if on_shelf and parcel.hold_deadline and parcel.hold_deadline > now
            else None,
            "station_tz": parcel.station.timezone,
        },
    )
