"""Guessing pickup codes at the counter: wrong codes are counted per person and per station.

A 6-digit code is guessable in principle, so after too many wrong ones in a window the counter
stops accepting typed codes for a while. Scanned QR codes carry a 192-bit token and are not
throttled.
"""

from __future__ import annotations

from django.core.cache import cache

WINDOW_SECONDS = 10 * 60
PER_USER = 10
PER_STATION = 30


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
        # add() starts the window only if there is none; incr() then counts inside it.
        if not cache.add(key, 1, WINDOW_SECONDS):
            try:
                cache.incr(key)
            except ValueError:  # expired between add() and incr()
                cache.add(key, 1, WINDOW_SECONDS)
