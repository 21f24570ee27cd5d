"""The station's parcel screens: check in, check out, shelf, returns. Views parse and render;
the rules are in parcels.services. Every view runs in the station's scope (StationMiddleware)."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from config.policies import uses_camera
from partners.models import Partner
from stations.tenancy import StationRequest

from . import counter, selectors, services, throttle, tracking
from .exceptions import DomainError
from .forms import CredentialForm, HandBackForm, ScanForm, UnannouncedForm
from .models import Parcel

SESSION_CHECK_INS = 30  # how many of this session's check-ins the page lists


def _session_key(request: StationRequest) -> str:
    # When this session's first check-in at the station was: the list shows the clerk's check-ins
    # since then (written once, not at every check-in).
    return f"check_ins_since:{request.station.pk}"


def _render_panel(request: StationRequest, template: str, context: dict) -> HttpResponse:
    """htmx asks for the panel alone; a plain form post gets the whole page."""
    context = {"station": request.station, "membership": request.membership, **context}
    if request.htmx:
        return render(request, f"parcels/_{template}_panel.html", context)
    return render(request, f"parcels/{template}.html", context)


@uses_camera
@require_http_methods(["GET", "POST"])
def check_in(request: StationRequest, station_slug: str) -> HttpResponse:
    station = request.station
    since = request.session.get(_session_key(request))
    scan_form, unannounced_form = ScanForm(), None
    checked_in: Parcel | None = None
    error = prompted = ""
    if request.method == "POST":
        scan_form = ScanForm(request.POST)
        # The unannounced details belong to the number they were asked for; a new scan while
        # they are shown is a new check-in, not an unannounced one.
        scanned = tracking.normalize(request.POST.get("tracking_number", ""))
        if scanned and request.POST.get("prompted", "") == scanned:
            unannounced_form = UnannouncedForm(request.POST)
            prompted = scanned
        if scan_form.is_valid() and (unannounced_form is None or unannounced_form.is_valid()):
            extra = unannounced_form.cleaned_data if unannounced_form else {}
            try:
                checked_in = services.parcel_check_in(
                    station=station,
                    tracking_number=scan_form.cleaned_data["tracking_number"],
                    actor=request.user,
                    **extra,
                )
            except DomainError as exc:
                error = str(exc)
                if exc.code == "not_announced":
                    unannounced_form, prompted = UnannouncedForm(), scanned
                    error = ""
                elif exc.code == "invalid_phone" and unannounced_form is not None:
                    unannounced_form.add_error("recipient_phone", str(exc))
                    error = ""
            else:
                if since is None:
                    assert checked_in.checked_in_at is not None  # the check-in set it
                    since = checked_in.checked_in_at.isoformat()
                    request.session[_session_key(request)] = since
                scan_form, unannounced_form = ScanForm(), None
    return _render_panel(
        request,
        "check_in",
        {
            "scan_form": scan_form,
            "unannounced_form": unannounced_form,
            "prompted": prompted,
            "checked_in": checked_in,
            "error": error,
            "recent": selectors.parcels_checked_in(
                station=station,
                user_id=request.user.pk,
                since=dt.datetime.fromisoformat(since),
                limit=SESSION_CHECK_INS,
            )
            if since
            else [],
        },
    )


@uses_camera
@require_http_methods(["GET", "POST"])
def check_out(request: StationRequest, station_slug: str) -> HttpResponse:
    station = request.station
    form: CredentialForm | None = None  # None: an empty one, for the next scan
    context: dict = {"error": "", "found": None, "siblings": [], "done": []}
    if request.method == "POST":
        form = CredentialForm(request.POST)
        action = request.POST.get("action", "find")
        if form.is_valid():
            credential = form.cleaned_data["credential"]
            try:
                parcel = counter.parcel_for_hand_over(
                    station=station, scan=credential, user_id=request.user.pk
                )
            except DomainError as exc:
                parcel, context["error"] = None, str(exc)
            if parcel is not None and action == "find":
                context["found"] = parcel
                context["siblings"] = selectors.same_recipient_on_shelf(parcel=parcel)
                context["credential"] = credential.strip()
                form = None  # the input is free for the next scan at once
            elif parcel is not None and action in ("confirm", "refuse"):
                context.update(_hand_over(request, parcel, credential, action))
                form = None
    context["station"] = station
    if request.htmx and request.htmx.target == "scan-result":
        # The found card's buttons: the scan form above is already empty, only the answer changes.
        return render(request, "parcels/_check_out_result.html", context)
    context["form"] = form or CredentialForm()
    return _render_panel(request, "check_out", context)


def _hand_over(request: StationRequest, parcel: Parcel, credential: str, action: str) -> dict:
    station = request.station
    try:
        if action == "refuse":
            note = request.POST.get("reason", "").strip()
            if not note:
                return {
                    "error": _("Say why the buyer refused the parcel."),
                    "found": parcel,
                    "credential": credential,
                    "refusing": True,
                }
            refused = services.parcel_hand_over(
                station=station,
                credential=credential,
                actor=request.user,
                refused=True,
                note=note,
                found=parcel,
            )
            return {"refused": refused}
        # Other parcels for the same recipient that the clerk ticked go along.
        done, warnings = counter.parcels_hand_over_together(
            station=station,
            scan=credential,
            parcel=parcel,
            actor=request.user,
            also={int(pk) for pk in request.POST.getlist("also") if pk.isascii() and pk.isdigit()},
        )
    except DomainError as exc:
        return {"error": str(exc)}
    for warning in warnings:
        messages.warning(request, warning)
    return {"done": done}


def shelf(request: StationRequest, station_slug: str) -> HttpResponse:
    station = request.station
    query = request.GET.get("q", "")[:64].replace("\x00", "")  # PostgreSQL text has no NUL
    status = request.GET.get("status", "")
    if status not in Parcel.Status.values:
        status = ""
    partner_param = request.GET.get("partner", "")
    partner_id = int(partner_param) if partner_param.isascii() and partner_param.isdigit() else None
    error = ""
    try:
        parcels = selectors.shelf(
            station=station,
            user_id=request.user.pk,
            query=query,
            status=status,
            partner_id=partner_id,
        )
    except throttle.CodesPaused as exc:
        parcels, error = Parcel.objects.none(), str(exc)
    page = Paginator(parcels, 25).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "parcels/shelf.html",
        {
            "station": station,
            "page": page,
            "query": query,
            "error": error,
            "status": status,
            "partner_id": partner_id,
            "statuses": Parcel.Status.choices,
            "partners": Partner.objects.order_by("name"),
            "filter_params": params.urlencode(),
        },
    )


@require_http_methods(["GET", "POST"])
def returns(request: StationRequest, station_slug: str) -> HttpResponse:
    station = request.station
    groups = selectors.due_back_by_partner(station=station)
    forms = {}
    if request.method == "POST":
        partner_id = request.POST.get("partner", "")
        group = next((g for g in groups if str(g[0].pk) == partner_id), None)
        if group is None:
            messages.error(request, _("Nothing of this partner is due back any more."))
            return redirect("stations:returns", station_slug=station.slug)
        waiting = {p.pk for p in group[1]}
        ticked = {int(v) for v in request.POST.getlist("parcels") if v.isascii() and v.isdigit()}
        if ticked - waiting:
            # A second click, or another clerk was quicker: say so, and show what is left.
            messages.warning(
                request,
                _("Some of the ticked parcels were already handed back. Check the list again."),
            )
            return redirect("stations:returns", station_slug=station.slug)
        form = HandBackForm(request.POST, parcel_ids=list(waiting))
        if form.is_valid():
            try:
                hand_back = services.parcels_hand_back(
                    station=station,
                    parcel_ids=form.cleaned_data["parcels"],
                    courier_name=form.cleaned_data["courier_name"],
                    actor=request.user,
                )
            except DomainError as exc:
                form.add_error(None, str(exc))
            else:
                return redirect(
                    "stations:manifest", station_slug=station.slug, hand_back_id=hand_back.pk
                )
        forms[group[0].pk] = (form, ticked)
    rows = []
    for partner, parcels in groups:
        shown_form, shown_ticks = forms.get(partner.pk, (None, None))
        # After an error the clerk's own ticks stand; otherwise everything is ticked.
        rows.append(
            (partner, parcels, shown_form, shown_ticks if shown_form else {p.pk for p in parcels})
        )
    return render(request, "parcels/returns.html", {"station": station, "groups": rows})


def manifest(request: StationRequest, station_slug: str, hand_back_id: int) -> HttpResponse:
    hand_back = selectors.hand_back_with_parcels(station=request.station, hand_back_id=hand_back_id)
    if hand_back is None:
        raise Http404
    return render(
        request,
        "parcels/manifest.html",
        {"station": request.station, "hand_back": hand_back, "parcels": hand_back.parcels.all()},
    )
