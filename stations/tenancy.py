"""Where tenant scopes are entered.

Tenant-owned models use django-scopes' ScopedManager with two dimensions, `station` and `partner`;
a query made with no scope active raises ScopeError instead of leaking another tenant's rows. Scopes
are entered only at the edges: the station portal (one station), the partner API (one partner), the
buyer's token lookup, Celery tasks, and the admin. Within a scope `None` means "not limited on this
dimension", stated explicitly. The counter's plain-SQL statements (config/sql.py) bypass the
managers; each names its station or partner itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache, wraps
from typing import TYPE_CHECKING, Any, TypeVar, cast

from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import Resolver404, resolve, reverse
from django_scopes import scope, scopes_disabled

if TYPE_CHECKING:
    from django_htmx.middleware import HtmxDetails

    from .models import Membership, Station, User


class AuthenticatedRequest(HttpRequest):
    """For mypy: a request to a page behind `login_required`, whose user is signed in."""

    user: User


class StationRequest(AuthenticatedRequest):
    """For mypy: a request to a station page (`/s/<station_slug>/…`), as StationMiddleware leaves
    it (and django-htmx's middleware, which runs on every request)."""

    station: Station
    membership: Membership
    htmx: HtmxDetails


_Response = TypeVar("_Response", bound=HttpResponseBase)  # a page or a streamed download


@contextmanager
def station_scope(station_id: int) -> Iterator[None]:
    """What one station's people may see: its own parcels, from any partner."""
    with scope(station=station_id, partner=None):
        yield


@contextmanager
def partner_scope(partner_id: int) -> Iterator[None]:
    """What one partner's API key may see: its own parcels, at any station."""
    with scope(station=None, partner=partner_id):
        yield


@contextmanager
def network_scope() -> Iterator[None]:
    """The whole network, for network-wide work (admin, sweeps, commands, the buyer's token lookup,
    which is then narrowed to the one parcel). Named so that every use is easy to find."""
    with scopes_disabled():
        yield


# The person the station portal's middleware has just read with their membership, for the
# session's sign-in check to take instead of reading them again (known_user).
_known: ContextVar[Any] = ContextVar("known_user", default=None)


def known_session_user() -> Any:
    """The person `known_user` holds, or None (stations.accounts' session check asks)."""
    return _known.get()


@contextmanager
def known_user(user: Any) -> Iterator[None]:
    """While this runs, the session's user is `user` if the session names them (None: read as
    usual). Django's checks still apply: the session's backend, an active account, and the
    session's password hash."""
    token = _known.set(user)
    try:
        yield
    finally:
        _known.reset(token)


class AdminScopeMiddleware:
    """The Django admin is for network admins, who see every tenant: scopes are disabled there."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self._admin_prefix: str | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._admin_prefix is None:
            self._admin_prefix = reverse("admin:index")
        if request.path_info.startswith(self._admin_prefix):
            with network_scope():
                return self.get_response(request)
        return self.get_response(request)


class StationMiddleware:
    """The station portal's edge: `/s/<station_slug>/…` runs in that station's scope.

    A logged-out visitor is sent to log in; a person who is not a member of the station gets a 404,
    so another station's URL does not even reveal that it exists. The view finds the station and
    the visitor's membership on `request.station` and `request.membership`.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        slug = _station_slug(request.path_info)
        if slug is None:
            return self.get_response(request)
        htmx = request.headers.get("HX-Request") == "true"
        from .selectors import membership_for  # models are not ready when settings load this

        # The person and their membership in one read, before Django's sign-in check of the
        # session (which then takes the person from it): one statement, not two.
        user_id = _session_user_id(request)
        membership = None if user_id is None else membership_for(user_id=user_id, station_slug=slug)
        with known_user(membership.user if membership is not None else None):
            authenticated = request.user.is_authenticated
        if authenticated and membership is not None:
            # The lazy wrapper has done its work: the views get the person itself.
            request.user = membership.user
        if not authenticated:
            response = redirect_to_login(request.get_full_path())
            if htmx:
                # A part of the page cannot show the login page: send the whole page there.
                return HttpResponse(headers={"HX-Redirect": response["Location"]})
            return response
        if membership is None:
            if htmx:  # e.g. a clerk removed mid-shift: back to their own list of stations
                return HttpResponse(headers={"HX-Redirect": reverse("home")})
            raise Http404
        # This middleware is what makes the request a StationRequest.
        station_request = cast(StationRequest, request)
        station_request.membership = membership
        station_request.station = membership.station
        with station_scope(membership.station_id):
            return self.get_response(request)


@lru_cache(maxsize=4096)
def _station_slug(path: str) -> str | None:
    """The station a portal path names (`/s/<station_slug>/…`), or None for any other path.
    Asked on every request before Django resolves the path itself, so kept for the paths seen
    lately: the URLconf is fixed while the process runs."""
    try:
        return resolve(path).kwargs.get("station_slug")
    except Resolver404:
        return None


def _session_user_id(request: HttpRequest) -> int | None:
    """The id of the person the session says is signed in (not yet checked), or None."""
    raw = request.session.get(SESSION_KEY)
    try:
        return None if raw is None else int(get_user_model()._meta.pk.to_python(raw))
    except (TypeError, ValueError, ValidationError):
        return None


def owner_required(view: Callable[..., _Response]) -> Callable[..., _Response]:
    """Owner-only station pages are a 404 for clerks, like any page they may not see."""

    @wraps(view)
    def wrapper(request: StationRequest, *args: object, **kwargs: object) -> _Response:
        if not getattr(request, "membership", None) or not request.membership.is_owner:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapper
