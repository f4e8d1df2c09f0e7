"""Benchmark OAR's background tasks against the bare durable engine, side by side.

For SQLite and PostgreSQL it measures:

* enqueue latency (p50/p99) of N trivial tasks — ``TaskManager.enqueue`` (row + queue entry
  in one transaction) against ``DBOSClient.enqueue`` of a one-step workflow (baseline);
* drain throughput with 1 and 2 worker processes (``oarctl worker``), first start to last
  completion as recorded by the engine, for both;
* RSS added and idle CPU of 1000 tasks sleeping in one worker, for both.

Goals (issue 2): enqueue p99 < 10 ms; drain >= 150 tasks/s on PostgreSQL with 2 workers;
1000 sleeping tasks < 50 MB added RSS and < 5 % of a core.

    python bench/tasks.py [--backend sqlite|postgres|both] [--tasks 2000] [--sleepers 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import psycopg
from dbos import EnqueueOptions
from sqlalchemy import text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
# Run from any checkout (a snapshot worktree, say): its own sources, not the installed ones.
sys.path[:0] = [str(REPO / "src"), str(REPO)]

import bench.plugin  # noqa: E402,F401  (registers the handlers for enqueue)
from oar.engine import DEFAULT_QUEUE, WORKFLOW_VERSION  # noqa: E402
from oar.service import Service  # noqa: E402
from oar.settings import load_settings  # noqa: E402

OARCTL = str(Path(sys.executable).parent / "oarctl")
PG_ADMIN = os.environ.get(
    "OAR_BENCH_POSTGRES_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
GOALS = {
    "enqueue_p99_ms": 10.0,
    "drain_pg_2_workers": 150.0,
    "sleep_rss_mb": 50.0,
    "sleep_cpu_pct": 5.0,
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def fresh_database(backend: str, workdir: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS oar_bench WITH (FORCE)")
        conn.execute("CREATE DATABASE oar_bench")
    return make_url(PG_ADMIN).set(database="oar_bench").render_as_string(hide_password=False)


def environment(url: str, workdir: Path, **extra: str) -> dict[str, str]:
    # Tuning knobs may be set by the caller (to compare settings); everything else is ours.
    tuning = (
        "OAR_TASK_CONCURRENCY",
        "OAR_QUEUE_POLL_INTERVAL",
        "OAR_NOTIFICATION_POLL_INTERVAL",
        "OAR_CHANGE_POLL_INTERVAL",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OAR_") or k in tuning}
    env.update(
        OAR_DATABASE_URL=url,
        OAR_DATA_DIR=str(workdir),
        OAR_LOG_LEVEL="WARNING",
        OAR_SHUTDOWN_GRACE="0",
        OAR_HEARTBEAT_INTERVAL="1",
        PYTHONPATH=f"{REPO / 'src'}:{REPO}",
    )
    env.update(extra)
    return env


class Workers:
    """``count`` worker subprocesses with distinct executor IDs."""

    def __init__(self, count: int, env: dict[str, str], tag: str) -> None:
        self.procs = [
            subprocess.Popen(
                [OARCTL, "worker", "--plugin", "bench.plugin"],
                env={**env, "OAR_EXECUTOR_ID": f"bench-{tag}-{i}"},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=REPO,
            )
            for i in range(count)
        ]
        self.ids = {f"bench-{tag}-{i}" for i in range(count)}

    async def ready(self, service: Service) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            alive = {w["id"] for w in await service.engine.alive_workers()}
            if self.ids <= alive:
                return
            await asyncio.sleep(0.2)
        raise RuntimeError("workers did not start")

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


async def status_table(service: Service) -> str:
    return "workflow_status" if service.db.is_sqlite else "dbos.workflow_status"


async def count_done(service: Service, name: str) -> int:
    table = await status_table(service)
    async with service.db.session() as session:
        result = await session.execute(
            text(f"SELECT count(*) FROM {table} WHERE name = :n AND status = 'SUCCESS'"),
            {"n": name},
        )
        return int(result.scalar_one())


async def enqueue_oar(service: Service, count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        await service.tasks.enqueue("bench.noop")
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


async def enqueue_bare(service: Service, count: int) -> list[float]:
    options: EnqueueOptions = {
        "workflow_name": "bench.bare",
        "queue_name": DEFAULT_QUEUE,
        "app_version": WORKFLOW_VERSION,
    }
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        await service.engine.client.enqueue_async(options, 1)
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


async def drain(
    service: Service, env: dict[str, str], workers: int, count: int, kind: str
) -> float:
    """Queue ``count`` tasks, start the workers, return tasks/s from ready to all done.

    Measured by wall clock for both kinds alike (the engine's SQLite timestamps have
    one-second resolution); the batch is told apart by its workflow-ID prefix.
    """
    batch = f"{kind}{workers}-{time.time_ns()}"
    if kind == "oar":
        for i in range(count):
            await service.tasks.enqueue("bench.noop", key=f"{batch}-{i}")
    else:
        options: EnqueueOptions = {
            "workflow_name": "bench.bare",
            "queue_name": DEFAULT_QUEUE,
            "app_version": WORKFLOW_VERSION,
        }
        for i in range(count):
            await service.engine.client.enqueue_async({**options, "workflow_id": f"{batch}-{i}"}, 1)
    pool = Workers(workers, env, batch)
    try:
        await pool.ready(service)
        started = time.perf_counter()
        deadline = time.monotonic() + 600
        while await count_batch_done(service, batch) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{kind} drain did not finish")
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
    finally:
        pool.stop()
    return count / elapsed


async def count_batch_done(service: Service, batch: str) -> int:
    table = await status_table(service)
    async with service.db.session() as session:
        result = await session.execute(
            text(
                f"SELECT count(*) FROM {table} WHERE workflow_uuid LIKE :p AND status = 'SUCCESS'"
            ),
            {"p": f"{batch}-%"},
        )
        return int(result.scalar_one())


async def sleepers(
    service: Service, env: dict[str, str], count: int, kind: str
) -> dict[str, float]:
    pool = Workers(1, {**env, "OAR_TASK_CONCURRENCY": str(count + 100)}, f"sleep-{kind}")
    try:
        await pool.ready(service)
        proc = psutil.Process(pool.procs[0].pid)
        await asyncio.sleep(3)
        rss_before = proc.memory_info().rss
        batch = f"sleep-{kind}-{time.time_ns()}"
        if kind == "oar":
            for i in range(count):
                await service.tasks.enqueue("bench.sleep", {"seconds": 3600}, key=f"{batch}-{i}")
        else:
            options: EnqueueOptions = {
                "workflow_name": "bench.bare_sleep",
                "queue_name": DEFAULT_QUEUE,
                "app_version": WORKFLOW_VERSION,
            }
            for i in range(count):
                await service.engine.client.enqueue_async(
                    {**options, "workflow_id": f"{batch}-{i}"}, 3600.0
                )
        table = await status_table(service)
        deadline = time.monotonic() + 300
        while True:
            async with service.db.session() as session:
                pending = (
                    await session.execute(
                        text(
                            f"SELECT count(*) FROM {table} WHERE workflow_uuid LIKE :p AND status = 'PENDING'"
                        ),
                        {"p": f"{batch}-%"},
                    )
                ).scalar_one()
            if pending >= count:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("sleepers did not all start")
            await asyncio.sleep(0.5)
        await asyncio.sleep(5)  # settle
        rss_after = proc.memory_info().rss
        cpu_start = sum(proc.cpu_times()[:2])
        await asyncio.sleep(15)
        cpu = (sum(proc.cpu_times()[:2]) - cpu_start) / 15 * 100
    finally:
        pool.stop()
    return {"rss_added_mb": (rss_after - rss_before) / 2**20, "idle_cpu_pct": cpu}


async def run_backend(backend: str, tasks: int, sleeping: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"oar-bench-{backend}-") as tmp:
        workdir = Path(tmp)
        url = fresh_database(backend, workdir)
        env = environment(url, workdir)
        settings = load_settings(environ=env)
        results: dict[str, Any] = {"backend": backend, "tasks": tasks}
        async with Service(settings, roles=()) as service:
            oar_lat = await enqueue_oar(service, tasks)
            bare_lat = await enqueue_bare(service, tasks)
            results["enqueue_ms"] = {
                "oar": {
                    "p50": percentile(oar_lat, 50),
                    "p99": percentile(oar_lat, 99),
                    "mean": statistics.fmean(oar_lat),
                },
                "baseline": {
                    "p50": percentile(bare_lat, 50),
                    "p99": percentile(bare_lat, 99),
                    "mean": statistics.fmean(bare_lat),
                },
            }
            # Drain what the enqueue phase queued, then measure fresh batches.
            pool = Workers(1, env, "warm")
            await pool.ready(service)
            while (
                await count_done(service, "oar.task.run") < tasks
                or await count_done(service, "bench.bare") < tasks
            ):
                await asyncio.sleep(0.25)
            pool.stop()
            results["drain_per_s"] = {}
            for workers in (1, 2):
                results["drain_per_s"][f"{workers}_worker"] = {
                    "oar": await drain(service, env, workers, tasks, "oar"),
                    "baseline": await drain(service, env, workers, tasks, "bare"),
                }
            results["sleeping"] = {
                "oar": await sleepers(service, env, sleeping, "oar"),
                "baseline": await sleepers(service, env, sleeping, "bare"),
            }
        if backend == "postgres":
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute("DROP DATABASE IF EXISTS oar_bench WITH (FORCE)")
        return results


def report(results: list[dict[str, Any]]) -> None:
    print(
        f"\nOAR background tasks vs the bare engine — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs"
    )
    print(f"{'metric':44} {'OAR':>10} {'baseline':>10} {'ratio':>7}")
    for r in results:
        b = r["backend"]
        e = r["enqueue_ms"]
        for q in ("p50", "p99"):
            o, base = e["oar"][q], e["baseline"][q]
            print(f"{b + ' enqueue ' + q + ' (ms)':44} {o:10.2f} {base:10.2f} {o / base:7.2f}")
        for label, d in r["drain_per_s"].items():
            o, base = d["oar"], d["baseline"]
            print(
                f"{b + ' drain ' + label.replace('_', ' ') + ' (tasks/s)':44} {o:10.1f} {base:10.1f} {o / base:7.2f}"
            )
        s = r["sleeping"]
        label = f"{b} {r.get('sleepers', 1000)} sleeping: RSS added (MB)"
        print(
            f"{label:44} {s['oar']['rss_added_mb']:10.1f} {s['baseline']['rss_added_mb']:10.1f} {s['oar']['rss_added_mb'] / max(s['baseline']['rss_added_mb'], 0.1):7.2f}"
        )
        print(
            f"{b + ' sleeping: idle CPU (% of a core)':44} {s['oar']['idle_cpu_pct']:10.2f} {s['baseline']['idle_cpu_pct']:10.2f} {s['oar']['idle_cpu_pct'] / max(s['baseline']['idle_cpu_pct'], 0.01):7.2f}"
        )
    print(
        "\ngoals: enqueue p99 < 10 ms; PostgreSQL 2-worker drain >= 150/s; 1000 sleeping < 50 MB and < 5 % CPU"
    )
    for r in results:
        checks = {
            "enqueue p99": r["enqueue_ms"]["oar"]["p99"] < GOALS["enqueue_p99_ms"],
            "sleep RSS": r["sleeping"]["oar"]["rss_added_mb"] < GOALS["sleep_rss_mb"],
            "sleep CPU": r["sleeping"]["oar"]["idle_cpu_pct"] < GOALS["sleep_cpu_pct"],
        }
        if r["backend"] == "postgres":
            checks["2-worker drain"] = (
                r["drain_per_s"]["2_worker"]["oar"] >= GOALS["drain_pg_2_workers"]
            )
        print(
            f"  {r['backend']}: "
            + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in checks.items())
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--sleepers", type=int, default=1000)
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results = []
    for backend in backends:
        print(f"running {backend} …", flush=True)
        result = asyncio.run(run_backend(backend, args.tasks, args.sleepers))
        result["sleepers"] = args.sleepers
        results.append(result)
        report([result])
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"tasks-{datetime.now(UTC):%Y%m%dT%H%M%S}.json").write_text(
        json.dumps(results, indent=2)
    )
    report(results)


if __name__ == "__main__":
    main()
