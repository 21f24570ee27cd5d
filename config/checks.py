"""System checks about how the project is deployed (`manage.py check --deploy`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

# Cache backends whose entries live in one process only: each worker process counts its own rate
# limits (so every limit is multiplied by the number of processes) and keeps its own sessions.
_PER_PROCESS_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}


@checks.register(checks.Tags.caches, deploy=True)
def check_shared_cache(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    backend = settings.CACHES.get("default", {}).get("BACKEND", "")
    if settings.DEBUG or backend not in _PER_PROCESS_CACHES:
        return []
    return [
        checks.Warning(
            f"The default cache ({backend}) is not shared between processes, so every rate "
            "limit (logins, the buyer page, the partner API) is multiplied by the number of "
            "web processes and a restart resets them.",
            hint="Set CACHE_URL to a Redis server shared by all processes, e.g. "
            "redis://127.0.0.1:6379/1.",
            id="stationkeeper.W001",
        )
    ]
