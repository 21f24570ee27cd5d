"""Writes about partners: API keys, webhook endpoints and their deliveries."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config.errors import InvalidInput

from . import webhook_http, webhooks
from .models import (
    WEBHOOK_EVENTS,
    ApiKey,
    Partner,
    WebhookDelivery,
    WebhookEndpoint,
    new_webhook_secret,
)


def api_key_create(*, partner: Partner, name: str = "") -> tuple[ApiKey, str]:
    """A new key for a partner. Returns (key, raw key).

    The raw key is never stored and cannot be shown again."""
    for _attempt in range(5):
        raw = ApiKey.generate()
        try:
            with transaction.atomic():
                key = ApiKey.objects.create(
                    partner=partner,
                    name=name,
                    prefix=raw[: ApiKey.PREFIX_LENGTH],
                    key_hash=ApiKey.hash(raw),
                )
            return key, raw
        except IntegrityError:
            # Two keys drew the same visible prefix (about one in a billion): draw again.
            continue
    raise RuntimeError("could not draw a unique API key prefix")


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    """Stop a key from working. Revoking twice keeps the first revocation time."""
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    key.refresh_from_db()
    return key


def _webhook_url(url: str) -> str:
    try:
        return webhook_http.check_url(url)
    except webhook_http.UnsafeUrl as exc:
        raise InvalidInput(str(exc), field="url") from None


def _webhook_events(events: Iterable[str]) -> list[str]:
    chosen = set(events)
    unknown = chosen - set(WEBHOOK_EVENTS)
    if unknown:
        raise InvalidInput(
            _("Unknown events: %(events)s.") % {"events": ", ".join(sorted(unknown))},
            field="events",
        )
    if not chosen:
        raise InvalidInput(_("Choose at least one event."), field="events")
    return webhooks.subscribed_events(chosen)


def webhook_endpoint_create(
    *, partner: Partner, url: str, events: Iterable[str], active: bool = True
) -> WebhookEndpoint:
    """A partner's new endpoint with a fresh signing secret. The URL must pass
    `webhook_http.check_url` (InvalidInput on `url`), the events must be known ones (on
    `events`)."""
    return WebhookEndpoint.objects.create(
        partner=partner, url=_webhook_url(url), events=_webhook_events(events), active=active
    )


def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    events: Iterable[str] | None = None,
    active: bool | None = None,
) -> WebhookEndpoint:
    """Change what is given (None leaves it as it is). Switching an endpoint on (`active=True`)
    forgets why it was switched off and its failure count, so the next failures are counted (and
    it is switched off again) from zero."""
    changes: dict[str, object] = {}
    if url is not None:
        changes["url"] = _webhook_url(url)
    if events is not None:
        changes["events"] = _webhook_events(events)
    if active is not None:
        changes["active"] = active
        if active:
            changes |= {"disabled_reason": "", "consecutive_failures": 0}
    with transaction.atomic():
        # Race: locked, so a delivery that fails meanwhile counts after the reset, not before it.
        locked = WebhookEndpoint.objects.select_for_update(of=("self",)).get(pk=endpoint.pk)
        for field, value in changes.items():
            setattr(locked, field, value)
        if changes:
            locked.save(update_fields=list(changes))
    return locked


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Remove an endpoint: nothing more is sent to it, and its deliveries go with it."""
    endpoint.delete()


def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new signing secret; the old one still signs (beside the new) for a day
    (`webhooks.ROTATION_GRACE`). Rotating again within the day ends the older secret at once."""
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = timezone.now() + webhooks.ROTATION_GRACE
    endpoint.secret = new_webhook_secret()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
    return endpoint


def webhook_delivery_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery's message again to the same endpoint (same webhook-id), as a new delivery
    due now; the worker is asked once the transaction commits (beat's sweep is the backstop)."""
    with transaction.atomic():
        again = WebhookDelivery.objects.create(
            message_id=delivery.message_id, endpoint_id=delivery.endpoint_id, due_at=timezone.now()
        )
        webhooks.kick_on_commit()
    return again
