"""The settings are safe by default and `check --deploy` is clean with production variables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from config import celery_app

ROOT = Path(__file__).resolve().parent.parent


def run_manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "STATIONKEEPER_VAR_DIR": str(tmp_path),
        "DJANGO_READ_DOT_ENV": "0",
        **env,
    }
    return subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "DJANGO_SECRET_KEY": "x7" * 30 + "-production-grade-secret-for-the-test",
    "DJANGO_ALLOWED_HOSTS": "stations.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/stationkeeper",
    "CACHE_URL": "redis://127.0.0.1:6379/14",
    "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
    "SMS_GATEWAY_URL": "https://sms.example.com/send",
    "SMS_GATEWAY_TOKEN": "t" * 30,
}


def test_check_deploy_is_clean_with_production_variables(tmp_path):
    result = run_manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_when_the_cache_is_per_process(tmp_path):
    # Without CACHE_URL each web process would count its own rate limits.
    without_cache = {k: v for k, v in PRODUCTION.items() if k != "CACHE_URL"}
    result = run_manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **without_cache)
    assert result.returncode != 0
    assert "stationkeeper.W001" in result.stderr
    assert "CACHE_URL" in result.stderr
    # Development (DEBUG) runs on the per-process cache without the warning.
    result = run_manage(tmp_path, "check", "--deploy", DJANGO_DEBUG="1")
    assert "stationkeeper.W001" not in result.stdout + result.stderr


def test_debug_is_off_and_a_secret_key_is_required_by_default(tmp_path):
    result = run_manage(tmp_path, "check")
    assert result.returncode != 0
    assert "Set DJANGO_SECRET_KEY" in result.stderr


def test_production_refuses_to_print_mail_to_the_console(tmp_path):
    result = run_manage(
        tmp_path,
        "check",
        DJANGO_SECRET_KEY="k" * 60,
        SMS_BACKEND="parcels.notices.LocmemSmsBackend",
    )
    assert result.returncode != 0
    assert "Set EMAIL_URL" in result.stderr


def test_debug_mode_runs_on_the_embedded_defaults(tmp_path):
    result = run_manage(
        tmp_path,
        "shell",
        "-c",
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL)",
        DJANGO_DEBUG="1",
    )
    assert result.returncode == 0, result.stderr
    debug, engine, broker = result.stdout.strip().splitlines()[-1].split()
    assert (debug, engine) == ("True", "django.db.backends.sqlite3")
    assert broker.startswith("filesystem://")


def test_the_suite_runs_on_postgresql_and_redis():
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert settings.CELERY_BROKER_URL.startswith("redis://")


@pytest.mark.django_db
def test_celery_reaches_the_redis_broker():
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=2)
        assert conn.transport.driver_type == "redis"
    # Tasks are acknowledged only after they finish, so a worker lost mid-task redelivers it.
    assert celery_app.conf.task_acks_late
    assert celery_app.conf.task_reject_on_worker_lost


def test_the_worker_keeps_its_database_connection_between_tasks():
    # Celery's Django fix-up closes the connection around every task unless it finds this key
    # (under this very name) in the app's configuration.
    assert celery_app.conf.get("CELERY_DB_REUSE_MAX", 0) >= 100


def test_the_redis_cache_reuses_its_client():
    from django.core.cache import cache

    assert settings.CACHES["default"]["BACKEND"] == "config.cache.RedisCache"
    client = cache._cache.get_client(write=True)
    cache.set("reused", 1)
    assert cache.get("reused") == 1
    assert cache._cache.get_client(write=True) is client
