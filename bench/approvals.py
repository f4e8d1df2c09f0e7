"""Benchmark approval wake-up and waiting cost against the seed's design, side by side.

OAR: a waiter wakes through the change feed (same process at once; another process by
LISTEN/NOTIFY on PostgreSQL, a batched poll on SQLite). Baseline: seed 002's
``RobustApprovalManager`` loop — a local event for the same process, and otherwise each
waiter polling the database every ``poll_interval`` (2 s in the seed).

For SQLite and PostgreSQL it prints wake-up latency (resolve → waiter awake) p50/p95/p99
over N trials in the same process and across processes, and the RSS added and idle CPU of
1000 approvals waited on in one process.

Goals (issue 3): same process p99 < 10 ms; cross-process PostgreSQL p95 < 50 ms; cross-
process SQLite p95 < 300 ms; 1000 waiters < 50 MB and < 5 % of a core.

    python bench/approvals.py [--backend sqlite|postgres|both] [--trials 200] [--waiters 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import psycopg
from sqlalchemy import select
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from oar.db.models import ApprovalRecord  # noqa: E402
from oar.engine.approvals import ApprovalManager  # noqa: E402
from oar.service import Service  # noqa: E402
from oar.settings import load_settings  # noqa: E402

PG_ADMIN = os.environ.get(
    "OAR_BENCH_POSTGRES_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SEED_POLL = 2.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def fresh_database(backend: str, workdir: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS oar_bench_approvals WITH (FORCE)")
        conn.execute("CREATE DATABASE oar_bench_approvals")
    return (
        make_url(PG_ADMIN).set(database="oar_bench_approvals").render_as_string(hide_password=False)
    )


def environment(url: str, workdir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OAR_")
        or k in ("OAR_NOTIFICATION_POLL_INTERVAL", "OAR_CHANGE_POLL_INTERVAL")
    }
    env.update(
        OAR_DATABASE_URL=url,
        OAR_DATA_DIR=str(workdir),
        OAR_LOG_LEVEL="WARNING",
        PYTHONPATH=f"{REPO / 'src'}:{REPO}",
    )
    return env


class SeedWaiter:
    """Seed 002's wait loop: a local event, else a database poll every ``SEED_POLL`` s."""

    def __init__(self, manager: ApprovalManager) -> None:
        self.manager = manager
        self.events: dict[str, asyncio.Event] = {}

    async def wait(self, approval_id: str) -> None:
        event = self.events.setdefault(approval_id, asyncio.Event())
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout=SEED_POLL)
                return
            async with self.manager.db.session() as session:
                status = await session.scalar(
                    select(ApprovalRecord.status).where(ApprovalRecord.id == approval_id)
                )
            if status != "pending":
                return

    async def resolve(self, approval_id: str) -> None:
        await self.manager.resolve_approval(approval_id, "approved", resolved_by="bench")
        if approval_id in self.events:
            self.events[approval_id].set()


# --- the resolver child process ----------------------------------------------------------------

RESOLVER = """
import asyncio, sys, time
from oar.service import Service
from oar.settings import load_settings

async def main():
    async with Service(load_settings(), roles=()) as service:
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            approval_id = line.strip()
            started = time.time()
            await service.approvals.resolve_approval(approval_id, "approved", resolved_by="bench")
            print(started, flush=True)

asyncio.run(main())
"""


class Resolver:
    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", RESOLVER],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"

    def resolve(self, approval_id: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(approval_id + "\n")
        self.proc.stdin.flush()

    def started_at(self) -> float:
        assert self.proc.stdout is not None
        return float(self.proc.stdout.readline())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


async def latency(
    service: Service, env: dict[str, str], trials: int
) -> dict[str, dict[str, list[float]]]:
    am = service.approvals
    seed = SeedWaiter(am)
    results: dict[str, dict[str, list[float]]] = {
        "same": {"oar": [], "baseline": []},
        "cross": {"oar": [], "baseline": []},
    }
    loop = asyncio.get_running_loop()

    for _ in range(trials):  # same process
        approval_id = await am.request_approval("bench", "latency", {}, 600)
        waiter = asyncio.create_task(am.wait_for_approval(approval_id))
        await asyncio.sleep(0.01)
        started = time.perf_counter()
        await am.resolve_approval(approval_id, "approved", resolved_by="bench")
        await waiter
        results["same"]["oar"].append((time.perf_counter() - started) * 1000)

        approval_id = await am.request_approval("bench", "latency", {}, 600)
        waiter = asyncio.create_task(seed.wait(approval_id))
        await asyncio.sleep(0.01)
        started = time.perf_counter()
        await seed.resolve(approval_id)
        await waiter
        results["same"]["baseline"].append((time.perf_counter() - started) * 1000)

    resolver = Resolver(env)
    try:
        for kind in ("oar", "baseline"):
            for _ in range(trials):
                approval_id = await am.request_approval("bench", "latency", {}, 600)
                waiter = asyncio.create_task(
                    am.wait_for_approval(approval_id) if kind == "oar" else seed.wait(approval_id)
                )
                await asyncio.sleep(
                    0.05 + (time.time_ns() % 97) / 1000
                )  # random phase against polls
                resolver.resolve(approval_id)
                await waiter
                woke = time.time()
                started = await loop.run_in_executor(None, resolver.started_at)
                results["cross"][kind].append((woke - started) * 1000)
    finally:
        resolver.close()
    return results


# --- many waiters in one process (run as a child, for a clean RSS) ------------------------------

WAITERS = """
import asyncio, json, os, sys, time
sys.path[:0] = [sys.argv[3] + "/src", sys.argv[3]]
import psutil
from oar.service import Service
from oar.settings import load_settings
from bench.approvals import SeedWaiter

async def main(kind, count):
    proc = psutil.Process()
    async with Service(load_settings(), roles=()) as service:
        am = service.approvals
        ids = [await am.request_approval("bench", "many", {}, 3600) for _ in range(count)]
        await asyncio.sleep(2)
        rss_before = proc.memory_info().rss
        seed = SeedWaiter(am)
        waiters = [asyncio.create_task(am.wait_for_approval(i) if kind == "oar" else seed.wait(i)) for i in ids]
        await asyncio.sleep(5)
        rss_after = proc.memory_info().rss
        cpu_start = sum(proc.cpu_times()[:2])
        await asyncio.sleep(15)
        cpu = (sum(proc.cpu_times()[:2]) - cpu_start) / 15 * 100
        for w in waiters:
            w.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
    print(json.dumps({"rss_added_mb": (rss_after - rss_before) / 2**20, "idle_cpu_pct": cpu, "threads": proc.num_threads()}))

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def many_waiters(env: dict[str, str], kind: str, count: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", WAITERS, kind, str(count), str(REPO)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
        cwd=REPO,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


async def run_backend(backend: str, trials: int, waiters: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"oar-bench-appr-{backend}-") as tmp:
        workdir = Path(tmp)
        url = fresh_database(backend, workdir)
        env = environment(url, workdir)
        async with Service(load_settings(environ=env), roles=()) as service:
            lat = await latency(service, env, trials)
        result = {
            "backend": backend,
            "trials": trials,
            "latency_ms": {
                where: {
                    kind: {q: percentile(v, q) for q in (50, 95, 99)} for kind, v in kinds.items()
                }
                for where, kinds in lat.items()
            },
            "waiters": {
                "count": waiters,
                "oar": many_waiters(env, "oar", waiters),
                "baseline": many_waiters(env, "baseline", waiters),
            },
        }
        if backend == "postgres":
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute("DROP DATABASE IF EXISTS oar_bench_approvals WITH (FORCE)")
        return result


def report(r: dict[str, Any]) -> None:
    b = r["backend"]
    print(
        f"\n{b}: approval wake-up, {r['trials']} trials (ms)      {'OAR':>9} {'baseline':>9} {'ratio':>7}"
    )
    for where in ("same", "cross"):
        for q in (50, 95, 99):
            o = r["latency_ms"][where]["oar"][q]
            base = r["latency_ms"][where]["baseline"][q]
            label = f"{'same process' if where == 'same' else 'cross-process'} p{q}"
            print(f"  {label:42} {o:9.2f} {base:9.2f} {o / base:7.3f}")
    w = r["waiters"]
    print(
        f"  {w['count']} waiters: RSS added (MB)                  {w['oar']['rss_added_mb']:9.1f} {w['baseline']['rss_added_mb']:9.1f}"
    )
    print(
        f"  {w['count']} waiters: idle CPU (% of a core)          {w['oar']['idle_cpu_pct']:9.2f} {w['baseline']['idle_cpu_pct']:9.2f}"
    )
    goals = {
        "same p99 < 10 ms": r["latency_ms"]["same"]["oar"][99] < 10,
        ("cross p95 < 50 ms" if b == "postgres" else "cross p95 < 300 ms"): r["latency_ms"][
            "cross"
        ]["oar"][95]
        < (50 if b == "postgres" else 300),
        "waiters < 50 MB": w["oar"]["rss_added_mb"] < 50,
        "waiters < 5 % CPU": w["oar"]["idle_cpu_pct"] < 5,
    }
    print(
        "  goals: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in goals.items()),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--waiters", type=int, default=1000)
    args = parser.parse_args()
    print(
        f"OAR approvals vs seed 002's design — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, psutil {psutil.__version__}"
    )
    results = []
    for backend in ["sqlite", "postgres"] if args.backend == "both" else [args.backend]:
        result = asyncio.run(run_backend(backend, args.trials, args.waiters))
        report(result)
        results.append(result)
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"approvals-{datetime.now(UTC):%Y%m%dT%H%M%S}.json").write_text(
        json.dumps(results, indent=2)
    )


if __name__ == "__main__":
    main()
