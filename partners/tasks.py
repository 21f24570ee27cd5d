"""Celery tasks for partners: webhook delivery. Ids in, safe to run twice."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from config import outbox

from . import webhooks
from .models import IdempotencyRecord, WebhookDelivery


@shared_task
def deliver_webhook(delivery_id: int) -> str:
    # Soft time limits cannot strand a delivery: its in-flight lease lapses and beat retries it.
    return webhooks.deliver(delivery_id)


@shared_task
def deliver_due_webhooks() -> int:
    """Beat, every 30 s, and on commit of each change: queue the deliveries that are due."""
    ids = webhooks.claim_due(now=timezone.now())
    # A broker gone mid-sweep: what was not queued is given back for the next sweep.
    return outbox.queue_claimed(WebhookDelivery, deliver_webhook, ids)


@shared_task
def prune_idempotency_records() -> int:
    """Beat, hourly: Idempotency-Key answers are kept for 24 hours."""
    deleted, _rows = IdempotencyRecord.objects.filter(
        created_at__lt=timezone.now() - timedelta(hours=24)
    ).delete()
    return deleted
