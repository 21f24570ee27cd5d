"""Writes about partners: API keys."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import ApiKey, Partner


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
