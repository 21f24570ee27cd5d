"""Guessing pickup codes: wrong codes are counted per person and per station.

A 6-digit code is guessable in principle, so after too many wrong ones in a window typed codes
are not looked up for a while, wherever they are typed: every lookup by code goes through
`selectors.parcel_by_code`, which asks here first and counts its misses here. Scanned QR codes
carry a 192-bit token and are not throttled.
"""

from __future__ import annotations

from django.core.cache import cache
from django.utils.translation import gettext_lazy as _

from config import cache as shared_cache

from .exceptions import ParcelError

WINDOW_SECONDS = 10 * 60
PER_USER = 10
PER_STATION = 30


class CodesPaused(ParcelError):
    """Too many wrong codes here lately: typed codes are not looked up for now."""

    code = "codes_paused"

    def __init__(self) -> None:
        super().__init__(
            _(
                "Too many wrong codes were typed here. Typed codes are paused for a few "
                "minutes; scanning the buyer's QR code still works."
            )
        )


def _keys(user_id: int, station_id: int) -> list[tuple[str, int]]:
    return [
        (f"wrong-code:user:{user_id}", PER_USER),
        (f"wrong-code:station:{station_id}", PER_STATION),
    ]


def is_blocked(*, user_id: int, station_id: int) -> bool:
    counts = cache.get_many([key for key, _ in _keys(user_id, station_id)])
    return any(counts.get(key, 0) >= limit for key, limit in _keys(user_id, station_id))


def record_wrong_code(*, user_id: int, station_id: int) -> None:
    for key, _limit in _keys(user_id, station_id):
        count(key, WINDOW_SECONDS)


def count(key: str, window: int) -> None:
    """One more in the window `key` counts; the first starts it."""
    shared_cache.count(key, window=window)
