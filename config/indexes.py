"""Partial indexes and unique constraints, as the apps' models declare them: over only the rows
that match a condition (the keywords of a Q)."""

from __future__ import annotations

from django.db import models


def partial_index(name: str, *fields: str, **condition: object) -> models.Index:
    """An index on `fields` of only the rows that match `condition`: the few a sweep or backstop
    still has to handle, so it stays as small as they are few."""
    return models.Index(fields=list(fields), condition=models.Q(**condition), name=name)


def partial_unique(name: str, *fields: str, **condition: object) -> models.UniqueConstraint:
    """`fields` unique among the rows that match `condition` (the others may repeat them)."""
    return models.UniqueConstraint(fields=list(fields), condition=models.Q(**condition), name=name)
