"""Before the tests: are PostgreSQL and Redis up? If not, one line that says how to start them."""

from __future__ import annotations

import os
import socket
import sys
from urllib.parse import urlsplit

HINTS = {
    "PostgreSQL": "start it with: pg_ctlcluster --skip-systemctl-redirect "
    "$(ls /etc/postgresql) main start   (see README, 'Running the tests')",
    "Redis": "start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 "
    "--save \"\" --appendonly no   (see README, 'Running the tests')",
}


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


def main() -> int:
    checks = []
    db = urlsplit(os.environ.get("DATABASE_URL", ""))
    if db.scheme.startswith("postgres"):
        checks.append(("PostgreSQL", db.hostname or "127.0.0.1", db.port or 5432))
    broker = urlsplit(os.environ.get("CELERY_BROKER_URL", ""))
    if broker.scheme.startswith("redis"):
        checks.append(("Redis", broker.hostname or "127.0.0.1", broker.port or 6379))
    for name, host, port in checks:
        if not reachable(host, port):
            print(f"{name} is not reachable at {host}:{port}; {HINTS[name]}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
