"""Celery tasks for partners: webhook delivery. Ids in, safe to run twice."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from config.celery import queue_task

from . import webhooks


@shared_task
def deliver_webhook(delivery_id: int) -> str:
    # Soft time limits cannot strand a delivery: its in-flight lease lapses and beat retries it.
    return webhooks.deliver(delivery_id)


@shared_task
def deliver_due_webhooks() -> int:
    """Beat, every 30 s, and on commit of each change: queue the deliveries that are due."""
    ids = webhooks.claim_due(now=timezone.now())
    for delivery_id in ids:
        # A broker gone mid-sweep: the rest keep their claim until its lease runs out, and come
        # back to a later sweep.
        if not queue_task(deliver_webhook, delivery_id):
            break
    return len(ids)


@shared_task
def prune_idempotency_records() -> int:
    """Beat, hourly: Idempotency-Key answers are kept for 24 hours."""
    from .models import IdempotencyRecord

    deleted, _rows = IdempotencyRecord.objects.filter(
        created_at__lt=timezone.now() - timedelta(hours=24)
    ).delete()
    return deleted
