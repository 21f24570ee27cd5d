"""Reads about stations and their people."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from .models import Invitation, LedgerLine, Membership, Station, User


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    """The stations a person works at, with their role, for the station switcher."""
    return Membership.objects.filter(user=user).select_related("station").order_by("station__name")


def membership_for(*, user: User, station_slug: str) -> Membership | None:
    """The person's membership of the station with this slug, with the station; None if none."""
    return (
        Membership.objects.select_related("station")
        .filter(user=user, station__slug=station_slug)
        .first()
    )


def earnings_this_month(*, station: Station) -> list[dict]:
    """This month's earnings (station's local month) per currency, summed in the database."""
    local = timezone.now().astimezone(station.tzinfo)
    start = dt.datetime.combine(local.date().replace(day=1), dt.time.min, tzinfo=station.tzinfo)
    return list(
        LedgerLine.objects.filter(station=station, created_at__gte=start)
        .values("currency")
        .annotate(total=Sum("amount"), lines=Count("pk"))
        .order_by("currency")
    )


def station_people(*, station: Station) -> tuple[list[Membership], list[Invitation]]:
    members = list(
        Membership.objects.filter(station=station)
        .select_related("user")
        .order_by("role", "user__email")
    )
    invitations = list(
        Invitation.objects.filter(station=station, accepted_at__isnull=True).order_by("email")
    )
    return members, invitations
