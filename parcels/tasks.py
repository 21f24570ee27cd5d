"""Celery tasks about parcels. They take ids, run in the network scope (a task is an edge, like
the admin), and are safe to run twice: each one locks or checks before it acts."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from config.celery import queue_task
from stations.tenancy import network_scope

from . import notices, services

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
    for notice_id in ids:
        # A broker gone mid-sweep: the rest keep their claim until its lease runs out, and come
        # back to a later sweep.
        if not queue_task(send_notice, notice_id):
            break
    if ids:
        logger.info("queued %s due notices", len(ids))
    return len(ids)


@shared_task
def sweep_overdue() -> int:
    """Beat: parcels left on the shelf past their deadline become due back to the partner."""
    with network_scope():
        moved = services.parcels_sweep_overdue(now=timezone.now())
    if moved:
        logger.info("overdue sweep moved %s parcels to return_due", moved)
    return moved
