"""The partner API's webhook endpoints: register, change, remove, rotate the secret, and the
deliveries (list, send again). Writes are partners.services, reads partners.selectors."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from partners import selectors, services
from partners.api import serializers as s
from partners.api.idempotency import idempotent
from partners.api.pagination import CheckedCursorPagination
from partners.models import WebhookDelivery, WebhookEndpoint

from .base import PartnerAPIView, cursor_parameter, error_responses, found, validated


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
        responses={200: s.WebhookOutput(many=True), **error_responses(401, 429)},
    )
    def get(self, request: Request) -> Response:
        endpoints = selectors.webhook_endpoints_for(partner=self.partner)
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
        responses={201: s.WebhookWithSecretOutput, **error_responses(400, 401, 409, 429)},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        v = validated(s.WebhookInput(data=request.data))
        endpoint = services.webhook_endpoint_create(
            partner=self.partner, url=v["url"], events=v["events"], active=v["active"]
        )
        return Response(
            s.WebhookWithSecretOutput(_webhook_data(endpoint, with_secret=True)).data,
            status=status.HTTP_201_CREATED,
        )


class WebhookView(PartnerAPIView):
    def endpoint(self, pk: int) -> WebhookEndpoint:
        return found(selectors.webhook_endpoint_for(partner=self.partner, pk=pk))


class WebhookDetailView(WebhookView):
    @extend_schema(
        operation_id="webhooks_update",
        summary="Change an endpoint (URL, events, or switch it on again)",
        description="Send only what changes. Switching an endpoint on again (`active: true`) "
        "clears the failures that switched it off; its secret stays the same.",
        request=s.WebhookUpdateInput,
        responses={200: s.WebhookOutput, **error_responses(400, 401, 404, 429)},
    )
    def patch(self, request: Request, pk: int) -> Response:
        endpoint = self.endpoint(pk)
        changes = validated(s.WebhookUpdateInput(data=request.data, partial=True))
        endpoint = services.webhook_endpoint_update(endpoint=endpoint, **changes)
        return Response(s.WebhookOutput(_webhook_data(endpoint)).data)

    @extend_schema(
        operation_id="webhooks_delete",
        summary="Remove an endpoint",
        description="Nothing more is sent to it, and its delivery log is deleted with it.",
        responses={204: None, **error_responses(401, 404, 429)},
    )
    def delete(self, request: Request, pk: int) -> Response:
        services.webhook_endpoint_delete(endpoint=self.endpoint(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateView(WebhookView):
    @extend_schema(
        operation_id="webhooks_rotate_secret",
        summary="Rotate the signing secret",
        description="Returns the new secret. For 24 hours deliveries carry two signatures, "
        "one per secret, so you can switch without losing a message. Rotating again meanwhile "
        "ends the older secret at once: retry a rotation with the same `Idempotency-Key`.",
        request=None,
        responses={200: s.WebhookWithSecretOutput, **error_responses(401, 404, 429)},
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        endpoint = services.webhook_endpoint_rotate_secret(endpoint=self.endpoint(pk))
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
        responses={200: s.DeliveryPage, **error_responses(401, 404, 429)},
    )
    def get(self, request: Request, pk: int) -> Response:
        qs = selectors.webhook_deliveries_for(
            endpoint=self.endpoint(pk), status=request.query_params.get("status", "")
        )
        paginator = DeliveryPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(s.DeliveryOutput(page, many=True).data)


class RedeliverView(PartnerAPIView):
    @extend_schema(
        operation_id="webhooks_redeliver",
        summary="Send a delivery's message again",
        description="A new delivery of the same message (same `webhook-id`), due now.",
        request=None,
        responses={202: s.DeliveryOutput, **error_responses(401, 404, 429)},
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        delivery = found(selectors.webhook_delivery_for(partner=self.partner, pk=pk))
        again = services.webhook_delivery_redeliver(delivery=delivery)
        again.message = delivery.message
        return Response(s.DeliveryOutput(again).data, status=status.HTTP_202_ACCEPTED)
