"""Webhooks to partners: the outbox, signing (Standard Webhooks) and delivery with retries.

A parcel change that a partner may subscribe to writes a `WebhookMessage` and one
`WebhookDelivery` per subscribed endpoint in the change's own transaction. The worker posts it:

    POST <endpoint url>
    Content-Type: application/json
    webhook-id: msg_…            (the same for every retry of this message: drop repeats)
    webhook-timestamp: 1763712000
    webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body"> [v1,<…old secret>]

A 2xx answer delivers it; anything else is retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and
10 h (27 h 35 min in all). An endpoint whose delivery fails through all of them is switched off
and the partner's technical contact is e-mailed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence

from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from config import outbox, sql
from config.celery import queue_on_commit

from .models import (
    WEBHOOK_EVENTS,
    DeliveryAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookMessage,
)
from .webhook_http import TIMEOUT_SECONDS, UnsafeUrl, normalize_url, post, resolve

logger = logging.getLogger(__name__)

RETRY_SCHEDULE = [
    dt.timedelta(seconds=5),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
    dt.timedelta(hours=5),
    dt.timedelta(hours=10),
    dt.timedelta(hours=10),
]
ROTATION_GRACE = dt.timedelta(hours=24)


def parcel_payload(parcel, event_type: str, *, station_slug: str, occurred_at: dt.datetime) -> dict:
    return {
        "type": event_type,
        "timestamp": occurred_at.isoformat(),
        "data": {
            "tracking_number": parcel.tracking_number,
            "status": parcel.status,
            "station": station_slug,
            "return_reason": parcel.return_reason or None,
            "occurred_at": occurred_at.isoformat(),
        },
    }


def enqueue_parcel_event(
    parcels: Sequence,
    event_type: str,
    *,
    now: dt.datetime,
    station_slugs: Callable[[Sequence], Mapping[int, str]],
) -> int:
    """Write the outbox rows for `parcels` having gone through `event_type`. Call inside the
    transaction of the change; returns how many deliveries were queued. `station_slugs` names the
    parcels' stations by id, asked only when an endpoint subscribed: the caller's, because
    partners builds on no other app (the README's import rule)."""
    if event_type not in WEBHOOK_EVENTS or not parcels:
        return 0
    partner_ids = {p.partner_id for p in parcels}
    endpoints: dict[int, list[WebhookEndpoint]] = {}
    # Asked on every move of a parcel, so in plain SQL (config/sql.py).
    active = sql.select(
        WebhookEndpoint,
        f"t0.partner_id IN ({sql.placeholders(len(partner_ids))}) AND t0.active = %s",
        [*partner_ids, True],
    )
    for endpoint in active:
        if event_type in endpoint.events:
            endpoints.setdefault(endpoint.partner_id, []).append(endpoint)
    if not endpoints:
        return 0
    slugs = station_slugs(parcels)
    messages = [
        WebhookMessage(
            partner_id=p.partner_id,
            msg_id=f"msg_{uuid.uuid4().hex}",
            event_type=event_type,
            payload=parcel_payload(
                p, event_type, station_slug=slugs.get(p.station_id, ""), occurred_at=now
            ),
            created_at=now,
        )
        for p in parcels
        if p.partner_id in endpoints
    ]
    sql.insert(messages)
    deliveries = [
        WebhookDelivery(message=m, endpoint=e, due_at=now, created_at=now)
        for m in messages
        for e in endpoints[m.partner_id]
    ]
    sql.insert(deliveries)
    kick_on_commit()
    return len(deliveries)


def kick_on_commit() -> None:
    # Failing soft: a delivery nobody queued is still pending and due for beat's sweep.
    queue_on_commit("partners.tasks.deliver_due_webhooks")


def signature_header(endpoint: WebhookEndpoint, msg_id: str, at: dt.datetime, body: str) -> str:
    """`v1,<sig>` with the current secret, plus the previous one during a rotation."""
    secrets = [endpoint.secret]
    if endpoint.previous_secret and (
        endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > at
    ):
        secrets.append(endpoint.previous_secret)
    return " ".join(Webhook(s).sign(msg_id, at, body) for s in secrets)


def deliver(delivery_id: int, *, now: dt.datetime | None = None) -> str:
    """POST one delivery if it is pending and due; returns its status afterwards.

    Safe to run twice: the claim (a short transaction) takes an in-flight lease and checks the
    delivery is due, so a second run posts nothing and uses up no retry. The POST itself runs
    outside any transaction; its outcome is recorded in a second short one.
    """
    now = now or timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("message", "endpoint__partner")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            return "busy"
        if delivery.status != WebhookDelivery.Status.PENDING:
            return delivery.status
        # Race: not due yet (a retry is scheduled), or another worker is posting it right now.
        if delivery.due_at > now or (delivery.leased_until and delivery.leased_until > now):
            return delivery.status
        endpoint, message = delivery.endpoint, delivery.message
        if not endpoint.active:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.last_error = "endpoint switched off"
            delivery.save(update_fields=["status", "last_error"])
            return delivery.status
        delivery.leased_until = now + dt.timedelta(seconds=TIMEOUT_SECONDS + 30)
        delivery.save(update_fields=["leased_until"])

    body = json.dumps(message.payload, separators=(",", ":"), sort_keys=True)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Stationkeeper-Webhooks/1",
        "webhook-id": message.msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature_header(endpoint, message.msg_id, now, body),
    }
    started = time.perf_counter()
    try:
        # Again at send time: the settings may have changed, the name may resolve elsewhere now.
        url = normalize_url(endpoint.url)
        addresses = resolve(url)  # once: the POST goes to the addresses checked here
    except UnsafeUrl as exc:
        status_code, error, permanent = None, str(exc), True
    else:
        status_code, error = post(url, addresses, body, headers)
        permanent = False
    duration_ms = int((time.perf_counter() - started) * 1000)

    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",))
            .select_related("endpoint__partner")
            .get(pk=delivery_id)
        )
        DeliveryAttempt.objects.create(
            delivery=delivery,
            attempted_at=now,
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
        )
        delivery.attempts += 1
        delivery.last_status_code = status_code
        # The attempt is over: no longer in flight, no longer waiting in the queue.
        delivery.leased_until = delivery.queued_until = None
        if status_code is not None and 200 <= status_code < 300:
            delivery.status = WebhookDelivery.Status.DELIVERED
            delivery.delivered_at = now
            delivery.last_error = ""
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=0)
        else:
            delivery.last_error = error
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
                consecutive_failures=F("consecutive_failures") + 1
            )
            if permanent:
                delivery.status = WebhookDelivery.Status.FAILED
            elif delivery.attempts > len(RETRY_SCHEDULE):
                delivery.status = WebhookDelivery.Status.FAILED
                _switch_off(endpoint, reason=f"every attempt for a day failed (last: {error})")
            else:
                delivery.due_at = now + RETRY_SCHEDULE[delivery.attempts - 1]
        delivery.save(
            update_fields=[
                "status",
                "attempts",
                "due_at",
                "leased_until",
                "queued_until",
                "last_status_code",
                "last_error",
                "delivered_at",
            ]
        )
        return delivery.status


def _switch_off(endpoint: WebhookEndpoint, *, reason: str) -> None:
    updated = WebhookEndpoint.objects.filter(pk=endpoint.pk, active=True).update(
        active=False, disabled_reason=reason[:200]
    )
    if updated and endpoint.partner.contact_email:
        partner = endpoint.partner
        transaction.on_commit(
            lambda: send_mail(
                "Stationkeeper webhook endpoint switched off",
                f"Deliveries to {endpoint.url} failed for more than a day, so the endpoint was "
                f"switched off.\nLast error: {reason}\n\nFix the endpoint, switch it on again "
                '(PATCH /api/v1/webhooks/<id>/ with {"active": true}) and redeliver what '
                "failed (POST /api/v1/webhooks/deliveries/<id>/redeliver/).",
                None,
                [partner.contact_email],
            )
        )
    logger.warning("webhook endpoint %s switched off: %s", endpoint.pk, reason)


def claim_due(
    *, now: dt.datetime, limit: int = 200, lease: dt.timedelta = dt.timedelta(minutes=2)
) -> list[int]:
    """Pending WebhookDelivery rows that are due, queued for the worker (see config.outbox)."""
    return outbox.claim_due(WebhookDelivery, now=now, limit=limit, lease=lease)


def subscribed_events(events: Iterable[str]) -> list[str]:
    return sorted({e for e in events if e in WEBHOOK_EVENTS})
