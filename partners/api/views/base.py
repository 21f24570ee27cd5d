"""What every view of the partner API shares: the partner's scope, the mapping of a DomainError
to an answer, and what the schema declares alike (error responses, the cursor, a paged list, a
parcel's move)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import DomainError, InvalidInput
from parcels import selectors
from parcels.exceptions import ParcelNotFound
from parcels.models import Parcel
from partners.api import serializers as s
from partners.authentication import PartnerScopedMixin

ERRORS = {
    400: OpenApiResponse(s.ErrorSerializer, description="Bad input: `errors` says what to fix."),
    401: OpenApiResponse(s.ErrorSerializer, description="Missing, unknown or revoked API key."),
    404: OpenApiResponse(s.ErrorSerializer, description="No such parcel for this partner."),
    409: OpenApiResponse(
        s.ErrorSerializer, description="Known, but not allowed now; `code` says why."
    ),
    429: OpenApiResponse(s.ErrorSerializer, description="Too many requests for this key."),
}
F = TypeVar("F", bound=Callable[..., Any])  # a view method, as a schema decorator leaves it
UNKNOWN_CURSOR = OpenApiResponse(s.ErrorSerializer, description="The `cursor` is not one we gave.")
# Every POST's Idempotency-Key and every answer's rate-limit headers: partners/api/schema.py.


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """The error answers an operation declares, by status code."""
    return {code: ERRORS[code] for code in codes}


def cursor_parameter(what: str) -> OpenApiParameter:
    return OpenApiParameter(
        "cursor",
        OpenApiTypes.STR,
        description=f"Opaque; to get the next (or previous) page of {what}, follow the `next` "
        "(or `previous`) link, which carries it. An unknown cursor is a 404.",
    )


def page_responses(page: type[serializers.Serializer]) -> dict[int, Any]:
    """A cursor-paged list's answers: the page, an unknown cursor, and the usual errors."""
    return {200: page, 404: UNKNOWN_CURSOR, **error_responses(400, 401, 429)}


def paged_list_schema(
    page: type[serializers.Serializer],
    what: str,
    *,
    parameters: list[OpenApiParameter],
    **schema: Any,
) -> Callable[[F], F]:
    """The schema of a cursor-paged list of `what`: its own query parameters, then the cursor,
    and a page's answers (`page_responses`)."""
    return extend_schema(
        parameters=[*parameters, cursor_parameter(what)], responses=page_responses(page), **schema
    )


def parcel_move_schema(
    operation_id: str, summary: str, description: str, *, request: Any = None, **schema: Any
) -> Callable[[F], F]:
    """The schema of a POST that moves a partner's parcel (cancel, recall): the parcel as it is
    then, or why not; bad input too, for a move that takes some (`request`)."""
    errors = (401, 404, 409, 429) if request is None else (400, 401, 404, 409, 429)
    return extend_schema(
        operation_id=operation_id,
        summary=summary,
        description=description,
        request=request,
        responses={200: s.ParcelOutput, **error_responses(*errors)},
        **schema,
    )


def validated(serializer: serializers.Serializer) -> Any:
    """The serializer's validated data; a 400 with its field messages if the input is wrong."""
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


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
        parcel = selectors.parcel_for_partner(partner=self.partner, tracking_number=tracking_number)
        if parcel is None:
            raise Http404
        return parcel


T = TypeVar("T")


def found(obj: T | None) -> T:
    """What a selector found, or a 404 (another partner's is not found either)."""
    if obj is None:
        raise Http404
    return obj
