"""Benchmark webhook acknowledgement against the synchronous baseline, side by side.

OAR answers a delivery once it is recorded and its durable task created (202); the
baseline is seed 004's "before" — the same 5-second handler run inline, answering when it
returns. 50 concurrent senders POST signed ``push`` deliveries to ``oarctl serve``
(uvicorn on 127.0.0.1) for a fixed time; the bench prints acknowledgement latency p50/p99,
accepted deliveries per second and the ratio, then checks that every acknowledged
delivery was recorded with its task (nothing lost).

Goals (issue 4): p99 < 50 ms whatever the handler's duration; >= 300 deliveries/s accepted
on PostgreSQL; zero deliveries lost.

    python bench/webhooks.py [--backend sqlite|postgres|both] [--seconds 20] [--senders 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO)]

from oar.db import Database  # noqa: E402
from oar.db.models import TaskRecord, WebhookDeliveryRecord  # noqa: E402
from oar.github.webhooks import sign  # noqa: E402

PG_ADMIN = os.environ.get(
    "OAR_BENCH_POSTGRES_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
OARCTL = str(Path(sys.executable).parent / "oarctl")
SECRET = "bench-secret"
PUSH = json.loads((REPO / "tests" / "fixtures" / "github" / "push.json").read_text())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def fresh_database(backend: str, workdir: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS oar_bench_webhooks WITH (FORCE)")
        conn.execute("CREATE DATABASE oar_bench_webhooks")
    return (
        make_url(PG_ADMIN).set(database="oar_bench_webhooks").render_as_string(hide_password=False)
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, url: str, workdir: Path, *, inline: bool) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("OAR_")}
        env.update(
            OAR_DATABASE_URL=url,
            OAR_DATA_DIR=str(workdir),
            OAR_LOG_LEVEL="WARNING",
            OAR_SHUTDOWN_GRACE="0",
            GITHUBAPP_WEBHOOK_SECRET=SECRET,
            PYTHONPATH=f"{REPO / 'src'}:{REPO}",
            OAR_EXECUTOR_ID=f"bench-{uuid.uuid4().hex[:8]}",
        )
        if inline:
            env["OAR_BENCH_INLINE"] = "1"
        self.proc = subprocess.Popen(
            [OARCTL, "serve", "--port", str(self.port), "--github-app", "bench.github_app:app"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=REPO,
        )
        self.url = f"http://127.0.0.1:{self.port}/webhooks/github"

    async def ready(self) -> None:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient() as http:
            while time.monotonic() < deadline:
                try:
                    if (await http.get(f"http://127.0.0.1:{self.port}/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


async def load(url: str, senders: int, seconds: float) -> dict[str, Any]:
    """``senders`` concurrent loops POSTing signed deliveries for ``seconds``."""
    latencies: list[float] = []
    accepted: list[str] = []
    failures: list[str] = []
    body_template = {**PUSH}
    stop_at = time.monotonic() + seconds

    async def sender(http: httpx.AsyncClient) -> None:
        while time.monotonic() < stop_at:
            delivery = str(uuid.uuid4())
            body = json.dumps({**body_template, "after": delivery}).encode()
            headers = {
                "Content-Type": "application/json",
                "X-GitHub-Event": "push",
                "X-GitHub-Delivery": delivery,
                "X-Hub-Signature-256": sign(SECRET, body),
            }
            started = time.perf_counter()
            try:
                response = await http.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                failures.append(type(exc).__name__)
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            if 200 <= response.status_code < 300:
                accepted.append(delivery)
            else:
                failures.append(str(response.status_code))

    limits = httpx.Limits(max_connections=senders, max_keepalive_connections=senders)
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        await asyncio.gather(*(sender(http) for _ in range(senders)))
    elapsed = time.perf_counter() - started
    return {
        "sent": len(latencies) + len(failures),
        "accepted": len(accepted),
        "failures": failures[:20],
        "failure_count": len(failures),
        "per_second": len(accepted) / elapsed,
        "p50_ms": percentile(latencies, 50) if latencies else None,
        "p99_ms": percentile(latencies, 99) if latencies else None,
        "ids": accepted,
    }


async def lost(db_url: str, accepted: list[str]) -> int:
    """Acknowledged deliveries with no record or no task."""
    async with Database(db_url) as db, db.session() as session:
        recorded = set((await session.scalars(select(WebhookDeliveryRecord.id))).all())
        tasks = await session.scalar(select(func.count()).select_from(TaskRecord))
    missing = [d for d in accepted if d not in recorded]
    return len(missing) + max(0, len(accepted) - int(tasks or 0))


async def run_backend(backend: str, seconds: float, senders: int) -> dict[str, Any]:
    result: dict[str, Any] = {"backend": backend, "senders": senders}
    for kind in ("oar", "baseline"):
        with tempfile.TemporaryDirectory(prefix=f"oar-bench-wh-{backend}-") as tmp:
            url = fresh_database(backend, Path(tmp))
            server = Server(url, Path(tmp), inline=kind == "baseline")
            try:
                await server.ready()
                measured = await load(
                    server.url, senders, seconds if kind == "oar" else max(seconds, 12)
                )
                if kind == "oar":
                    measured["lost"] = await lost(url, measured["ids"])
            finally:
                server.stop()
            measured.pop("ids")
            result[kind] = measured
    if backend == "postgres":
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS oar_bench_webhooks WITH (FORCE)")
    return result


def report(r: dict[str, Any]) -> None:
    o, b = r["oar"], r["baseline"]
    print(
        f"\n{r['backend']}: {r['senders']} concurrent senders, 5 s handler   {'OAR':>10} {'baseline':>10} {'ratio':>8}"
    )
    print(
        f"  ack latency p50 (ms)                       {o['p50_ms']:10.1f} {b['p50_ms']:10.1f} {o['p50_ms'] / b['p50_ms']:8.4f}"
    )
    print(
        f"  ack latency p99 (ms)                       {o['p99_ms']:10.1f} {b['p99_ms']:10.1f} {o['p99_ms'] / b['p99_ms']:8.4f}"
    )
    print(
        f"  accepted deliveries/s                      {o['per_second']:10.1f} {b['per_second']:10.1f} {o['per_second'] / b['per_second']:8.1f}"
    )
    print(
        f"  accepted / sent                            {o['accepted']:>5}/{o['sent']:<5}{b['accepted']:>6}/{b['sent']:<5}"
    )
    print(f"  acknowledged but lost                      {o['lost']:10d}")
    goals = {
        "p99 < 50 ms": o["p99_ms"] < 50,
        "zero lost": o["lost"] == 0 and o["failure_count"] == 0,
    }
    if r["backend"] == "postgres":
        goals[">= 300/s"] = o["per_second"] >= 300
    print(
        "  goals: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in goals.items()),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--senders", type=int, default=50)
    args = parser.parse_args()
    print(
        f"OAR webhook receiver vs the synchronous baseline — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs"
    )
    results = []
    for backend in ["sqlite", "postgres"] if args.backend == "both" else [args.backend]:
        result = asyncio.run(run_backend(backend, args.seconds, args.senders))
        report(result)
        results.append(result)
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"webhooks-{datetime.now(UTC):%Y%m%dT%H%M%S}.json").write_text(
        json.dumps(results, indent=2)
    )


if __name__ == "__main__":
    main()
