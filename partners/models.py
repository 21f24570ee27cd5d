"""Logistics partners (carriers), what they pay stations, and their API keys."""

from __future__ import annotations

import base64
import hashlib
import secrets

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.indexes import partial_index

currency_validator = RegexValidator(r"^[A-Z]{3}$", _("Use a three-letter ISO 4217 code, e.g. SGD."))


class Partner(models.Model):
    """A carrier that announces parcels to stations and pays them per handover and return."""

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    currency = models.CharField(
        _("currency"), max_length=3, default="SGD", validators=[currency_validator]
    )
    default_hold_days = models.PositiveSmallIntegerField(
        _("hold days"),
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(60)],
        help_text=_("How many days a station keeps a parcel before it is due back."),
    )
    extension_days = models.PositiveSmallIntegerField(
        _("extension days"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(30)],
        help_text=_("How many days a buyer's one extension adds to the hold."),
    )
    active = models.BooleanField(_("active"), default=True)
    contact_email = models.EmailField(
        _("technical contact"),
        blank=True,
        help_text=_("Told when a webhook endpoint keeps failing and is switched off."),
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Tariff(models.Model):
    """What a partner pays a station, in minor units, from `valid_from` until the next tariff."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="tariffs")
    handover_fee = models.PositiveIntegerField(_("handover fee (minor units)"))
    return_fee = models.PositiveIntegerField(_("return fee (minor units)"))
    currency = models.CharField(_("currency"), max_length=3, validators=[currency_validator])
    valid_from = models.DateField(_("valid from"))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("tariff")
        verbose_name_plural = _("tariffs")
        ordering = ["partner", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "valid_from"], name="tariff_partner_valid_from_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner} from {self.valid_from:%Y-%m-%d}"


class ApiKey(models.Model):
    """A partner's API key. Only a SHA-256 hash is stored; the key is shown once, at creation.

    The first characters (`prefix`) are kept in clear so a partner and an admin can tell keys apart.
    """

    PREFIX_LENGTH = 8

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(_("name"), max_length=80, blank=True)
    prefix = models.CharField(_("prefix"), max_length=PREFIX_LENGTH, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.partner})"

    @staticmethod
    def hash(raw_key: str) -> str:
        # A key carries 256 random bits, so a fast hash is enough: there is nothing to brute-force.
        return hashlib.sha256(raw_key.encode()).hexdigest()

    @staticmethod
    def generate() -> str:
        return "sk_" + secrets.token_urlsafe(32)


WEBHOOK_EVENTS = [
    "parcel.checked_in",
    "parcel.picked_up",
    "parcel.return_due",
    "parcel.returned",
    "parcel.cancelled",
]


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class WebhookEndpoint(models.Model):
    """A URL of the partner's that receives signed POSTs for the events it chose.

    Rotating the secret keeps the old one valid for a day, and deliveries are signed with both
    meanwhile, so the partner can switch without losing a message.
    """

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(_("URL"), max_length=500)
    events = models.JSONField(_("events"), default=list)
    secret = models.CharField(max_length=80, default=new_webhook_secret, editable=False)
    previous_secret = models.CharField(max_length=80, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    active = models.BooleanField(_("active"), default=True)
    disabled_reason = models.CharField(_("why it was switched off"), max_length=200, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        indexes = [models.Index(fields=["partner", "active"], name="webhook_partner_active_idx")]

    def __str__(self) -> str:
        return self.url


class WebhookMessage(models.Model):
    """One event for a partner, written in the transaction of the change it reports (the outbox).

    `msg_id` is the Standard Webhooks `webhook-id`: the same for every delivery and redelivery of
    the message, so a partner can drop repeats.
    """

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="webhook_messages")
    msg_id = models.CharField(max_length=40, unique=True)
    event_type = models.CharField(max_length=40)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("webhook message")
        verbose_name_plural = _("webhook messages")

    def __str__(self) -> str:
        return f"{self.event_type} {self.msg_id}"


class WebhookDelivery(models.Model):
    """A message on its way to one endpoint, retried with backoff for more than a day."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    message = models.ForeignKey(WebhookMessage, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    due_at = models.DateTimeField(default=timezone.now)
    # Queued for the worker until then (the beat sweep does not queue it again meanwhile).
    queued_until = models.DateTimeField(null=True, blank=True)
    # A worker is posting it until then (a second worker leaves it alone).
    leased_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        indexes = [
            partial_index("delivery_pending_due_idx", "due_at", status="pending"),
            models.Index(fields=["endpoint", "-created_at"], name="delivery_endpoint_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.message} → {self.endpoint}"


class DeliveryAttempt(models.Model):
    """Every POST made, with what came back."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    attempted_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")
        ordering = ["attempted_at"]

    def __str__(self) -> str:
        return f"{self.attempted_at:%Y-%m-%d %H:%M:%S} → {self.status_code or self.error}"


class IdempotencyRecord(models.Model):
    """The response to a partner's POST with an `Idempotency-Key`, replayed for a repeat.

    `status_code` 0 means claimed but not answered yet: the request holding it has until
    `locked_until`, after which a repeat may take the key over (partners/api/idempotency.py).
    `content` is the response body exactly as it was sent, so a replay is byte-identical.
    """

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    content = models.BinaryField(default=bytes)
    content_type = models.CharField(max_length=100, blank=True)
    locked_until = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["partner", "key"], name="idempotency_partner_key_uniq")
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self) -> str:
        return self.key
