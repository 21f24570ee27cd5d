"""What the benchmark scripts share: an empty database, a gunicorn to load, a load generator and
a place for their results."""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent

# Emptied before each benchmark; users are kept (a benchmark may reuse its login).
PROJECT_APPS = ("parcels", "partners", "stations")


def fresh_database() -> None:
    """Migrate, then empty every table of the project's apps (PostgreSQL only), and the cache:
    sessions and rate limits (such as allauth's on logins) left by an earlier run."""
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
        cur.execute(f"TRUNCATE {', '.join(tables)}, django_session RESTART IDENTITY CASCADE")
    cache.clear()  # the benchmarks' own Redis database (the Makefile's CACHE_URL)


def save_result(name: str, result: dict) -> Path:
    out = Path(settings.VAR_DIR) / "bench"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


# --- the server under load ----------------------------------------------------------------------


def start_gunicorn(
    *,
    port: int,
    workers: int,
    app: str = "config.wsgi",
    env: dict[str, str] | None = None,
    probe: str = "/",
    log: Path | None = None,
) -> subprocess.Popen:
    """gunicorn with production settings (DEBUG off) on 127.0.0.1:`port`, once it answers."""
    ensure_port_free(port)
    server_env = {
        **os.environ,
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "0",  # plain HTTP on loopback
        "DJANGO_SECURE_COOKIES": "0",  # so the load generator's session cookie comes back
        "DJANGO_STATIC_MANIFEST": "0",
        **(env or {}),
    }
    output = log.open("ab") if log else None
    server = subprocess.Popen(  # noqa: S603 - our own venv's gunicorn
        [
            str(Path(sys.executable).parent / "gunicorn"),
            app,
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "120",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=server_env,
        stdout=output,
        stderr=output,
    )
    if output:
        output.close()  # the child has its own copy
    for _ in range(150):
        if server.poll() is not None:
            sys.exit(f"gunicorn exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", probe)
            conn.getresponse().read()
            conn.close()
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    sys.exit("gunicorn did not start")


def start_floor(*, port: int, workers: int) -> subprocess.Popen:
    """gunicorn serving the minimal Django view (bench/floor.py), the reference of the counter
    and of the pickup page."""
    return start_gunicorn(
        port=port,
        workers=workers,
        app="bench.floor:application",
        env={"DJANGO_SETTINGS_MODULE": "bench.floor"},
        probe="/up/",
    )


def ensure_port_free(port: int) -> None:
    """A server left over from an interrupted run would answer in place of the one started
    next (which keeps retrying the bind): refuse to measure it."""
    with socket.socket() as probe:
        # As gunicorn binds: connections of the last run waiting out TIME_WAIT do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            sys.exit(f"port {port} is taken (a server left from an earlier run?); stop it first")


def stop(process: subprocess.Popen | None, timeout: float = 30) -> None:
    """SIGTERM (gunicorn's graceful stop, Celery's warm shutdown), then SIGKILL after `timeout`."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def worker_pids(server: subprocess.Popen) -> list[int]:
    """The gunicorn worker processes (the children of the master)."""
    path = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    return [int(pid) for pid in path.read_text().split()]


def peak_rss_mib(pid: int) -> float:
    """The most resident memory the process has had (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


# --- load ---------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, round(p / 100 * (len(sorted_values) - 1)))
    return sorted_values[index]


@dataclass
class LoadResult:
    seconds: float
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    exhausted: int = 0  # clients that ran out of work before the time was up
    answered_ok: int = 0  # good answers, the warm-up's included

    @property
    def count(self) -> int:
        return len(self.latencies)

    def summary(self) -> dict:
        lat = sorted(self.latencies)
        return {
            "requests": self.count,
            "per_s": round(self.count / self.seconds, 1),
            "p50_ms": round(percentile(lat, 50) * 1000, 1),
            "p95_ms": round(percentile(lat, 95) * 1000, 1),
            "p99_ms": round(percentile(lat, 99) * 1000, 1),
            "failures": len(self.failures),
        }


def run_load(
    steps: list[Callable[[], bool | None]], *, seconds: float, warmup: float = 2.0
) -> LoadResult:
    """Each step function is one client: called over and over from its own thread, one request
    per call. It returns True for a good answer, False for a bad one, None when it has no work
    left. Calls that start in the first `warmup` seconds are not counted; counting stops at
    `warmup + seconds`."""
    lock = threading.Lock()
    result = LoadResult(seconds=seconds)
    barrier = threading.Barrier(len(steps) + 1)
    begin_box: list[float] = []

    def client(step: Callable[[], bool | None]) -> None:
        barrier.wait()
        begin = begin_box[0]
        measure_from, until = begin + warmup, begin + warmup + seconds
        while True:
            started = time.perf_counter()
            if started >= until:
                return
            try:
                ok = step()
            except Exception as exc:
                ok = False
                error = repr(exc)
            else:
                error = "bad answer"
            took = time.perf_counter() - started
            if ok is None:
                with lock:
                    result.exhausted += 1
                return
            with lock:
                result.answered_ok += bool(ok)
                if started < measure_from:
                    continue
                if ok:
                    result.latencies.append(took)
                else:
                    result.failures.append(error)

    threads = [threading.Thread(target=client, args=(step,), daemon=True) for step in steps]
    for t in threads:
        t.start()
    begin_box.append(time.perf_counter())
    barrier.wait()
    for t in threads:
        t.join()
    return result


def ratio(value: float, reference: float) -> float | None:
    return round(value / reference, 3) if reference else None


def merged(results: list[LoadResult]) -> LoadResult:
    """Several rounds of one side as one load: their latencies and failures together, over
    their measured time together."""
    total = LoadResult(seconds=sum(r.seconds for r in results))
    for r in results:
        total.latencies += r.latencies
        total.failures += r.failures
        total.exhausted += r.exhausted
        total.answered_ok += r.answered_ok
    return total


def alternate(
    sides: dict[str, list[Callable[[], bool | None]]],
    *,
    rounds: int,
    seconds: float,
    warmup: float,
) -> dict[str, list[LoadResult]]:
    """Load each side (the app and its reference, both servers running) in turn, in `rounds`
    short rounds (A B A B …) of `seconds` / `rounds` each, with the same clients throughout
    (they go on with the next parcel). Only each side's first round warms up for `warmup`;
    the others settle for a fraction of a second.

    Run one after the other in one long stretch each, the two sides would meet different noise
    on a shared machine (another process's burst lands on one side only) and the ratio would
    move by a quarter from run to run; alternated, each pair of rounds shares its noise."""
    per_round = seconds / rounds
    out: dict[str, list[LoadResult]] = {name: [] for name in sides}
    for r in range(rounds):
        for name, steps in sides.items():
            out[name].append(run_load(steps, seconds=per_round, warmup=warmup if r == 0 else 0.3))
    return out


def paired_ratio(values: list[LoadResult], references: list[LoadResult]) -> dict:
    """The median of the per-round ratios (round i of the app against round i of its
    reference) and their spread (the lowest and the highest)."""
    ratios = sorted(
        v.count / v.seconds / (r.count / r.seconds)
        for v, r in zip(values, references, strict=True)
        if r.count
    )
    if not ratios:
        return {"median": None, "spread": None}
    return {
        "median": round(statistics.median(ratios), 3),
        "spread": [round(ratios[0], 3), round(ratios[-1], 3)],
    }
