"""The partner API's edge: `Authorization: Api-Key <key>` finds the partner, and the request runs
in that partner's scope, so one partner's key never reaches another partner's parcels."""

from __future__ import annotations

import datetime as dt
import math
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from config import cache as shared_cache
from stations.tenancy import partner_scope

from .models import ApiKey, Partner

if TYPE_CHECKING:
    from rest_framework.views import APIView

    # For mypy only: the mixin is always combined with APIView, whose methods it extends.
    _ScopedBase = APIView
else:
    _ScopedBase = object

LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


class PartnerPrincipal:
    """The authenticated caller: a partner, through one of its keys."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, partner: Partner, key: ApiKey):
        self.partner = partner
        self.key = key
        self.pk = partner.pk

    def __str__(self) -> str:
        return f"{self.partner} ({self.key.prefix}…)"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Api-Key"

    def authenticate(self, request: Request) -> tuple[PartnerPrincipal, ApiKey] | None:
        header = request.headers.get("Authorization", "")
        if not header:
            return None
        keyword, _, raw = header.partition(" ")
        if keyword != self.keyword or not raw.strip():
            raise exceptions.AuthenticationFailed("Use the header 'Authorization: Api-Key <key>'.")
        key = (
            ApiKey.objects.select_related("partner")
            .filter(key_hash=ApiKey.hash(raw.strip()), revoked_at__isnull=True)
            .first()
        )
        if key is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        if not key.partner.active:
            raise exceptions.AuthenticationFailed("This partner is not active.")
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            # Once a minute is precise enough, and keeps a busy key from writing on every call.
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return PartnerPrincipal(key.partner, key), key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class PartnerRequest(Request):
    """For mypy: an API request once ApiKeyRateThrottle has counted it."""

    rate_limit: RateLimit


def api_principal(request: Request) -> PartnerPrincipal:
    """The caller of an API view that has passed `initial()`: the views' permission requires an
    authenticated caller, and ApiKeyAuthentication is the only way in, so it is a partner's."""
    return cast(PartnerPrincipal, request.user)


class PartnerScopedMixin(_ScopedBase):
    """Runs every API request in the caller's partner scope: entered after authentication, and
    always left when the request ends, whatever happened (an unhandled error included), so no
    scope outlives its request on a server thread."""

    def dispatch(self, request, *args: object, **kwargs: object):
        self._scope = ExitStack()
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            self._scope.close()

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        super().initial(request, *args, **kwargs)
        self._scope.enter_context(partner_scope(api_principal(request).partner.pk))

    def finalize_response(self, request: Request, response, *args: object, **kwargs: object):
        response = super().finalize_response(request, response, *args, **kwargs)
        # Every answer to a known key, 2xx, 4xx and 429 alike, says where the key stands.
        counted: RateLimit | None = getattr(request, "rate_limit", None)
        if counted is not None:
            response["RateLimit-Limit"] = str(counted.limit)
            response["RateLimit-Remaining"] = str(counted.remaining)
            if response.status_code == 429:
                response["Retry-After"] = str(counted.reset)
        return response

    @property
    def partner(self) -> Partner:
        return api_principal(self.request).partner


@dataclass(frozen=True)
class RateLimit:
    """Where a key stands in the current window: its limit, what is left, seconds to the next."""

    limit: int
    remaining: int
    reset: int


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Requests per API key in fixed windows (settings: REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    ["api_key"], e.g. 1200/min).

    DRF's own throttle reads a list of timestamps, appends and writes it back, so concurrent
    requests overwrite each other's counts (16 threads got 1,534 requests of 2,400 through a
    limit of 1,200). Here each request takes a number from one counter per key and window with
    Redis INCR, which is atomic: whatever the concurrency, exactly `limit` requests pass.
    """

    scope = "api_key"
    # Set by SimpleRateThrottle.__init__ from the rate (parse_rate); allow_request() reads them
    # only when a rate is configured.
    num_requests: int
    duration: int

    def get_cache_key(self, request: Request, view: object) -> str | None:
        principal = request.user
        if not isinstance(principal, PartnerPrincipal):
            return None
        return self.cache_format % {"scope": self.scope, "ident": principal.key.pk}

    def allow_request(self, request: Request, view: object) -> bool:
        ident = self.get_cache_key(request, view)
        if ident is None or self.rate is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        key = f"{ident}:{window}"
        # The window's counter outlives its window, so an INCR near its end cannot meet an
        # expired key (and make one that never expires). While the cache keeps nothing, every
        # request counts 1: let through rather than fail the partner's call.
        count = shared_cache.count(key, window=self.duration, keep=self.duration * 2)
        self.reset = max(1, math.ceil((window + 1) * self.duration - now))
        # Read back by PartnerScopedMixin.finalize_response for the RateLimit-* headers.
        cast(PartnerRequest, request).rate_limit = RateLimit(
            limit=self.num_requests, remaining=max(0, self.num_requests - count), reset=self.reset
        )
        return count <= self.num_requests

    def wait(self) -> float:
        return self.reset


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "partners.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: object) -> dict:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Authorization: Api-Key <key>`. Create keys in the admin or with "
            "`manage.py create_api_key PARTNER_SLUG`; a key is shown once.",
        }
