"""The partner API's edge: `Authorization: Api-Key <key>` finds the partner, and the request runs
in that partner's scope, so one partner's key never reaches another partner's parcels."""

from __future__ import annotations

import datetime as dt
from contextlib import ExitStack

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from stations.tenancy import partner_scope

from .models import ApiKey, Partner

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


class PartnerScopedMixin:
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
        self._scope.enter_context(partner_scope(request.user.partner.pk))

    @property
    def partner(self) -> Partner:
        return self.request.user.partner


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Requests per API key (settings: REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["api_key"])."""

    scope = "api_key"

    def get_cache_key(self, request: Request, view: object) -> str | None:
        principal = request.user
        if not isinstance(principal, PartnerPrincipal):
            return None
        return self.cache_format % {"scope": self.scope, "ident": principal.key.pk}


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
