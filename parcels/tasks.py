"""Celery tasks about parcels. They take ids, run in the network scope (a task is an edge, like
the admin), and are safe to run twice: each one locks or checks before it acts."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from config import outbox
from stations.tenancy import network_scope

from . import notices, services
from .models import Notice

logger = logging.getLogger(__name__)


@shared_task
def send_notice(notice_id: int) -> str:
    with network_scope():
        return notices.send(notice_id)


@shared_task
def send_due_notices() -> int:
    """Beat, every minute: queue the notices that are due (reminders, retries, returns)."""
    with network_scope():
        ids = notices.claim_due(now=timezone.now())
        # A broker gone mid-sweep: what was not queued is given back for the next sweep.
        queued = outbox.queue_claimed(Notice, send_notice, ids)
    if queued:
        logger.info("queued %s due notices", queued)
    return queued


@shared_task
def sweep_overdue() -> int:
    """Beat: parcels left on the shelf past their deadline become due back to the partner."""
    with network_scope():
        moved = services.parcels_sweep_overdue(now=timezone.now())
    if moved:
        logger.info("overdue sweep moved %s parcels to return_due", moved)
    return moved
