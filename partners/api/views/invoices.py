"""The partner API's invoice: what the partner owes the stations for a month. The view parses
`month`; the sums are stations.selectors.invoice_for, shared with the stations' statements."""

from __future__ import annotations

import datetime as dt
import re

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from partners.api import serializers as s
from stations import selectors

from .base import PartnerAPIView, error_responses

# What the schema promises for `month`, and what the view checks (fullmatch).
MONTH_PATTERN = r"^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])$"


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
        responses={200: s.InvoiceOutput, **error_responses(400, 401, 429)},
    )
    def get(self, request: Request) -> Response:
        month = request.query_params.get("month")
        if month is None:  # absent; an empty one is refused like any other malformed month
            month = timezone.now().strftime("%Y-%m")
        try:
            # strptime alone would also take "2026-1" and " 2026-01".
            if not re.fullmatch(MONTH_PATTERN.strip("^$"), month, flags=re.ASCII):
                raise ValueError
            year, number = month.split("-")
            first = dt.date(int(year), int(number), 1)
            if not 2000 <= first.year <= 2100:
                raise ValueError
        except ValueError:
            raise ValidationError({"month": ["Use YYYY-MM between 2000 and 2100."]}) from None
        invoice = selectors.invoice_for(partner=self.partner, month=first)
        return Response(s.InvoiceOutput({"month": month, **invoice}).data)
