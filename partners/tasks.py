"""Celery tasks for partners: webhook delivery. Ids in, safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from . import webhooks


@shared_task
def deliver_webhook(delivery_id: int) -> str:
    return webhooks.deliver(delivery_id)


@shared_task
def deliver_due_webhooks() -> int:
    """Beat, every 30 s, and on commit of each change: queue the deliveries that are due."""
    ids = webhooks.claim_due(now=timezone.now())
    for delivery_id in ids:
        deliver_webhook.delay(delivery_id)
    return len(ids)
