"""`make test` stops with one line that says how to start a missing service, not a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "check_services.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own script
        [sys.executable, str(SCRIPT)],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_services_up_passes_silently():
    result = check(
        DATABASE_URL=os.environ["DATABASE_URL"], CELERY_BROKER_URL=os.environ["CELERY_BROKER_URL"]
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_postgresql_down_says_how_to_start_it():
    port = free_port()
    result = check(DATABASE_URL=f"postgres://postgres@127.0.0.1:{port}/x")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"PostgreSQL is not reachable at 127.0.0.1:{port}; start it with:")


def test_redis_down_says_how_to_start_it():
    port = free_port()
    result = check(
        DATABASE_URL=os.environ["DATABASE_URL"], CELERY_BROKER_URL=f"redis://127.0.0.1:{port}/0"
    )
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"Redis is not reachable at 127.0.0.1:{port}; start it with:")
    assert "redis-server" in line


def test_make_test_type_checks_the_apps_before_the_tests():
    """mypy is part of `make test` (with the settings the django-stubs plugin loads), so a type
    error in the apps fails the run like a lint error, before the slow part starts."""
    makefile = (SCRIPT.parent.parent / "Makefile").read_text()
    recipe = makefile.split("\ntest: ", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    steps = [line.strip() for line in recipe]
    mypy = next(i for i, step in enumerate(steps) if "/bin/mypy" in step)
    pytest = next(i for i, step in enumerate(steps) if "/bin/pytest" in step)
    assert steps[mypy] == "DJANGO_DEBUG=1 $(VENV)/bin/mypy"
    assert mypy < pytest
