"""Station pages: the landing page, applying for a station, the dashboard, staff and settings."""

from __future__ import annotations

import csv
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from config.errors import DomainError
from config.policies import uses_location
from parcels import selectors as parcel_selectors

from . import hours, selectors, services
from .forms import InvitationForm, StationApplicationForm, StationSettingsForm
from .models import Invitation, Station
from .tenancy import AuthenticatedRequest, StationRequest, owner_required


def home(request: HttpRequest) -> HttpResponse:
    """The landing page: what Stationkeeper is, or the stations of the person logged in."""
    memberships = (
        list(selectors.memberships_for_user(user=request.user))
        if request.user.is_authenticated
        else []
    )
    if (
        len(memberships) == 1
        and memberships[0].station.status == Station.Status.ACTIVE
        and "all" not in request.GET
    ):
        return redirect("stations:dashboard", station_slug=memberships[0].station.slug)
    return render(request, "home.html", {"memberships": memberships})


@uses_location
@login_required
@require_http_methods(["GET", "POST"])
def apply(request: AuthenticatedRequest) -> HttpResponse:
    form = StationApplicationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            station = services.station_apply(
                owner=request.user,
                name=data["name"],
                kind=data["kind"],
                address=data["address"],
                postal_code=data["postal_code"],
                latitude=data["latitude"],
                longitude=data["longitude"],
                phone=str(data["phone"]),
                capacity=data["capacity"],
                opening_hours=data["opening_hours"],
            )
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("stations:dashboard", station_slug=station.slug)
    return render(request, "stations/apply.html", {"form": form})


def dashboard(request: StationRequest, station_slug: str) -> HttpResponse:
    station = request.station
    if station.status in (Station.Status.APPLIED, Station.Status.REJECTED):
        return render(request, "stations/pending.html", {"station": station})
    counts = parcel_selectors.dashboard_counts(station=station)
    return render(
        request,
        "stations/dashboard.html",
        {
            "station": station,
            "counts": counts,
            "free": max(station.capacity - counts["taking_slots"], 0),
            "fill_percent": min(100, round(100 * counts["taking_slots"] / station.capacity)),
            "closest": parcel_selectors.closest_deadlines(station=station),
            "earnings": selectors.earnings_this_month(station=station)
            if request.membership.is_owner
            else None,
            "week": hours.week(station.opening_hours),
        },
    )


@owner_required
@require_http_methods(["GET", "POST"])
def staff(request: StationRequest, station_slug: str) -> HttpResponse:
    station = request.station
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = services.invitation_create(
                station=station, email=form.cleaned_data["email"], invited_by=request.user
            )
        except DomainError as exc:
            form.add_error("email", str(exc))
        else:
            messages.success(
                request, _("Invitation sent to %(email)s.") % {"email": invitation.email}
            )
            return redirect("stations:staff", station_slug=station.slug)
    members, invitations = selectors.station_people(station=station)
    return render(
        request,
        "stations/staff.html",
        {"station": station, "form": form, "members": members, "invitations": invitations},
    )


def _staff_action(service: Callable[..., object], done: Promise) -> Callable[..., HttpResponse]:
    """An owner's action on the staff page: `service` on this station and the id the URL names
    (`membership_id=`, `invitation_id=`); how it went is said on the staff page."""

    @owner_required
    @require_POST
    def view(request: StationRequest, station_slug: str, **ids: int) -> HttpResponse:
        try:
            service(station=request.station, **ids)
        except DomainError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, str(done))  # in the request's language
        return redirect("stations:staff", station_slug=station_slug)

    return view


staff_remove = _staff_action(
    services.membership_remove, gettext_lazy("The clerk was removed from this station.")
)
invitation_withdraw = _staff_action(
    services.invitation_withdraw, gettext_lazy("The invitation was withdrawn.")
)


@owner_required
@require_http_methods(["GET", "POST"])
def station_settings(request: StationRequest, station_slug: str) -> HttpResponse:
    station = request.station
    form = StationSettingsForm(request.POST or None, station=station)
    if request.method == "POST" and form.is_valid():
        try:
            services.station_update_settings(
                station=station,
                phone=str(form.cleaned_data["phone"]),
                capacity=form.cleaned_data["capacity"],
                opening_hours=form.cleaned_data["opening_hours"],
                on_shelf=parcel_selectors.shelf_count,
            )
        except DomainError as exc:
            field = exc.context.get("field")
            form.add_error(field if isinstance(field, str) else None, str(exc))
        else:
            messages.success(request, _("Settings saved."))
            return redirect("stations:settings", station_slug=station.slug)
    return render(request, "stations/settings.html", {"station": station, "form": form})


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """An invited clerk's link: sign up or log in first, then accept."""
    invite = Invitation.objects.select_related("station").filter(token=token).first()
    if invite is None:
        raise Http404
    if not request.user.is_authenticated:
        return render(
            request,
            "stations/invitation.html",
            {
                "invitation": invite,
                "signup_url": f"{reverse('account_signup')}?next={request.path}",
                "login_url": f"{reverse('account_login')}?next={request.path}",
            },
        )
    if request.method == "POST":
        try:
            services.invitation_accept(invitation=invite, user=request.user)
        except DomainError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request, _("Welcome to %(station)s.") % {"station": invite.station.name}
            )
            return redirect("stations:dashboard", station_slug=invite.station.slug)
    return render(request, "stations/invitation.html", {"invitation": invite})


@owner_required
def earnings(request: StationRequest, station_slug: str) -> HttpResponse:
    """Owners only: this month, per partner, the last 30 days, every line, the statements."""
    station = request.station
    overview = selectors.earnings_overview(station=station)
    series = overview["series"]
    peak = max((amount for _day, amount in series), default=0) or 1
    bars = []
    for i, (day, amount) in enumerate(series):
        height = round(96 * max(amount, 0) / peak, 1) if amount else 0
        bars.append({"day": day, "amount": amount, "x": i * 10 + 1, "y": 100 - height, "h": height})
    page = Paginator(selectors.ledger_page_lines(station=station), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "stations/earnings.html",
        {
            "station": station,
            **overview,
            "bars": bars,
            "peak": peak,
            "page": page,
            "statements": selectors.statements_for(station=station),
        },
    )


@owner_required
def earnings_csv(request: StationRequest, station_slug: str) -> StreamingHttpResponse:
    """Every ledger line as CSV, streamed (a station may have hundreds of thousands)."""
    station = request.station
    tz = station.tzinfo
    lines = (
        selectors.ledger_page_lines(station=station)
        .values_list(
            "created_at",
            "kind",
            "partner__name",
            "parcel__tracking_number",
            "amount",
            "currency",
            "reason",
        )
        .iterator(chunk_size=2000)
    )

    class Echo:
        def write(self, value: str) -> str:
            return value

    writer = csv.writer(Echo())

    def rows():
        yield writer.writerow(
            ["time", "kind", "partner", "tracking_number", "amount", "currency", "reason"]
        )
        for created_at, kind, partner, tracking, amount, currency, reason in lines:
            yield writer.writerow(
                [
                    created_at.astimezone(tz).isoformat(timespec="seconds"),
                    kind,
                    partner,
                    tracking or "",
                    f"{amount / 100:.2f}",
                    currency,
                    reason,
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{station.slug}-earnings.csv"'
    return response


@owner_required
def statement(request: StationRequest, station_slug: str, statement_id: int) -> HttpResponse:
    found = selectors.statement_for(station=request.station, statement_id=statement_id)
    if found is None:
        raise Http404
    return render(
        request, "stations/statement.html", {"station": request.station, "statement": found}
    )
