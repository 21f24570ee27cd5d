"""The partner REST API, /api/v1/. Views parse and shape; the rules are in the services.

Every view runs in the calling partner's scope (PartnerScopedMixin): another partner's tracking
number is a 404, exactly like one that does not exist.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zoneinfo
from typing import Any

from django.db.models import Count, Q, Sum
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import status
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from parcels import services, tracking
from parcels.exceptions import DomainError, InvalidInput, ParcelNotFound
from parcels.models import Parcel
from partners import services as partner_services
from partners import webhooks
from partners.authentication import PartnerScopedMixin
from partners.models import WebhookDelivery, WebhookEndpoint
from stations.models import LedgerLine, Station

from . import serializers as s
from .idempotency import idempotent
from .pagination import CheckedCursorPagination
from .schema import EMPTY_IS_NONE

ERRORS = {
    400: OpenApiResponse(s.ErrorSerializer, description="Bad input: `errors` says what to fix."),
    401: OpenApiResponse(s.ErrorSerializer, description="Missing, unknown or revoked API key."),
    404: OpenApiResponse(s.ErrorSerializer, description="No such parcel for this partner."),
    409: OpenApiResponse(
        s.ErrorSerializer, description="Known, but not allowed now; `code` says why."
    ),
    429: OpenApiResponse(s.ErrorSerializer, description="Too many requests for this key."),
}
UNKNOWN_CURSOR = OpenApiResponse(s.ErrorSerializer, description="The `cursor` is not one we gave.")
# Every POST's Idempotency-Key and every answer's rate-limit headers: partners/api/schema.py.


def cursor_parameter(what: str) -> OpenApiParameter:
    return OpenApiParameter(
        "cursor",
        OpenApiTypes.STR,
        description=f"Opaque; to get the next (or previous) page of {what}, follow the `next` "
        "(or `previous`) link, which carries it. An unknown cursor is a 404.",
    )


def error_response(exc: DomainError) -> Response:
    body: dict[str, Any] = {"code": exc.code, "detail": str(exc)}
    if isinstance(exc, InvalidInput):
        field = exc.context.get("field") or "non_field_errors"
        body["errors"] = {field: [str(exc)]}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ParcelNotFound):
        return Response(body, status=status.HTTP_404_NOT_FOUND)
    return Response(body, status=status.HTTP_409_CONFLICT)


class PartnerAPIView(PartnerScopedMixin, APIView):
    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, DomainError):
            return error_response(exc)
        return super().handle_exception(exc)

    def parcel(self, tracking_number: str) -> Parcel:
        # The URL converter lets only valid numbers through; a number outside the rules names
        # no parcel, whoever calls this.
        number = tracking.parse(tracking_number)
        parcel = (
            Parcel.objects.select_related("station").filter(tracking_number=number).first()
            if number is not None
            else None
        )
        if parcel is None:
            raise Http404
        return parcel


class ParcelPagination(CheckedCursorPagination):
    ordering = "-updated_at"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


class ParcelListView(PartnerAPIView):
    @extend_schema(
        operation_id="parcels_list",
        summary="List your parcels",
        description="Newest change first, with cursor pagination (`next`/`previous` links).",
        parameters=[
            # An empty filter is no filter: say so (allowEmptyValue, see partners/api/schema.py).
            OpenApiParameter(
                "status", OpenApiTypes.STR, enum=Parcel.Status.values, extensions=EMPTY_IS_NONE
            ),
            OpenApiParameter(
                "station",
                OpenApiTypes.STR,
                description="A station slug.",
                extensions=EMPTY_IS_NONE,
            ),
            OpenApiParameter(
                "updated_since",
                OpenApiTypes.DATETIME,
                description="Only parcels changed at or after this time.",
                extensions=EMPTY_IS_NONE,
            ),
            OpenApiParameter(
                "page_size",
                {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
                description="Parcels per page.",
            ),
            cursor_parameter("parcels"),
        ],
        responses={
            200: s.ParcelPage,
            404: UNKNOWN_CURSOR,
            **{k: ERRORS[k] for k in (400, 401, 429)},
        },
    )
    def get(self, request: Request) -> Response:
        qs = Parcel.objects.select_related("station")
        params = request.query_params
        errors = {}
        if params.get("status"):
            if params["status"] not in Parcel.Status.values:
                errors["status"] = [f"One of: {', '.join(Parcel.Status.values)}."]
            qs = qs.filter(status=params["status"])
        if params.get("station"):
            # No station's slug has a NUL in it, and PostgreSQL cannot compare text with one.
            slug = params["station"]
            qs = qs.none() if "\x00" in slug else qs.filter(station__slug=slug)
        if params.get("updated_since"):
            since = _parse_datetime(params["updated_since"])
            if since is None:
                errors["updated_since"] = ["An ISO 8601 date and time, e.g. 2026-11-21T08:00:00Z."]
            else:
                qs = qs.filter(updated_at__gte=since)
        if errors:
            raise ValidationError(errors)
        paginator = ParcelPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(s.ParcelOutput(page, many=True).data)

    @extend_schema(
        operation_id="parcels_announce",
        summary="Announce a parcel to a station",
        description="Repeating it for the same tracking number returns the existing parcel (200), "
        "never a duplicate.",
        request=s.AnnounceInput,
        responses={
            201: s.ParcelOutput,
            200: s.ParcelOutput,
            **{k: ERRORS[k] for k in (400, 401, 409, 429)},
        },
        examples=[
            OpenApiExample(
                "A parcel for Tiong Bahru",
                request_only=True,
                value={
                    "tracking_number": "SP123456789SG",
                    "station": "tiong-bahru-mart",
                    "recipient_name": "Tan Mei Ling",
                    "recipient_phone": "+6591234567",
                    "recipient_email": "mei@example.com",
                    "language": "zh-hans",
                },
            )
        ],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = s.AnnounceInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        station = Station.objects.filter(slug=v["station"]).first()
        if station is None:
            raise ValidationError({"station": [_("No station has this slug.")]})
        parcel, created = services.parcel_announce(
            partner=self.partner,
            station=station,
            tracking_number=v["tracking_number"],
            recipient_name=v["recipient_name"],
            recipient_phone=v["recipient_phone"],
            recipient_email=v["recipient_email"],
            language=v["language"],
            actor=self.partner,
        )
        parcel.station = station
        return Response(
            s.ParcelOutput(parcel).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ParcelBatchView(PartnerAPIView):
    @extend_schema(
        operation_id="parcels_announce_batch",
        summary="Announce up to 1,000 parcels",
        description="Each item is handled on its own: it is created, it already existed, or its "
        "errors are listed. A failed item leaves nothing behind and does not affect the others.",
        request=s.BatchAnnounceInput,
        examples=[
            OpenApiExample(
                "Two parcels",
                request_only=True,
                value={
                    "parcels": [
                        {
                            "tracking_number": "SP000000001SG",
                            "station": "tiong-bahru-mart",
                            "recipient_name": "Tan Mei Ling",
                            "recipient_phone": "+6591234567",
                        },
                        {
                            "tracking_number": "SP000000002SG",
                            "station": "tiong-bahru-mart",
                            "recipient_name": "Rajesh Kumar",
                            "recipient_phone": "12",
                        },
                    ]
                },
            ),
            OpenApiExample(
                "One created, one refused",
                response_only=True,
                value={
                    "created": 1,
                    "existing": 0,
                    "failed": 1,
                    "results": [
                        {
                            "index": 0,
                            "tracking_number": "SP000000001SG",
                            "status": "created",
                            "parcel": {
                                "tracking_number": "SP000000001SG",
                                "status": "announced",
                                "station": "tiong-bahru-mart",
                                "recipient_name": "Tan Mei Ling",
                                "recipient_phone": "+6591234567",
                                "recipient_email": "",
                                "language": "en",
                                "shelf_slot": "",
                                "return_reason": "",
                                "hold_deadline": None,
                                "pickup_url": None,
                                "announced_at": "2026-11-21T08:00:00Z",
                                "checked_in_at": None,
                                "picked_up_at": None,
                                "return_due_at": None,
                                "returned_at": None,
                                "cancelled_at": None,
                                "updated_at": "2026-11-21T08:00:00Z",
                            },
                        },
                        {
                            "index": 1,
                            "tracking_number": "SP000000002SG",
                            "status": "error",
                            "code": "invalid_phone",
                            "errors": {
                                "recipient_phone": [
                                    "Enter a valid phone number, with the country code if it "
                                    "is not local."
                                ]
                            },
                        },
                    ],
                },
            ),
        ],
        responses={200: s.BatchOutput, **{k: ERRORS[k] for k in (400, 401, 409, 429)}},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        batch = s.BatchAnnounceInput(data=request.data)
        batch.is_valid(raise_exception=True)
        items = batch.validated_data["parcels"]
        results: list[dict[str, Any]] = [{} for _ in items]
        valid: list[tuple[int, dict]] = []
        # One serializer for all items: building one per item (DRF deep-copies its fields each
        # time) cost more than the whole database work of a batch.
        checker = s.AnnounceInput()
        for index, item in enumerate(items):
            try:
                valid.append((index, dict(checker.run_validation(item))))
            except ValidationError as exc:
                errors = exc.detail
                if not isinstance(errors, dict):
                    # Not an object: as the single announcement's 400 (DRF's serializer.errors).
                    if item is None:
                        errors = [ErrorDetail("No data provided", code="null")]
                    errors = {"non_field_errors": errors}
                results[index] = {"status": "error", "code": "invalid", "errors": errors}
        outcomes = services.parcels_announce_batch(
            partner=self.partner, items=[v for _i, v in valid], actor=self.partner
        )
        slugs = dict(
            Station.objects.filter(
                pk__in={o["parcel"].station_id for o in outcomes if "parcel" in o}
            ).values_list("pk", "slug")
        )
        parcels = []
        for (index, _item), outcome in zip(valid, outcomes, strict=True):
            if "parcel" in outcome:
                parcel = outcome["parcel"]
                parcel.station = Station(pk=parcel.station_id, slug=slugs[parcel.station_id])
                parcels.append((index, parcel))
            results[index] = {k: v for k, v in outcome.items() if k != "parcel"}
        rendered = s.ParcelOutput([p for _i, p in parcels], many=True).data
        for (index, _parcel), data in zip(parcels, rendered, strict=True):
            results[index]["parcel"] = data
        for index, item in enumerate(items):
            results[index] = {
                "index": index,
                "tracking_number": parcel_number(item),
                **results[index],
            }
        counts = {"created": 0, "exists": 0, "error": 0}
        for r in results:
            counts[r["status"]] += 1
        return Response(
            {
                "created": counts["created"],
                "existing": counts["exists"],
                "failed": counts["error"],
                "results": results,
            }
        )


def parcel_number(item: object) -> str:
    """The item's tracking number as it is compared (whole, even if refused), or "" if it has none
    (not an object, no number, or not text: never "None")."""
    number = item.get("tracking_number") if isinstance(item, dict) else None
    return services.normalize_tracking_number(number) if isinstance(number, str) else ""


class ParcelDetailView(PartnerAPIView):
    @extend_schema(
        operation_id="parcels_retrieve",
        summary="A parcel, with its events",
        description="Its status, where it is, the buyer's pickup link once it is at the station, "
        "and every event so far (yours and the network's), oldest first.",
        responses={200: s.ParcelDetailOutput, **{k: ERRORS[k] for k in (401, 404, 429)}},
    )
    def get(self, request: Request, tracking_number: str) -> Response:
        parcel = self.parcel(tracking_number)
        parcel.event_rows = [
            {
                "kind": e.kind,
                "occurred_at": e.occurred_at,
                "location": e.detail.get("location", ""),
                "description": e.detail.get("description", ""),
            }
            for e in parcel.events.order_by("occurred_at", "pk")
        ]
        return Response(s.ParcelDetailOutput(parcel).data)


class ParcelCancelView(PartnerAPIView):
    @extend_schema(
        operation_id="parcels_cancel",
        summary="Cancel an announced parcel",
        description="Only before it reaches the station; after that, recall it.",
        examples=[
            OpenApiExample(
                "Already at the station",
                response_only=True,
                status_codes=["409"],
                value={
                    "code": "wrong_status",
                    "detail": "Parcel SP123456789SG cannot be cancelled: it is already on the "
                    "shelf, in slot A-07.",
                },
            )
        ],
        request=None,
        responses={200: s.ParcelOutput, **{k: ERRORS[k] for k in (401, 404, 409, 429)}},
    )
    @idempotent
    def post(self, request: Request, tracking_number: str) -> Response:
        parcel = self.parcel(tracking_number)
        parcel = services.parcel_cancel(parcel=parcel, actor=self.partner)
        return Response(s.ParcelOutput(parcel).data)


class ParcelRecallView(PartnerAPIView):
    @extend_schema(
        operation_id="parcels_recall",
        summary="Recall a parcel from the shelf",
        description="The station keeps it for your courier (status `return_due`).",
        request=s.RecallInput,
        responses={200: s.ParcelOutput, **{k: ERRORS[k] for k in (400, 401, 404, 409, 429)}},
    )
    @idempotent
    def post(self, request: Request, tracking_number: str) -> Response:
        data = s.RecallInput(data=request.data or {})
        data.is_valid(raise_exception=True)
        parcel = self.parcel(tracking_number)
        parcel = services.parcel_mark_return_due(
            parcel=parcel, reason="recalled", actor=self.partner, note=data.validated_data["note"]
        )
        return Response(s.ParcelOutput(parcel).data)


class ParcelEventsView(PartnerAPIView):
    @extend_schema(
        operation_id="parcels_events_create",
        summary="Post an upstream tracking event",
        description="Dispatched, in transit, customs cleared, …: shown on the buyer's timeline.",
        request=s.PartnerEventInput,
        responses={201: s.EventOutput, **{k: ERRORS[k] for k in (400, 401, 404, 409, 429)}},
    )
    @idempotent
    def post(self, request: Request, tracking_number: str) -> Response:
        data = s.PartnerEventInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        event = services.parcel_add_partner_event(
            parcel=self.parcel(tracking_number),
            partner=self.partner,
            kind=v["kind"],
            occurred_at=v["occurred_at"],
            location=v["location"],
            description=v["description"],
        )
        return Response(
            {
                "kind": event.kind,
                "occurred_at": event.occurred_at,
                "location": v["location"],
                "description": v["description"],
            },
            status=status.HTTP_201_CREATED,
        )


# --- stations -----------------------------------------------------------------------------------


def _parse_datetime(value: str) -> dt.datetime | None:
    """An ISO 8601 time, in UTC (PostgreSQL takes no offset beyond ±16 h); None if unreadable."""
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        return None


def _distance_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


# What the schema promises for `near` and `month`, and what the views check (fullmatch).
NEAR_PATTERN = (
    r"^-?(90(\.0+)?|[1-8]?[0-9](\.[0-9]+)?),"
    r"-?(180(\.0+)?|(1[0-7][0-9]|[1-9]?[0-9])(\.[0-9]+)?)$"
)
MONTH_PATTERN = r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])$"


class StationPagination(CheckedCursorPagination):
    ordering = "slug"
    page_size = 200


class StationListView(PartnerAPIView):
    MAX_RESULTS = 200

    @extend_schema(
        operation_id="stations_list",
        summary="Active stations, with free capacity now",
        description="With `near`, the stations within `radius_km` (default 3), nearest first "
        "(at most 200, no further pages); otherwise all active stations by slug, 200 a page.",
        parameters=[
            OpenApiParameter(
                "near",
                {"type": "string", "pattern": NEAR_PATTERN},
                description="`lat,lng` in decimal degrees, latitude -90 to 90 and longitude "
                "-180 to 180, e.g. 1.2852,103.8316.",
            ),
            OpenApiParameter(
                "radius_km",
                {"type": "number", "minimum": 0.1, "maximum": 50, "default": 3},
                description="With `near`: how far to look, in kilometres.",
            ),
            cursor_parameter("stations (without `near`)"),
        ],
        responses={
            200: s.StationPage,
            404: UNKNOWN_CURSOR,
            **{k: ERRORS[k] for k in (400, 401, 429)},
        },
    )
    def get(self, request: Request) -> Response:
        stations = Station.objects.filter(status=Station.Status.ACTIVE)
        near = request.query_params.get("near")
        point = None
        # Checked with or without `near`, so a wrong radius is never silently ignored.
        radius = self._radius(request.query_params.get("radius_km", "3"))
        if near is not None:  # an empty `near` is refused, not taken for none
            point = self._point(near)
            # A bounding box in the database, the exact distance in Python for what is inside.
            dlat = radius / 111.0
            dlng = radius / (111.0 * max(math.cos(math.radians(point[0])), 0.01))
            stations = stations.filter(
                latitude__range=(point[0] - dlat, point[0] + dlat),
                longitude__range=(point[1] - dlng, point[1] + dlng),
            )
            rows = []
            for station in stations.order_by("pk")[:5000]:
                d = _distance_km(*point, float(station.latitude), float(station.longitude))
                if d <= radius:
                    rows.append((d, station))
            rows.sort(key=lambda r: (r[0], r[1].name))
            rows = rows[: self.MAX_RESULTS]
        else:
            paginator = StationPagination()
            page = paginator.paginate_queryset(stations, request, view=self)
            rows = [(None, st) for st in page]
        # Free capacity is network information (no parcel details), so it counts every partner's
        # parcels on the shelf, outside this partner's scope: one grouped query for the page.
        on_shelf = dict(
            Parcel.objects.with_scopes_disabled()
            .filter(station_id__in=[st.pk for _d, st in rows], status__in=Parcel.ON_SHELF)
            .values("station_id")
            .annotate(n=Count("pk"))
            .values_list("station_id", "n")
        )
        data = [
            {
                "slug": st.slug,
                "name": st.name,
                "kind": st.kind,
                "address": st.address,
                "postal_code": st.postal_code,
                "latitude": float(st.latitude),
                "longitude": float(st.longitude),
                "timezone": st.timezone,
                "opening_hours": st.opening_hours,
                "capacity": st.capacity,
                "free_capacity": max(st.capacity - on_shelf.get(st.pk, 0), 0),
                "distance_km": round(d, 3) if d is not None else None,
            }
            for d, st in rows
        ]
        results = s.StationOutput(data, many=True).data
        if near is not None:
            return Response({"next": None, "previous": None, "results": results})
        return paginator.get_paginated_response(results)

    @staticmethod
    def _point(near: str) -> tuple[float, float]:
        # Plain decimals only, as the schema says: float() would also take "1e1", "inf" or "½".
        try:
            if not re.fullmatch(NEAR_PATTERN.strip("^$"), near, flags=re.ASCII):
                raise ValueError
            lat_text, lng_text = near.split(",")
            lat, lng = float(lat_text), float(lng_text)
            if not (-90 <= lat <= 90 and -180 <= lng <= 180):
                raise ValueError
        except ValueError:
            raise ValidationError({"near": ["Give `lat,lng`, e.g. 1.2852,103.8316."]}) from None
        return lat, lng

    @staticmethod
    def _radius(radius_text: str) -> float:
        try:
            radius = float(radius_text)
            if not 0.1 <= radius <= 50:  # also refuses nan
                raise ValueError
        except ValueError:
            raise ValidationError({"radius_km": ["A number from 0.1 to 50."]}) from None
        return radius


# --- webhooks -----------------------------------------------------------------------------------


def _webhook_data(endpoint: WebhookEndpoint, *, with_secret: bool = False) -> dict:
    data = {
        "id": endpoint.pk,
        "url": endpoint.url,
        "events": endpoint.events,
        "active": endpoint.active,
        "disabled_reason": endpoint.disabled_reason,
        "created_at": endpoint.created_at,
    }
    if with_secret:
        data["secret"] = endpoint.secret
    return data


class WebhookListView(PartnerAPIView):
    @extend_schema(
        operation_id="webhooks_list",
        summary="Your webhook endpoints",
        description="All of them, oldest first, switched off ones included (with the reason). "
        "Secrets are not shown.",
        responses={200: s.WebhookOutput(many=True), **{k: ERRORS[k] for k in (401, 429)}},
    )
    def get(self, request: Request) -> Response:
        endpoints = WebhookEndpoint.objects.filter(partner=self.partner).order_by("pk")
        return Response(s.WebhookOutput([_webhook_data(e) for e in endpoints], many=True).data)

    @extend_schema(
        operation_id="webhooks_create",
        summary="Register a webhook endpoint",
        description="The response carries the signing secret, shown only now.",
        examples=[
            OpenApiExample(
                "Pickups and returns",
                request_only=True,
                value={
                    "url": "https://partner.example/hooks/stationkeeper",
                    "events": ["parcel.picked_up", "parcel.return_due", "parcel.returned"],
                },
            )
        ],
        request=s.WebhookInput,
        responses={201: s.WebhookWithSecretOutput, **{k: ERRORS[k] for k in (400, 401, 409, 429)}},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = s.WebhookInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = partner_services.webhook_endpoint_create(
            partner=self.partner,
            url=data.validated_data["url"],
            events=data.validated_data["events"],
            active=data.validated_data["active"],
        )
        return Response(
            s.WebhookWithSecretOutput(_webhook_data(endpoint, with_secret=True)).data,
            status=status.HTTP_201_CREATED,
        )


class WebhookView(PartnerAPIView):
    def endpoint(self, pk: int) -> WebhookEndpoint:
        endpoint = WebhookEndpoint.objects.filter(partner=self.partner, pk=pk).first()
        if endpoint is None:
            raise Http404
        return endpoint


class WebhookDetailView(WebhookView):
    @extend_schema(
        operation_id="webhooks_update",
        summary="Change an endpoint (URL, events, or switch it on again)",
        description="Send only what changes. Switching an endpoint on again (`active: true`) "
        "clears the failures that switched it off; its secret stays the same.",
        request=s.WebhookUpdateInput,
        responses={200: s.WebhookOutput, **{k: ERRORS[k] for k in (400, 401, 404, 429)}},
    )
    def patch(self, request: Request, pk: int) -> Response:
        endpoint = self.endpoint(pk)
        data = s.WebhookUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        endpoint = partner_services.webhook_endpoint_update(
            endpoint=endpoint, **data.validated_data
        )
        return Response(s.WebhookOutput(_webhook_data(endpoint)).data)

    @extend_schema(
        operation_id="webhooks_delete",
        summary="Remove an endpoint",
        description="Nothing more is sent to it, and its delivery log is deleted with it.",
        responses={204: None, **{k: ERRORS[k] for k in (401, 404, 429)}},
    )
    def delete(self, request: Request, pk: int) -> Response:
        self.endpoint(pk).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateView(WebhookView):
    @extend_schema(
        operation_id="webhooks_rotate_secret",
        summary="Rotate the signing secret",
        description="Returns the new secret. For 24 hours deliveries carry two signatures, "
        "one per secret, so you can switch without losing a message. Rotating again meanwhile "
        "ends the older secret at once: retry a rotation with the same `Idempotency-Key`.",
        request=None,
        responses={200: s.WebhookWithSecretOutput, **{k: ERRORS[k] for k in (401, 404, 429)}},
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        endpoint = webhooks.rotate_secret(self.endpoint(pk))
        return Response(s.WebhookWithSecretOutput(_webhook_data(endpoint, with_secret=True)).data)


class DeliveryPagination(CheckedCursorPagination):
    ordering = "-created_at"
    page_size = 50


class WebhookDeliveriesView(WebhookView):
    @extend_schema(
        operation_id="webhooks_deliveries",
        summary="Deliveries to an endpoint, newest first",
        description="Each message sent (or being retried) to the endpoint, with its attempts "
        "and the last answer your server gave; 50 a page.",
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=WebhookDelivery.Status.values),
            cursor_parameter("deliveries"),
        ],
        responses={200: s.DeliveryPage, **{k: ERRORS[k] for k in (401, 404, 429)}},
    )
    def get(self, request: Request, pk: int) -> Response:
        qs = WebhookDelivery.objects.filter(endpoint=self.endpoint(pk)).select_related("message")
        if request.query_params.get("status") in WebhookDelivery.Status.values:
            qs = qs.filter(status=request.query_params["status"])
        paginator = DeliveryPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(s.DeliveryOutput(page, many=True).data)


class RedeliverView(PartnerAPIView):
    @extend_schema(
        operation_id="webhooks_redeliver",
        summary="Send a delivery's message again",
        description="A new delivery of the same message (same `webhook-id`), due now.",
        request=None,
        responses={202: s.DeliveryOutput, **{k: ERRORS[k] for k in (401, 404, 429)}},
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        delivery = (
            WebhookDelivery.objects.select_related("message")
            .filter(pk=pk, endpoint__partner=self.partner)
            .first()
        )
        if delivery is None:
            raise Http404
        again = webhooks.redeliver(delivery)
        again.message = delivery.message
        return Response(s.DeliveryOutput(again).data, status=status.HTTP_202_ACCEPTED)


# --- invoices -----------------------------------------------------------------------------------


class InvoiceView(PartnerAPIView):
    @extend_schema(
        operation_id="invoices_retrieve",
        summary="What you owe the stations for a month",
        description="Handover and return fees per station and currency, in minor units, summed "
        "in the database. Each station's month runs in its own time zone.",
        parameters=[
            OpenApiParameter(
                "month",
                {"type": "string", "pattern": MONTH_PATTERN},
                description="YYYY-MM, from 2000-01 to 2100-12; default this month.",
            )
        ],
        responses={200: s.InvoiceOutput, **{k: ERRORS[k] for k in (400, 401, 429)}},
    )
    def get(self, request: Request) -> Response:
        month = request.query_params.get("month")
        if month is None:  # absent; an empty one is refused like any other malformed month
            month = timezone.now().strftime("%Y-%m")
        try:
            # strptime alone would also take "2026-1" and " 2026-01".
            if not re.fullmatch(MONTH_PATTERN.strip("^$"), month, flags=re.ASCII):
                raise ValueError
            first = dt.datetime.strptime(month, "%Y-%m").date()
            if not 2000 <= first.year <= 2100:
                raise ValueError
        except ValueError:
            raise ValidationError({"month": ["Use YYYY-MM between 2000 and 2100."]}) from None
        following = (first + dt.timedelta(days=32)).replace(day=1)
        # Each station's own calendar month, as on its earnings page: one range per time zone.
        in_month = Q()
        for tz_name in Station.objects.order_by().values_list("timezone", flat=True).distinct():
            tz = zoneinfo.ZoneInfo(tz_name)
            in_month |= Q(
                station__timezone=tz_name,
                created_at__gte=dt.datetime.combine(first, dt.time.min, tzinfo=tz),
                created_at__lt=dt.datetime.combine(following, dt.time.min, tzinfo=tz),
            )
        rows = (
            LedgerLine.objects.filter(in_month)
            .values("station__slug", "currency")
            .annotate(
                handovers=Count("pk", filter=Q(kind="handover")),
                handover_total=Sum("amount", filter=Q(kind="handover"), default=0),
                returns=Count("pk", filter=Q(kind="return")),
                return_total=Sum("amount", filter=Q(kind="return"), default=0),
                total=Sum("amount", default=0),
            )
            .order_by("station__slug", "currency")
        )
        lines = [{**r, "station": r.pop("station__slug")} for r in rows]
        totals: dict[str, int] = {}
        for line in lines:
            totals[line["currency"]] = totals.get(line["currency"], 0) + line["total"]
        return Response(s.InvoiceOutput({"month": month, "totals": totals, "stations": lines}).data)
