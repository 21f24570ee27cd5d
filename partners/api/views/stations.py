"""The partner API's station search: where a partner may send parcels, with free capacity now.
The view parses `near` and `radius_km`; the search is `stations.selectors.stations_near`."""

from __future__ import annotations

import re

from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from parcels import selectors as parcel_selectors
from partners.api import serializers as s
from partners.api.pagination import CheckedCursorPagination
from stations import selectors
from stations.models import Station

from .base import PartnerAPIView, paged_list_schema

# What the schema promises for `near`, and what the view checks (fullmatch).
NEAR_PATTERN = (
    r"^-?(90(\.0+)?|[1-8]?[0-9](\.[0-9]+)?),"
    r"-?(180(\.0+)?|(1[0-7][0-9]|[1-9]?[0-9])(\.[0-9]+)?)$"
)


class StationPagination(CheckedCursorPagination):
    ordering = "slug"
    page_size = 200


class StationListView(PartnerAPIView):
    MAX_RESULTS = 200

    @paged_list_schema(
        s.StationPage,
        "stations (without `near`)",
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
        ],
    )
    def get(self, request: Request) -> Response:
        near = request.query_params.get("near")
        # Checked with or without `near`, so a wrong radius is never silently ignored.
        radius = self._radius(request.query_params.get("radius_km", "3"))
        if near is not None:  # an empty `near` is refused, not taken for none
            lat, lng = self._point(near)
            rows: list[tuple[float | None, Station]] = list(
                selectors.stations_near(lat=lat, lng=lng, radius_km=radius, limit=self.MAX_RESULTS)
            )
        else:
            paginator = StationPagination()
            page = paginator.paginate_queryset(selectors.stations_active(), request, view=self)
            assert page is not None  # StationPagination has a page size, so it always pages
            rows = [(None, st) for st in page]
        data = parcel_selectors.stations_listed(rows=rows)
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
