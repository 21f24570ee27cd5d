"""Django's Redis cache, with one Redis client per connection pool instead of one per call, and
an outage that reads as an empty cache instead of an error.

Django builds a new `redis.Redis` for every cache operation, and building its table of reply
callbacks is most of the cost of a cache read (README, Performance, has the figures). Every
request reads its session from the cache, so that was paid on every page. A client only holds
its pool, from which it takes a connection for each command, so one per pool does (Django keeps
a cache object per thread, and each has its own).

The cache only ever speeds things up or counts (sessions, rate limits, tariffs), so while Redis
cannot be reached it behaves as an empty cache that keeps nothing: `get` gives the default,
`get_many` nothing, `add` succeeds, `set` and `delete` do nothing, `incr`/`decr` raise the
ValueError of a missing key and `has_key` is False. The buyer page, the API and the login page
keep working; rate limits count nothing until Redis is back (they must not lock everyone out).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from django.core.cache.backends import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

# What an unreachable, restarting or hanging Redis raises (BusyLoadingError is a ConnectionError).
_UNREACHABLE = (RedisConnectionError, RedisTimeoutError)
# One warning per process this often during an outage, not one per cache call.
WARN_EVERY_SECONDS = 60.0
_last_warning = -WARN_EVERY_SECONDS


def _warn(operation: str, exc: Exception) -> None:
    global _last_warning
    now = time.monotonic()
    if now - _last_warning >= WARN_EVERY_SECONDS:
        _last_warning = now
        logger.warning(
            "cache unreachable (%s on %s); serving as an empty cache", type(exc).__name__, operation
        )


def _soft(operation: str, call: Callable[[], Any], default: Any) -> Any:
    try:
        return call()
    except _UNREACHABLE as exc:
        _warn(operation, exc)
        return default


_django = redis.RedisCacheClient


class _Client(_django):
    # Django's RedisCacheClient has these; django-stubs leave them out.
    _client: Any
    _get_connection_pool: Callable[[bool], Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)  # picks the server, as Django's client does
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client

    # --- an outage is an empty cache that keeps nothing -----------------------------------------

    def add(self, key: Any, value: Any, timeout: Any) -> bool:
        return _soft("add", lambda: _django.add(self, key, value, timeout), True)

    def get(self, key: Any, default: Any) -> Any:
        return _soft("get", lambda: _django.get(self, key, default), default)

    def set(self, key: Any, value: Any, timeout: Any) -> None:
        _soft("set", lambda: _django.set(self, key, value, timeout), None)

    def touch(self, key: Any, timeout: Any) -> bool:
        return _soft("touch", lambda: _django.touch(self, key, timeout), False)

    def delete(self, key: Any) -> bool:
        return _soft("delete", lambda: _django.delete(self, key), False)

    def get_many(self, keys: Any) -> dict:
        return _soft("get_many", lambda: _django.get_many(self, keys), {})

    def has_key(self, key: Any) -> bool:
        return _soft("has_key", lambda: _django.has_key(self, key), False)

    def incr(self, key: Any, delta: int) -> int:
        # BaseCache.decr is incr with a negative delta, so this covers both.
        try:
            return super().incr(key, delta)
        except _UNREACHABLE as exc:
            _warn("incr", exc)
            raise ValueError(f"Key '{key}' not found.") from None

    def set_many(self, data: Mapping[Any, Any], timeout: Any) -> None:
        _soft("set_many", lambda: _django.set_many(self, data, timeout), None)

    def delete_many(self, keys: Any) -> None:
        _soft("delete_many", lambda: _django.delete_many(self, keys), None)

    def clear(self) -> bool:
        return _soft("clear", lambda: _django.clear(self), False)


class RedisCache(redis.RedisCache):
    def __init__(self, server: Any, params: dict) -> None:
        super().__init__(server, params)
        self._class = _Client


def count(key: str, *, window: int, keep: int | None = None) -> int:
    """Count one more under `key` and return the count: the first call starts the window (the
    key lives `keep` seconds, `window` by default), the others add to it atomically (Redis INCR).
    The rate limits share it. While the cache keeps nothing, every call counts 1."""
    from django.core.cache import cache

    if cache.add(key, 1, keep or window):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add() and incr(), or the cache keeps nothing
        cache.add(key, 1, keep or window)
        return 1
