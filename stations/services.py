"""Writes about stations and the people who run them."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any, Protocol

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from config.celery import queue_on_commit
from config.errors import DomainError

from .models import Invitation, Membership, Station, User, invitation_expiry


class StationError(DomainError):
    code = "station_error"


def _unique_slug(name: str) -> str:
    base = slugify(name)[:70] or "station"
    slug, n = base, 1
    while Station.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


# The particulars an owner applies with, in the application form's order (the opening hours,
# which the form builds from its own rows, come apart).
STATION_APPLICATION_FIELDS = (
    "name",
    "kind",
    "address",
    "postal_code",
    "latitude",
    "longitude",
    "phone",
    "capacity",
)


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
    opening_hours: dict[str, Any] | None = None,
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
            opening_hours=opening_hours or {},
            status=Station.Status.APPLIED,
        )
        station.full_clean(exclude=["slug"])
        try:
            with transaction.atomic():
                station.save()
        except IntegrityError:
            # Race: another application took the same slug a moment ago; add a random tail.
            station.slug = f"{station.slug[:70]}-{secrets.token_hex(3)}"
            station.save()
        Membership.objects.create(user=owner, station=station, role=Membership.Role.OWNER)
    return station


def _set_status(
    station: Station,
    *,
    allowed: set[str],
    target: str,
    stamp: str | None,
    extra: dict[str, Any] | None = None,
) -> Station:
    now = timezone.now()
    fields: dict[str, object] = {"status": target, **(extra or {})}
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
    """Open an applied (or suspended) station for parcels. A new station's owners are e-mailed."""
    was_applied = station.status == Station.Status.APPLIED
    with transaction.atomic():
        station = _set_status(
            station,
            allowed={Station.Status.APPLIED, Station.Status.SUSPENDED},
            target=Station.Status.ACTIVE,
            stamp="approved_at",
        )
        if was_applied:
            queue_on_commit("stations.tasks.send_station_decision", station.pk)
    return station


def station_reject(*, station: Station, reason: str) -> Station:
    """Turn down an application, with a reason the owner is e-mailed."""
    reason = reason.strip()
    if not reason:
        raise StationError(_("Give a reason for the rejection."), code="invalid", field="reason")
    with transaction.atomic():
        station = _set_status(
            station,
            allowed={Station.Status.APPLIED},
            target=Station.Status.REJECTED,
            stamp="rejected_at",
            extra={"rejection_reason": reason},
        )
        queue_on_commit("stations.tasks.send_station_decision", station.pk)
    return station


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


class ShelfCount(Protocol):
    """How many parcels are on a station's shelf now. Parcels knows that, and parcels builds on
    stations, not the reverse (the README's import rule): the page that changes a capacity
    passes parcels.selectors.shelf_count, and it is asked here, under the station's lock."""

    def __call__(self, *, station: Station) -> int: ...


def _lock_for_capacity(station: Station, capacity: int, on_shelf: ShelfCount) -> Station:
    """The station's row, locked, once `capacity` is known to hold what is on its shelf."""
    # Race: lock the row so a check-in cannot fill the shelf past the new capacity meanwhile.
    locked = Station.objects.select_for_update(no_key=True).get(pk=station.pk)
    count = on_shelf(station=locked)
    if capacity < count:
        raise StationError(
            _("%(count)s parcels are on the shelf now; the capacity cannot be lower than that.")
            % {"count": count},
            code="invalid",
            field="capacity",
        )
    return locked


def station_check_capacity(*, station: Station, capacity: int, on_shelf: ShelfCount) -> None:
    """Refuse (StationError on `capacity`) a capacity below the parcels on the shelf now.

    For a form that shows the refusal before it saves: called inside the transaction that then
    saves (the admin's change view is one), the lock it takes holds until that commit."""
    with transaction.atomic():
        _lock_for_capacity(station, capacity, on_shelf)


# What a network admin may change on a station's own page: what its owner applied with, the
# slug, the time zone and the opening hours. The status moves only through
# station_approve/reject/suspend, and the stamps come with those moves.
STATION_ADMIN_FIELDS = frozenset({*STATION_APPLICATION_FIELDS, "slug", "timezone", "opening_hours"})


def station_update(*, station: Station, changes: dict[str, Any], on_shelf: ShelfCount) -> Station:
    """A network admin's change to a station: any of STATION_ADMIN_FIELDS, validated as the
    model says, and the shelf capacity never below what is on the shelf now (as for an owner)."""
    unknown = changes.keys() - STATION_ADMIN_FIELDS
    if unknown:
        raise ValueError(f"not changed through station_update: {sorted(unknown)}")
    with transaction.atomic():
        if "capacity" in changes:
            locked = _lock_for_capacity(station, changes["capacity"], on_shelf)
        else:
            locked = Station.objects.select_for_update(no_key=True).get(pk=station.pk)
        for field, value in changes.items():
            setattr(locked, field, value)
        locked.full_clean(exclude=[f.name for f in Station._meta.fields if f.name not in changes])
        if changes:
            locked.save(update_fields=list(changes))
    return locked


def station_update_settings(
    *,
    station: Station,
    phone: str,
    capacity: int,
    opening_hours: dict[str, Any],
    on_shelf: ShelfCount,
) -> Station:
    """What an owner may change: the phone, the shelf capacity and the opening hours."""
    with transaction.atomic():
        locked = _lock_for_capacity(station, capacity, on_shelf)
        locked.phone, locked.capacity, locked.opening_hours = phone, capacity, opening_hours
        locked.full_clean(exclude=["slug"])
        locked.save(update_fields=["phone", "capacity", "opening_hours"])
    return locked


def invitation_create(*, station: Station, email: str, invited_by: User) -> Invitation:
    """Invite someone to work at the station as a clerk. Inviting the same address again while
    the first invitation is open sends it again."""
    email = email.strip().lower()
    if Membership.objects.filter(station=station, user__email__iexact=email).exists():
        raise StationError(
            _("%(email)s already works at this station.") % {"email": email},
            code="invalid",
            field="email",
        )
    invitation = Invitation.objects.filter(
        station=station, email=email, accepted_at__isnull=True
    ).first()
    if invitation is not None:
        # Sending again: a fresh week, and the e-mail goes out again.
        Invitation.objects.filter(pk=invitation.pk).update(
            expires_at=invitation_expiry(), mailed_at=None
        )
    else:
        try:
            with transaction.atomic():
                invitation = Invitation.objects.create(
                    station=station,
                    email=email,
                    role=Membership.Role.CLERK,
                    token=secrets.token_urlsafe(24),
                    invited_by=invited_by,
                )
        except IntegrityError:
            # Race: the same address invited twice at once; the first invitation stands.
            invitation = Invitation.objects.get(
                station=station, email=email, accepted_at__isnull=True
            )
    queue_on_commit("stations.tasks.send_invitation", invitation.pk)
    return invitation


def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """The invited person joins the station. The invitation works once, for its own address."""
    if invitation.email.lower() != user.email.lower():
        raise StationError(
            _("This invitation is for %(email)s. Sign in with that address to accept it.")
            % {"email": invitation.email},
            code="wrong_user",
        )
    if invitation.accepted_at is None and invitation.expires_at <= timezone.now():
        raise StationError(
            _("This invitation has expired. Ask the station's owner to invite you again."),
            code="expired",
        )
    with transaction.atomic():
        # Race: a conditional UPDATE, so a double click accepts once.
        accepted = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True).update(
            accepted_at=timezone.now(), accepted_by=user
        )
        membership = Membership.objects.filter(station=invitation.station, user=user).first()
        if membership is None:
            if not accepted:
                raise StationError(_("This invitation was already used."), code="used")
            membership = Membership.objects.create(
                station=invitation.station, user=user, role=invitation.role
            )
    return membership


def membership_remove(*, station: Station, membership_id: int) -> None:
    """Take a clerk off the station. Owners are not removed from the portal."""
    deleted, _rows = Membership.objects.filter(
        pk=membership_id, station=station, role=Membership.Role.CLERK
    ).delete()
    if not deleted:
        raise StationError(_("No such clerk at this station."), code="not_found")


def invitation_withdraw(*, station: Station, invitation_id: int) -> None:
    """Take back an invitation nobody accepted yet (sent to a wrong address, say)."""
    deleted, _rows = Invitation.objects.filter(
        pk=invitation_id, station=station, accepted_at__isnull=True
    ).delete()
    if not deleted:
        raise StationError(_("No open invitation to withdraw."), code="not_found")
