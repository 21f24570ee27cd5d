"""`make bench`: every benchmark, one after the other, then one table and var/bench/latest.json.

Each benchmark runs in its own process (bench/sweep.py, announce.py, handover.py, pickup.py,
earnings.py) and writes its own JSON; this script collects them under stable keys (checkout,
checkin, pickup_page, announce, sweep, earnings), adds the machine they ran on, prints each
figure next to its reference and the ratio (for the counter and the pickup page, the median of
rounds alternated with the reference, and the spread of those rounds), and, when an earlier
latest.json exists, the change since that run.

    python bench/run.py [--only handover pickup] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench"

# name → the arguments of a full run and of a quick one (to try the scripts out)
BENCHMARKS = {
    "sweep": ([], ["--parcels", "400000", "--overdue", "20000", "--sample", "2000"]),
    "announce": ([], ["--parcels", "20000"]),
    "handover": ([], ["--seconds", "5", "--per-station", "800"]),
    "pickup": ([], ["--seconds", "5", "--per-station", "600"]),
    "earnings": ([], ["--lines", "40000", "--big", "20000"]),
}


def machine() -> dict:
    meminfo = Path("/proc/meminfo").read_text().split()
    pg = subprocess.run(
        ["/usr/bin/env", "psql", "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(int(meminfo[meminfo.index("MemTotal:") + 1]) / 1024**2, 1),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "postgresql_client": pg,
        "when": time.strftime("%Y-%m-%d %H:%M", time.localtime()),
    }


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def collect() -> dict:
    def load(name: str) -> dict:
        path = OUT / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else {}

    handover = load("handover")
    return {
        "checkout": handover.get("checkout", {}),
        "checkin": handover.get("checkin", {}),
        "pickup_page": load("pickup"),
        "announce": load("announce"),
        "sweep": load("sweep"),
        "earnings": load("earnings"),
        "machine": machine(),
    }


# (key, figure, unit, reference name, reference key, ratio key)
ROWS = [
    (
        "checkout",
        "per_s",
        "check-outs/s",
        "minimal Django view",
        "django_floor_per_s",
        "ratio_to_django_floor",
    ),
    ("checkout", "per_s", "check-outs/s", "pgbench, same SQL", "pgbench_tps", "ratio_to_pgbench"),
    (
        "checkout",
        "p99_ms",
        "ms p99",
        "minimal view's p99",
        "django_floor_p99_ms",
        "p99_to_django_floor",
    ),
    (
        "checkin",
        "per_s",
        "check-ins/s",
        "minimal Django view",
        "django_floor_per_s",
        "ratio_to_django_floor",
    ),
    ("checkin", "per_s", "check-ins/s", "pgbench, same SQL", "pgbench_tps", "ratio_to_pgbench"),
    (
        "checkin",
        "p99_ms",
        "ms p99",
        "minimal view's p99",
        "django_floor_p99_ms",
        "p99_to_django_floor",
    ),
    (
        "pickup_page",
        "per_s",
        "pages/s",
        "minimal Django view",
        "django_floor_per_s",
        "ratio_to_django_floor",
    ),
    ("pickup_page", "p99_ms", "ms p99", "", None, None),
    ("pickup_page", "worker_peak_rss_mib", "MiB peak, one worker", "", None, None),
    (
        "announce",
        "parcels_per_s",
        "parcels/s",
        "plain SQL, same rows",
        "plain_sql_per_s",
        "ratio_to_plain_sql",
    ),
    ("sweep", "sweep_per_s", "parcels/s", "per-parcel loop", "naive_per_s", "speedup"),
    ("earnings", "close_month_s", "s to close a month", "", None, None),
    ("earnings", "earnings_page_median_ms", "ms earnings page", "", None, None),
]


def table(latest: dict, previous: dict) -> str:
    lines = [
        f"{'benchmark':<12} {'figure':>10} {'unit':<22} {'reference':<22} {'value':>9} "
        f"{'ratio':>7} {'spread':>11} {'change':>8}",
        "-" * 108,
    ]
    for key, field, unit, ref_name, ref_key, ratio_key in ROWS:
        value = latest.get(key, {}).get(field)
        if value is None:
            continue
        reference = latest[key].get(ref_key) if ref_key else None
        ratio = latest[key].get(ratio_key) if ratio_key else None
        # The lowest and highest per-round ratio, where the app and its reference alternated.
        low_high = latest[key].get("ratio_spread") if ratio_key == "ratio_to_django_floor" else None
        spread = f"{low_high[0]:.2f}–{low_high[1]:.2f}" if low_high else ""
        before = previous.get(key, {}).get(field)
        change = f"{(value / before - 1) * 100:+.0f}%" if before else ""
        lines.append(
            f"{key:<12} {_num(value):>10} {unit:<22} {ref_name:<22} "
            f"{_num(reference) if reference is not None else '':>9} "
            f"{ratio if ratio is not None else '':>7} {spread:>11} {change:>8}"
        )
    m = latest["machine"]
    lines.append("-" * 108)
    lines.append(f"{m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, {m['when']}")
    return "\n".join(lines)


def _num(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=list(BENCHMARKS), default=list(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="small sizes, to try it out")
    args = parser.parse_args()

    OUT.mkdir(parents=True, exist_ok=True)
    latest_path = OUT / "latest.json"
    previous = json.loads(latest_path.read_text()) if latest_path.exists() else {}
    for name in args.only:
        full, quick = BENCHMARKS[name]
        print(f"\n== {name} ==", flush=True)
        started = time.perf_counter()
        done = subprocess.run(  # noqa: S603 - our own scripts
            [
                sys.executable,
                "-u",
                str(ROOT / "bench" / f"{name}.py"),
                *(quick if args.quick else full),
            ],
            cwd=ROOT,
            check=False,
        )
        if done.returncode != 0:
            sys.exit(f"benchmark {name} failed (exit {done.returncode})")
        print(f"({name}: {time.perf_counter() - started:.0f} s)", flush=True)
    latest = collect()
    latest_path.write_text(json.dumps(latest, indent=2) + "\n")
    print("\n" + table(latest, previous))
    print(f"\nwritten {latest_path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
