"""Input and output shapes of the partner API (separate, per the styleguide)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from parcels import lifecycle, tracking
from parcels.models import Parcel
from partners.api.sizes import SizeInput, SizeOutput
from partners.models import WEBHOOK_EVENTS, WebhookDelivery
from partners.webhook_http import UnsafeUrl, normalize_url

UPSTREAM_EVENTS = [
    "dispatched",
    "in_transit",
    "customs_cleared",
    "arrived_at_hub",
    "out_for_delivery",
    "delayed",
]
# Every kind of event a parcel's timeline can show: the network's (written by parcels.services)
# and the partner's own upstream ones.
EVENT_KINDS = [
    *sorted(lifecycle.NETWORK_EVENTS),
    *(f"{lifecycle.PARTNER_PREFIX}{kind}" for kind in UPSTREAM_EVENTS),
]


# --- errors -------------------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text="A stable, machine-readable reason, e.g. `wrong_status`."
    )
    detail = serializers.CharField(help_text="What went wrong, for a person.")
    # DRF's metaclass takes declared fields out of the class, so the `errors` property stays.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.JSONField(),
        required=False,
        help_text="Field name → messages (a list; for items of a list, index → messages), "
        "for bad input (400).",
    )


class TextField(serializers.CharField):
    """Free text whose `max_length` counts what was sent, as the schema's `maxLength` does: DRF
    would count it after trimming, so text padded with spaces past the limit got in. Text that
    may not be blank must hold something besides white space (DRF trims it, a no-break space
    included), and its schema says so with a pattern."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not self.allow_blank:
            # drf-spectacular turns this into the schema's `pattern`.
            self.validators.append(RegexValidator(r"\S", message=self.error_messages["blank"]))

    def run_validation(self, data: Any = serializers.empty) -> Any:
        if self.max_length is not None and isinstance(data, str) and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().run_validation(data)


# --- parcels ------------------------------------------------------------------------------------


@extend_schema_field(
    {
        "type": "string",
        # As sent: spaces are taken out before the rule applies (so no maxLength on the text).
        "pattern": tracking.RAW_PATTERN,
    }
)
class TrackingNumberField(serializers.CharField):
    """A tracking number by the network's one rule (parcels/tracking.py), normalized: checked
    after spaces are taken out and letters upper-cased, never cut to length."""

    def to_internal_value(self, data: Any) -> str:
        number = tracking.parse(super().to_internal_value(data))
        if number is None:
            raise serializers.ValidationError(tracking.INVALID_MESSAGE, code="invalid")
        return number


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "format": "email", "maxLength": 254},
            {"type": "string", "enum": [""]},
        ],
        "default": "",
        "description": "An e-mail address for the buyer's notices, or empty (or left out) for "
        "none.",
    }
)
class OptionalEmailField(serializers.EmailField):
    """An e-mail address or "". Its schema keeps the "" default off the e-mail format, which
    validators rightly refuse as an example of one."""


class AnnounceInput(SizeInput):
    tracking_number = TrackingNumberField(
        help_text="Your tracking number: 1–64 letters A–Z, digits and hyphens (not first or "
        "last). Spaces are taken out and letters upper-cased before it is checked and stored."
    )
    station = serializers.SlugField(help_text="The slug of an active station (see /stations/).")
    recipient_name = TextField(max_length=150)
    recipient_phone = TextField(
        max_length=32, help_text="E.164 (+6591234567) or local to the network's default region."
    )
    recipient_email = OptionalEmailField(
        max_length=254, required=False, allow_blank=True, default=""
    )
    language = serializers.ChoiceField(
        choices=Parcel.Language.choices,
        default=Parcel.Language.EN,
        help_text="The language of the buyer's messages and pickup page.",
    )


@extend_schema_field(
    {
        "type": "array",
        "minItems": 1,
        "maxItems": 1000,
        "items": {
            # Anything at all, on purpose: an item that breaks the single announcement's rules
            # (not even an object, a wrong type) is that item's `error` in a 200, not a 400 for
            # the batch, so the schema must not call such a batch invalid.
            "description": "A parcel: an object with the fields and rules of a single "
            "announcement (`AnnounceInput`, `POST /api/v1/parcels/`). An item that breaks them "
            "is reported as that item's `error` in the results; the others are still announced.",
        },
    }
)
class BatchItemsField(serializers.ListField):
    """The batch's list, its items not checked here: each is checked on its own (in the view),
    so one that is not even an object is that item's error, not the whole batch's."""


class BatchAnnounceInput(serializers.Serializer):
    parcels = BatchItemsField(
        min_length=1,
        max_length=1000,
        help_text="Up to 1,000 parcels, each shaped like a single announcement.",
    )


class EventOutput(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=EVENT_KINDS, help_text="`parcel.*` for network events, `partner.*` for yours."
    )
    occurred_at = serializers.DateTimeField()
    location = serializers.CharField(allow_blank=True)
    description = serializers.CharField(allow_blank=True)


class ParcelOutput(SizeOutput):
    tracking_number = serializers.CharField()
    status = serializers.ChoiceField(choices=Parcel.Status.choices)
    station = serializers.CharField(source="station.slug")
    recipient_name = serializers.CharField()
    recipient_phone = serializers.CharField()
    recipient_email = serializers.CharField(allow_blank=True)
    language = serializers.ChoiceField(choices=Parcel.Language.choices)
    shelf_slot = serializers.CharField(
        source="shelf_label", allow_blank=True, help_text="e.g. B-07, while on the shelf"
    )
    return_reason = serializers.CharField(allow_blank=True)
    hold_deadline = serializers.DateTimeField(allow_null=True)
    pickup_url = serializers.SerializerMethodField(
        help_text="The buyer's pickup page, once the parcel is at the station."
    )
    announced_at = serializers.DateTimeField(allow_null=True)
    checked_in_at = serializers.DateTimeField(allow_null=True)
    picked_up_at = serializers.DateTimeField(allow_null=True)
    return_due_at = serializers.DateTimeField(allow_null=True)
    returned_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_pickup_url(self, parcel: Parcel) -> str | None:
        if not parcel.pickup_token:
            return None
        return settings.SITE_URL + reverse("pickup", args=[parcel.pickup_token])

    def to_representation(self, instance: Parcel) -> dict:
        data = super().to_representation(instance)
        data["recipient_phone"] = str(instance.recipient_phone)
        return data


class ParcelDetailOutput(ParcelOutput):
    events = EventOutput(many=True, source="event_rows", help_text="Oldest first.")


class BatchItemOutput(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position in the request's `parcels` list.")
    status = serializers.ChoiceField(choices=["created", "exists", "error"])
    tracking_number = serializers.CharField(allow_blank=True)
    parcel = ParcelOutput(required=False, help_text="Present unless status is error.")
    code = serializers.CharField(required=False, help_text="Present when status is error.")
    # DRF's metaclass takes declared fields out of the class, so the `errors` property stays.
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


class BatchOutput(serializers.Serializer):
    created = serializers.IntegerField()
    existing = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = BatchItemOutput(many=True)


class PartnerEventInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=UPSTREAM_EVENTS)
    occurred_at = serializers.DateTimeField(help_text="When it happened (ISO 8601, with zone).")
    location = TextField(max_length=120, required=False, allow_blank=True, default="")
    description = TextField(max_length=300, required=False, allow_blank=True, default="")

    def validate_occurred_at(self, value: dt.datetime) -> dt.datetime:
        if value > timezone.now() + dt.timedelta(minutes=10):
            raise serializers.ValidationError("Cannot be in the future.")
        return value


class RecallInput(serializers.Serializer):
    note = TextField(max_length=300, required=False, allow_blank=True, default="")


# --- stations -----------------------------------------------------------------------------------


class StationOutput(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField()
    address = serializers.CharField()
    postal_code = serializers.CharField()
    latitude = serializers.FloatField()
    longitude = serializers.FloatField()
    timezone = serializers.CharField()
    opening_hours = serializers.DictField(
        child=serializers.ListField(child=serializers.ListField(child=serializers.CharField())),
        help_text='Weekday (0 = Monday) → [["08:00", "21:00"], …]; a missing day is closed.',
    )
    capacity = serializers.IntegerField()
    free_capacity = serializers.IntegerField(help_text="Free shelf slots right now.")
    distance_km = serializers.FloatField(
        allow_null=True, help_text="From the `near` point, when given."
    )


# --- webhooks -----------------------------------------------------------------------------------


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only: DRF's BooleanField also takes 1, "yes", "off", … which the
    schema (a boolean) does not allow, and a typo would switch an endpoint off silently."""

    def to_internal_value(self, data: object) -> bool:
        if data is True or data is False:
            return data
        self.fail("invalid", input=data)


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "enum": WEBHOOK_EVENTS},
        "minItems": 1,
        "uniqueItems": True,
    }
)
class EventsField(serializers.MultipleChoiceField):
    """At least one of the webhook events, each once (drf-spectacular leaves the minimum out;
    the schema says `uniqueItems`, so a repeated event is refused rather than merged)."""

    default_error_messages = {
        **serializers.MultipleChoiceField.default_error_messages,
        "repeated": "Each event may be named once; {event} is named more than once.",
    }

    def to_internal_value(self, data: Any) -> Any:  # a set of the choices, as DRF gives it
        if isinstance(data, list):
            seen: set = set()
            for item in data:
                if item in seen:
                    self.fail("repeated", event=item)
                seen.add(item)
        return super().to_internal_value(data)


class WebhookInput(serializers.Serializer):
    url = serializers.URLField(
        max_length=500, help_text="https, on a public host (not a private or local address)."
    )
    events = EventsField(choices=WEBHOOK_EVENTS, allow_empty=False)
    active = StrictBooleanField(required=False, default=True)

    def validate_url(self, value: str) -> str:
        # The URL's form only; where its host resolves to is checked once, by the service
        # (webhook_endpoint_create/update), whose refusal is the same 400 on `url`.
        try:
            return normalize_url(value)
        except UnsafeUrl as exc:
            raise serializers.ValidationError(str(exc)) from None


class WebhookUpdateInput(WebhookInput):
    url = serializers.URLField(max_length=500, required=False)
    events = EventsField(choices=WEBHOOK_EVENTS, allow_empty=False, required=False)
    active = StrictBooleanField(required=False)


class WebhookOutput(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    events = serializers.ListField(child=serializers.ChoiceField(choices=WEBHOOK_EVENTS))
    active = serializers.BooleanField()
    disabled_reason = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()


class WebhookWithSecretOutput(WebhookOutput):
    secret = serializers.CharField(
        help_text="Shown only when created or rotated. Verify signatures with it."
    )


class DeliveryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    webhook = serializers.IntegerField(source="endpoint_id")
    msg_id = serializers.CharField(source="message.msg_id")
    event_type = serializers.ChoiceField(choices=WEBHOOK_EVENTS, source="message.event_type")
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices)
    attempts = serializers.IntegerField()
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField(allow_blank=True)
    next_attempt_at = serializers.SerializerMethodField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_next_attempt_at(self, delivery) -> str | None:
        return delivery.due_at.isoformat() if delivery.status == "pending" else None


# --- invoices -----------------------------------------------------------------------------------


class InvoiceLineOutput(serializers.Serializer):
    station = serializers.CharField()
    currency = serializers.CharField()
    handovers = serializers.IntegerField()
    handover_total = serializers.IntegerField(help_text="Minor units (cents).")
    returns = serializers.IntegerField()
    return_total = serializers.IntegerField(help_text="Minor units (cents).")
    total = serializers.IntegerField(help_text="Minor units (cents).")


class InvoiceOutput(serializers.Serializer):
    month = serializers.CharField(help_text="YYYY-MM, in each station's time zone")
    totals = serializers.DictField(
        child=serializers.IntegerField(), help_text="Currency → total in minor units."
    )
    stations = InvoiceLineOutput(many=True)


class ParcelPage(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="The next page, or null.")
    previous = serializers.URLField(allow_null=True)
    results = ParcelOutput(many=True)


class DeliveryPage(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = DeliveryOutput(many=True)


class StationPage(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = StationOutput(many=True)
