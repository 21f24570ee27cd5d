"""Stations (the tenant), the people who run them, and the money they earn.

A station moves through `applied → active → suspended | closed`; only an active station may take
parcels in. People reach a station through a `Membership` with the role owner or clerk.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any, ClassVar, Self

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager
from phonenumber_field.modelfields import PhoneNumberField

from config.indexes import partial_index, partial_unique


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra: object) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> User:
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """Anyone who logs in: station owners and clerks, and network admins (is_staff)."""

    email = models.EmailField(_("e-mail address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=150, blank=True)
    is_staff = models.BooleanField(
        _("staff status"), default=False, help_text=_("Can log in to the network admin.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)s is not a known time zone."), params={"value": value})


class Station(models.Model):
    """A shop, newsstand or property office that keeps parcels for buyers: the tenant."""

    class Kind(models.TextChoices):
        SHOP = "shop", _("Shop")
        NEWSSTAND = "newsstand", _("Newsstand")
        PROPERTY_OFFICE = "property_office", _("Property office")
        OTHER = "other", _("Other")

    class Status(models.TextChoices):
        APPLIED = "applied", _("Applied")
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        CLOSED = "closed", _("Closed")
        REJECTED = "rejected", _("Rejected")

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.SHOP)
    address = models.CharField(_("address"), max_length=255)
    postal_code = models.CharField(_("postal code"), max_length=12)
    latitude = models.DecimalField(
        _("latitude"),
        max_digits=9,
        decimal_places=6,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
    )
    longitude = models.DecimalField(
        _("longitude"),
        max_digits=9,
        decimal_places=6,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    phone = PhoneNumberField(_("phone"))
    timezone = models.CharField(
        _("time zone"), max_length=64, default="Asia/Singapore", validators=[validate_timezone]
    )
    capacity = models.PositiveIntegerField(
        _("shelf capacity"),
        validators=[MinValueValidator(1), MaxValueValidator(5000)],
        help_text=_("How many parcels fit on the shelf, in slots."),
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.APPLIED
    )
    opening_hours = models.JSONField(
        _("opening hours"),
        default=dict,
        blank=True,
        help_text=_(
            'Per weekday (0 = Monday) a list of [opens, closes] pairs, e.g. {"0": [["08:00", '
            '"21:00"]]}. A missing or empty day is closed.'
        ),
    )
    rejection_reason = models.TextField(_("reason for rejection"), blank=True)
    created_at = models.DateTimeField(_("applied at"), default=now)
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    suspended_at = models.DateTimeField(_("suspended at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    rejected_at = models.DateTimeField(_("rejected at"), null=True, blank=True)
    # When the owner was told of the approval or rejection: the e-mail goes out once.
    decision_mailed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("station")
        verbose_name_plural = _("stations")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(capacity__gte=1), name="station_capacity_gte_1"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    status__in=["applied", "active", "suspended", "closed", "rejected"]
                ),
                name="station_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "name"], name="station_status_name_idx"),
            # The e-mail backstop (stations.tasks.send_unmailed): only the few not told yet.
            partial_index(
                "station_decision_unmailed_idx", "status", decision_mailed_at__isnull=True
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class Membership(models.Model):
    """A person's role at one station.

    Not scoped with django-scopes: memberships are how a request finds its station in the first
    place (looked up by user, before any station scope exists).
    """

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        CLERK = "clerk", _("Clerk")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices)
    created_at = models.DateTimeField(default=now)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "station"], name="membership_user_station_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.station} ({self.get_role_display()})"

    @property
    def is_owner(self) -> bool:
        return self.role == self.Role.OWNER


INVITATION_DAYS = 7


def invitation_expiry() -> dt.datetime:
    return now() + dt.timedelta(days=INVITATION_DAYS)


class Invitation(models.Model):
    """An owner's invitation for someone to join a station as a clerk, accepted through a link."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("e-mail address"))
    role = models.CharField(
        _("role"), max_length=10, choices=Membership.Role.choices, default=Membership.Role.CLERK
    )
    token = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=now)
    expires_at = models.DateTimeField(_("expires at"), default=invitation_expiry)
    mailed_at = models.DateTimeField(null=True, blank=True, editable=False)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        constraints = [
            partial_unique(
                "invitation_open_per_email_uniq", "station", "email", accepted_at__isnull=True
            )
        ]
        indexes = [
            partial_index(
                "invitation_unmailed_idx",
                "created_at",
                mailed_at__isnull=True,
                accepted_at__isnull=True,
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.station}"


class StationPartnerScoped(models.Model):
    """A record of one station's dealings with one partner, through its own `station` and
    `partner`: django-scopes shows it only within a scope (stations.tenancy), filtered by both."""

    # Typed for mypy: django-scopes builds the manager class at run time (typings/django_scopes).
    # django-stubs reads a model's own `_default_manager`, never an inherited one (to type its
    # relations), so each subclass declares it again.
    objects: ClassVar[ScopedManager[Self]] = ScopedManager(station="station", partner="partner")
    _default_manager: ClassVar[ScopedManager[Self]]

    class Meta:
        abstract = True


class LedgerLine(StationPartnerScoped):
    """One immutable line of a station's earnings: a fee for a handover or a return.

    Amounts are integers in the currency's minor units (cents). A line is never edited or deleted;
    a correction is a new line. The unique constraint makes a second handover or return line for
    the same parcel impossible, whatever the code above it does.
    """

    class Kind(models.TextChoices):
        HANDOVER = "handover", _("Handover")
        RETURN = "return", _("Return")
        ADJUSTMENT = "adjustment", _("Correction")

    station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="ledger_lines")
    partner = models.ForeignKey(
        "partners.Partner", on_delete=models.PROTECT, related_name="ledger_lines"
    )
    parcel = models.ForeignKey(
        "parcels.Parcel",
        on_delete=models.PROTECT,
        related_name="ledger_lines",
        null=True,
        blank=True,
        help_text=_("The parcel it is for; a correction may concern none."),
    )
    tariff = models.ForeignKey(
        "partners.Tariff",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_lines",
        help_text=_("The tariff the amount was taken from; empty if the partner had none."),
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    amount = models.BigIntegerField(_("amount (minor units)"))
    currency = models.CharField(_("currency"), max_length=3)
    reason = models.CharField(
        _("reason"), max_length=300, blank=True, help_text=_("Why, for a correction.")
    )
    created_by = models.ForeignKey(
        User, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=now)

    _default_manager: ClassVar[ScopedManager[Self]]  # django-stubs reads each model's own

    class Meta:
        verbose_name = _("ledger line")
        verbose_name_plural = _("ledger lines")
        constraints = [
            # One handover and one return line per parcel; corrections (other kinds) may repeat.
            partial_unique(
                "ledgerline_parcel_kind_uniq", "parcel", "kind", kind__in=["handover", "return"]
            ),
        ]
        indexes = [
            models.Index(fields=["station", "created_at"], name="ledger_station_created_idx"),
            models.Index(fields=["partner", "created_at"], name="ledger_partner_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.currency}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Integrity guard, not a business rule: ledger lines are append-only.
        if not self._state.adding:
            raise ValueError("Ledger lines are immutable; add a correcting line instead.")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise ValueError("Ledger lines are immutable; add a correcting line instead.")


class Statement(models.Model):
    """A station's earnings for one calendar month (its own time zone) in one currency.

    Written once when the month is closed, with totals summed in the database; the lines it covers
    are the ledger lines of that month. Admins record the payout.
    """

    station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="statements")
    month = models.DateField(_("month"), help_text=_("The first day of the month."))
    currency = models.CharField(_("currency"), max_length=3)
    handovers = models.PositiveIntegerField(_("handovers"), default=0)
    handover_total = models.BigIntegerField(_("handover fees"), default=0)
    returns = models.PositiveIntegerField(_("returns"), default=0)
    return_total = models.BigIntegerField(_("return fees"), default=0)
    adjustment_total = models.BigIntegerField(_("corrections"), default=0)
    total = models.BigIntegerField(_("total (minor units)"))
    created_at = models.DateTimeField(default=now)
    mailed_at = models.DateTimeField(null=True, blank=True, editable=False)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    payout_reference = models.CharField(_("payout reference"), max_length=120, blank=True)

    # Typed for mypy: django-scopes builds the manager class at run time (typings/django_scopes).
    objects: ClassVar[ScopedManager[Self]] = ScopedManager(station="station")
    _default_manager: ClassVar[ScopedManager[Self]]

    class Meta:
        verbose_name = _("statement")
        verbose_name_plural = _("statements")
        constraints = [
            models.UniqueConstraint(
                fields=["station", "month", "currency"], name="statement_station_month_uniq"
            )
        ]
        indexes = [
            models.Index(fields=["month", "paid_at"], name="statement_month_paid_idx"),
            partial_index("statement_unmailed_idx", "created_at", mailed_at__isnull=True),
        ]

    def __str__(self) -> str:
        return f"{self.station} {self.month:%Y-%m} {self.currency}"

    @property
    def is_paid(self) -> bool:
        return self.paid_at is not None
