"""Reads about stations and their people."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import Membership, User


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    """The stations a person works at, with their role, for the station switcher."""
    return Membership.objects.filter(user=user).select_related("station").order_by("station__name")
