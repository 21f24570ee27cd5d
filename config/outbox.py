"""The shared mechanism of the project's outboxes (buyer notices, webhook deliveries): rows that
are `pending` with a `due_at`, picked up by a beat sweep and handed to worker tasks."""

from __future__ import annotations

import datetime as dt

from django.db import models, transaction
from django.db.models import Q

from config.celery import queue_task


def claim_due(
    model: type[models.Model], *, now: dt.datetime, limit: int, lease: dt.timedelta
) -> list[int]:
    """Ids of pending rows that are due and not already queued; marks them queued for `lease`,
    so the next sweep does not queue them again while their tasks wait. If a worker dies, the
    lease runs out and they come back. Concurrent sweeps skip each other's locked rows."""
    manager = model._default_manager
    with transaction.atomic():
        ids = list(
            manager.select_for_update(skip_locked=True)
            .filter(status="pending", due_at__lte=now)
            .filter(Q(queued_until__isnull=True) | Q(queued_until__lt=now))
            .order_by("due_at")
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            manager.filter(pk__in=ids).update(queued_until=now + lease)
    return ids


def release(model: type[models.Model], ids: list[int]) -> None:
    """Give back claims whose tasks were never queued (the broker refused them), so the next
    sweep takes them at once instead of after the lease."""
    if ids:
        model._default_manager.filter(pk__in=ids, status="pending").update(queued_until=None)


def queue_claimed(model: type[models.Model], task: object, ids: list[int]) -> int:
    """Queue `task(id)` for each claimed id, in order; at the first the broker refuses, release
    that one and the rest (see release) and stop. Returns how many were queued."""
    for done, pk in enumerate(ids):
        if not queue_task(task, pk):
            release(model, ids[done:])
            return done
    return len(ids)
