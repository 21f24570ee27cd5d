"""Writes about stations and the people who run them."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from parcels.exceptions import DomainError

from .models import Membership, Station, User


class StationError(DomainError):
    code = "station_error"


def _unique_slug(name: str) -> str:
    base = slugify(name)[:70] or "station"
    slug, n = base, 1
    while Station.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def station_apply(
    *,
    owner: User,
    name: str,
    kind: str,
    address: str,
    postal_code: str,
    latitude: Decimal,
    longitude: Decimal,
    phone: str,
    capacity: int,
    timezone_name: str = "Asia/Singapore",
) -> Station:
    """An owner applies to open a station: it starts `applied`, taking no parcels until approved."""
    with transaction.atomic():
        station = Station(
            name=name.strip(),
            slug=_unique_slug(name),
            kind=kind,
            address=address.strip(),
            postal_code=postal_code.strip(),
            latitude=latitude,
            longitude=longitude,
            phone=phone,
            capacity=capacity,
            timezone=timezone_name,
            status=Station.Status.APPLIED,
        )
        station.full_clean(exclude=["slug"])
        station.save()
        Membership.objects.create(user=owner, station=station, role=Membership.Role.OWNER)
    return station


def _set_status(station: Station, *, allowed: set[str], target: str, stamp: str | None) -> Station:
    now = timezone.now()
    fields: dict[str, object] = {"status": target}
    if stamp:
        fields[stamp] = now
    # Race: a conditional UPDATE, so two admins acting at once cannot both apply a move.
    updated = Station.objects.filter(pk=station.pk, status__in=allowed).update(**fields)
    station.refresh_from_db()
    if not updated:
        raise StationError(
            _("%(station)s is %(status)s; that cannot be done now.")
            % {"station": station.name, "status": station.get_status_display().lower()},
            code="wrong_status",
        )
    return station


def station_approve(*, station: Station) -> Station:
    """Open an applied (or suspended) station for parcels."""
    return _set_status(
        station,
        allowed={Station.Status.APPLIED, Station.Status.SUSPENDED},
        target=Station.Status.ACTIVE,
        stamp="approved_at",
    )


def station_suspend(*, station: Station) -> Station:
    """Stop an active station from taking parcels in. Parcels on its shelf can still be handed
    over and back."""
    return _set_status(
        station,
        allowed={Station.Status.ACTIVE},
        target=Station.Status.SUSPENDED,
        stamp="suspended_at",
    )


def membership_add(*, station: Station, user: User, role: str) -> Membership:
    """Give a person a role at a station (or change the role they have)."""
    membership, _created = Membership.objects.update_or_create(
        station=station, user=user, defaults={"role": role}
    )
    return membership
