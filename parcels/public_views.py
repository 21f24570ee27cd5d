"""What a buyer sees, with no account: the pickup page behind the link in their message."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from config.proxies import client_ip
from stations import hours
from stations.tenancy import network_scope

from . import codes, lifecycle, selectors, services, throttle
from .exceptions import DomainError
from .models import Parcel
from .templatetags.parcel_tags import masked

# Probing for tokens: after this many unknown tokens from one address in the window, stop answering.
PROBE_LIMIT = 20
PROBE_WINDOW = 15 * 60


def _parcel_or_404(
    request: HttpRequest, token: str, *, also: Sequence[str] = ()
) -> tuple[Parcel, dict[str, Any]] | HttpResponse:
    """The parcel behind the token, with what the shared cache holds under the keys `also`
    (read in the same round trip as the probing count), or the 429 page for an address that
    probed too many."""
    # The address our trusted proxies saw (config.proxies), not what X-Forwarded-For claims.
    key = f"pickup-probe:{client_ip(request)}"
    known = cache.get_many([key, *also])
    if known.get(key, 0) >= PROBE_LIMIT:
        response = render(request, "parcels/pickup_throttled.html", status=429)
        response["Retry-After"] = str(PROBE_WINDOW)
        return response
    parcel = None
    if codes.token_from_scan(token) == token:
        # The token is the buyer's only key: look it up across the network (one indexed row),
        # then show that one parcel and nothing else.
        with network_scope():
            parcel = selectors.parcel_for_buyer(token=token)
    if parcel is None:
        throttle.count(key, PROBE_WINDOW)
        raise Http404
    return parcel, known


def buyer_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Find the parcel behind the token (404 and probing throttle included) and pass it on."""

    @wraps(view)
    def wrapper(request: HttpRequest, token: str, **kwargs: object) -> HttpResponse:
        found = _parcel_or_404(request, token)
        if isinstance(found, HttpResponse):
            return found
        return view(request, token, found[0], **kwargs)

    return wrapper


def _buyer_language(request: HttpRequest, parcel: Parcel) -> None:
    """The parcel's language, unless the buyer picked one with the switcher."""
    if settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
        translation.activate(parcel.language)
        request.LANGUAGE_CODE = translation.get_language()


TIMELINE_LABELS = {
    "parcel.announced": gettext_lazy("The sender announced the parcel"),
    "parcel.checked_in": gettext_lazy("Arrived at the pickup station"),
    "parcel.hold_extended": gettext_lazy("Pickup deadline extended"),
    "parcel.picked_up": gettext_lazy("Picked up"),
    "parcel.return_due": gettext_lazy("No longer available for pickup"),
    "parcel.returned": gettext_lazy("Handed back to the sender's courier"),
    "parcel.cancelled": gettext_lazy("Cancelled by the sender"),
    "partner.dispatched": gettext_lazy("Dispatched by the sender"),
    "partner.in_transit": gettext_lazy("In transit"),
    "partner.customs_cleared": gettext_lazy("Cleared customs"),
    "partner.out_for_delivery": gettext_lazy("Out for delivery to the station"),
}


def timeline(parcel: Parcel) -> list[dict]:
    """The parcel's journey for the buyer: what happened and when, without who did it."""
    rows = []
    with network_scope():
        events = selectors.parcel_timeline(parcel=parcel)
    for event in events:
        label: str | Promise | None = TIMELINE_LABELS.get(event.kind)
        if label is None:
            if not event.kind.startswith(lifecycle.PARTNER_PREFIX):
                continue
            label = event.kind.removeprefix(lifecycle.PARTNER_PREFIX).replace("_", " ").capitalize()
        rows.append(
            {"label": label, "at": event.occurred_at, "place": event.detail.get("location", "")}
        )
    return rows


@never_cache
def pickup(request: HttpRequest, token: str) -> HttpResponse:
    link = settings.SITE_URL + reverse("pickup", args=[token])
    qr_key = codes.qr_cache_key(link)
    found = _parcel_or_404(request, token, also=[qr_key])  # its QR, drawn, in the same read
    if isinstance(found, HttpResponse):
        return found
    parcel, known = found
    _buyer_language(request, parcel)
    station = parcel.station
    now = timezone.now()
    local_now = now.astimezone(station.tzinfo)
    on_shelf = parcel.status == Parcel.Status.AT_STATION
    response = render(
        request,
        "parcels/pickup.html",
        {
            "parcel": parcel,
            "station": station,
            "masked_name": masked(parcel.recipient_name),
            "on_shelf": on_shelf,
            "qr_svg": codes.qr_svg(link, cached=known.get(qr_key)) if on_shelf else "",
            "time_left": parcel.hold_deadline - now
            if on_shelf and parcel.hold_deadline and parcel.hold_deadline > now
            else None,
            "can_extend": on_shelf
            and not parcel.hold_extended
            and parcel.hold_deadline is not None
            and parcel.hold_deadline > now,
            "extension_days": parcel.partner.extension_days,
            "today_hours": hours.describe_day(station.opening_hours, local_now.weekday()),
            "open_now": hours.is_open(station.opening_hours, local_now),
            # Called by the template only when the station's card is drawn (it is cached).
            "week": lambda: hours.week(station.opening_hours),
            "timeline": timeline(parcel),
        },
    )
    response["Content-Language"] = translation.get_language()
    return response


@require_POST
@buyer_view
def extend(request: HttpRequest, token: str, parcel: Parcel) -> HttpResponse:
    _buyer_language(request, parcel)
    try:
        with network_scope():
            parcel = services.parcel_extend_hold(parcel=parcel)
    except DomainError as exc:
        messages.error(request, str(exc))
    else:
        local = timezone.localtime(parcel.hold_deadline, parcel.station.tzinfo)
        messages.success(
            request,
            _("Done: you can now collect it until %(date)s.")
            % {"date": dateformat.format(local, "j M, H:i")},
        )
    return redirect("pickup", token=token)


@never_cache
@buyer_view
def qr(request: HttpRequest, token: str, parcel: Parcel, fmt: str) -> HttpResponse:
    """The pickup QR as SVG (pages) or PNG (e-mails); it encodes the absolute pickup link."""
    if parcel.status != Parcel.Status.AT_STATION:
        raise Http404
    link = settings.SITE_URL + reverse("pickup", args=[token])
    if fmt == "svg":
        return HttpResponse(codes.qr_svg(link), content_type="image/svg+xml")
    buffer = io.BytesIO()
    codes.qr_image(link).save(buffer, format="PNG")
    return HttpResponse(buffer.getvalue(), content_type="image/png")
