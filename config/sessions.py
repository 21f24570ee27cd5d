"""The session engine in production: Django's cached_db (sessions read from the shared cache and
written through to the database) that treats the cache as an optional speed-up.

Django's own cached_db survives a cache that fails on `get`, but not on the `set` that follows a
database read, nor on `delete` (log out): with Redis down, every logged-in page would be an error.
Here a failing cache costs one database read per request, and is logged (without the session key).
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.sessions.backends import cached_db

logger = logging.getLogger(__name__)


class _ForgivingCache:
    """The cache operations cached_db uses, each one failing soft."""

    def __init__(self, cache: Any) -> None:
        self._cache = cache

    def _soft(self, what: str, call: Any, default: Any) -> Any:
        try:
            return call()
        except Exception as exc:
            logger.warning(
                "session cache %s failed (%s); using the database", what, type(exc).__name__
            )
            return default

    def get(self, key: str, default: Any = None) -> Any:
        return self._soft("get", lambda: self._cache.get(key, default), default)

    def set(self, key: str, value: Any, timeout: Any = None) -> None:
        self._soft("set", lambda: self._cache.set(key, value, timeout), None)

    def delete(self, key: str) -> None:
        self._soft("delete", lambda: self._cache.delete(key), None)

    def __contains__(self, key: str) -> bool:
        return self._soft("lookup", lambda: key in self._cache, False)


class SessionStore(cached_db.SessionStore):
    _cache: Any  # set by cached_db's __init__ (django-stubs leave it out)

    def __init__(self, session_key: str | None = None) -> None:
        super().__init__(session_key)
        self._cache = _ForgivingCache(self._cache)
