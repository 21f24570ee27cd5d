"""Logistics partners (carriers), what they pay stations, and their API keys."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

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

    @staticmethod
    def current_for(partner: Partner, on: dt.date) -> Tariff | None:
        """The tariff in force on a day: the latest one that starts on or before it."""
        return (
            Tariff.objects.filter(partner=partner, valid_from__lte=on)
            .order_by("-valid_from")
            .first()
        )


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
