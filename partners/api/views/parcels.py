"""The partner API's parcels: list, announce (one or a batch), look up, cancel, recall, and the
partner's own tracking events. Every view runs in the calling partner's scope: another
partner's tracking number is a 404, exactly like one that does not exist."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from parcels import selectors, services, tracking
from parcels.models import Parcel
from parcels.services import intake
from partners.api import serializers as s
from partners.api.idempotency import idempotent
from partners.api.pagination import CheckedCursorPagination
from partners.api.schema import EMPTY_IS_NONE
from stations import selectors as station_selectors
from stations.models import Station

from .base import PartnerAPIView, error_responses, paged_list_schema, parcel_move_schema, validated


class ParcelPagination(CheckedCursorPagination):
    ordering = "-updated_at"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


class ParcelListView(PartnerAPIView):
    @paged_list_schema(
        s.ParcelPage,
        "parcels",
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
        ],
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        errors = {}
        if params.get("status") and params["status"] not in Parcel.Status.values:
            errors["status"] = [f"One of: {', '.join(Parcel.Status.values)}."]
        since = None
        if params.get("updated_since"):
            since = _parse_datetime(params["updated_since"])
            if since is None:
                errors["updated_since"] = ["An ISO 8601 date and time, e.g. 2026-11-21T08:00:00Z."]
        if errors:
            raise ValidationError(errors)
        qs = selectors.parcels_for_partner(
            partner=self.partner,
            status=params.get("status", ""),
            station_slug=params.get("station", ""),
            updated_since=since,
        )
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
            **error_responses(400, 401, 409, 429),
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
        v = validated(s.AnnounceInput(data=request.data))
        station = station_selectors.station_by_slug(slug=v["station"])
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
            size=v["size"],
            measured=intake.measures(v),
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
        responses={200: s.BatchOutput, **error_responses(400, 401, 409, 429)},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        items = validated(s.BatchAnnounceInput(data=request.data))["parcels"]
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
        # The service's parcels carry their stations; only a stray one is read.
        slugs = station_selectors.station_slugs(
            rows=[o["parcel"] for o in outcomes if "parcel" in o]
        )
        parcels = []
        for (index, _item), outcome in zip(valid, outcomes, strict=True):
            if "parcel" in outcome:
                parcel = outcome["parcel"]
                if not Parcel._meta.get_field("station").is_cached(parcel):
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
    return tracking.normalize(number) if isinstance(number, str) else ""


class ParcelDetailView(PartnerAPIView):
    @extend_schema(
        operation_id="parcels_retrieve",
        summary="A parcel, with its events",
        description="Its status, where it is, the buyer's pickup link once it is at the station, "
        "and every event so far (yours and the network's), oldest first.",
        responses={200: s.ParcelDetailOutput, **error_responses(401, 404, 429)},
    )
    def get(self, request: Request, tracking_number: str) -> Response:
        parcel = self.parcel(tracking_number)
        # Read by ParcelDetailOutput (events, source="event_rows"): not a field of the model.
        parcel.event_rows = [  # type: ignore[attr-defined]
            {
                "kind": e.kind,
                "occurred_at": e.occurred_at,
                "location": e.detail.get("location", ""),
                "description": e.detail.get("description", ""),
            }
            for e in selectors.parcel_timeline(parcel=parcel)
        ]
        return Response(s.ParcelDetailOutput(parcel).data)


class ParcelCancelView(PartnerAPIView):
    @parcel_move_schema(
        "parcels_cancel",
        "Cancel an announced parcel",
        "Only before it reaches the station; after that, recall it.",
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
    )
    @idempotent
    def post(self, request: Request, tracking_number: str) -> Response:
        parcel = services.parcel_cancel(parcel=self.parcel(tracking_number), actor=self.partner)
        return Response(s.ParcelOutput(parcel).data)


class ParcelRecallView(PartnerAPIView):
    @parcel_move_schema(
        "parcels_recall",
        "Recall a parcel from the shelf",
        "The station keeps it for your courier (status `return_due`).",
        request=s.RecallInput,
    )
    @idempotent
    def post(self, request: Request, tracking_number: str) -> Response:
        note = validated(s.RecallInput(data=request.data or {}))["note"]
        parcel = services.parcel_mark_return_due(
            parcel=self.parcel(tracking_number), reason="recalled", actor=self.partner, note=note
        )
        return Response(s.ParcelOutput(parcel).data)


class ParcelEventsView(PartnerAPIView):
    @extend_schema(
        operation_id="parcels_events_create",
        summary="Post an upstream tracking event",
        description="Dispatched, in transit, customs cleared, …: shown on the buyer's timeline.",
        request=s.PartnerEventInput,
        responses={201: s.EventOutput, **error_responses(400, 401, 404, 409, 429)},
    )
    @idempotent
    def post(self, request: Request, tracking_number: str) -> Response:
        v = validated(s.PartnerEventInput(data=request.data))
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


def _parse_datetime(value: str) -> dt.datetime | None:
    """An ISO 8601 time, in UTC (PostgreSQL takes no offset beyond ±16 h); None if unreadable."""
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        return None
