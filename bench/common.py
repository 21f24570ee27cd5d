"""What the benchmark scripts share: an empty database and a place for their results."""

from __future__ import annotations

import json
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connection

# Emptied before each benchmark; users are kept (a benchmark may reuse its login).
PROJECT_APPS = ("parcels", "partners", "stations")


def fresh_database() -> None:
    """Migrate, then empty every table of the project's apps (PostgreSQL only)."""
    if connection.vendor != "postgresql":
        raise SystemExit("the benchmarks need PostgreSQL (DATABASE_URL)")
    call_command("migrate", verbosity=0)
    tables = [
        model._meta.db_table
        for app in PROJECT_APPS
        for model in apps.get_app_config(app).get_models()
        if model._meta.db_table != "stations_user"
    ]
    with connection.cursor() as cur:
        cur.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def save_result(name: str, result: dict) -> Path:
    out = Path(settings.VAR_DIR) / "bench"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
