"""Benchmark webhook acknowledgement against the synchronous baseline, side by side.

OAR answers a delivery once it is recorded and its durable task created (202); the
baseline is seed 004's "before" — the same 5-second handler run inline, answering when it
returns. 50 concurrent senders POST signed ``push`` deliveries to ``oarctl serve``
(uvicorn on 127.0.0.1) for a fixed time: first back to back (capacity), then paced at a
fraction (``--fraction``, default 0.5) of the capacity that server just measured, so the
paced phase means "half loaded" on a slow machine as on a fast one. The bench prints
acknowledgement latency p50/p95/p99, accepted deliveries per second and the ratios, then
checks that every acknowledged delivery was recorded with its task (nothing lost).

On SQLite it also runs OAR without its write turn (``OAR_SQLITE_WRITE_TURN=false``: the
writers of one process race for SQLite's lock in its busy handler, as before issue 13
item 15), paced at the same rate, so the fix and what it fixed are measured in one run.

Goals (issues 4 and 13): p99 < 50 ms paced, whatever the handler's duration; >= 300
deliveries/s accepted on PostgreSQL; zero deliveries lost.

    python bench/webhooks.py [--backend sqlite|postgres|both] [--seconds 15] [--senders 50]
                             [--fraction 0.5 | --rate 100]
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
    def __init__(self, url: str, workdir: Path, *, inline: bool, write_turn: bool = True) -> None:
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
        if not write_turn:
            env["OAR_SQLITE_WRITE_TURN"] = "false"
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


def _request(port: int, path: str) -> tuple[str, bytes]:
    """A signed push delivery as raw HTTP/1.1 bytes (built before the clock starts)."""
    delivery = str(uuid.uuid4())
    body = json.dumps({**PUSH, "after": delivery}).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nX-GitHub-Event: push\r\n"
        f"X-GitHub-Delivery: {delivery}\r\nX-Hub-Signature-256: {sign(SECRET, body)}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return delivery, head + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    writer.write(request)
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionResetError("the server closed the connection")
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(status_line.split()[1])


async def load(url: str, senders: int, seconds: float, rate: float | None = None) -> dict[str, Any]:
    """``senders`` keep-alive connections POSTing signed deliveries for ``seconds``.

    Without ``rate`` each connection sends its next delivery as soon as the last is
    answered (capacity). With ``rate`` (deliveries/s over all connections) sends follow a
    schedule and latency counts from the scheduled time, so a slow server cannot hide
    its queueing (no coordinated omission). The load generator is raw asyncio streams:
    a Python HTTP client would saturate the CPU before the server does.
    """
    parsed = httpx.URL(url)
    port, path = int(parsed.port or 80), parsed.path
    per_sender = int((rate / senders if rate else 400) * seconds) + 10
    batches = [[_request(port, path) for _ in range(per_sender)] for _ in range(senders)]
    latencies: list[float] = []
    accepted: list[str] = []
    failures: list[str] = []
    started = time.perf_counter()
    stop_at = started + seconds

    async def sender(index: int, requests: list[tuple[str, bytes]]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        interval = senders / rate if rate else 0.0
        next_at = started + (index / senders) * interval
        try:
            for delivery, request in requests:
                if rate:
                    delay = next_at - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    began = next_at
                    next_at += interval
                else:
                    began = time.perf_counter()
                if began >= stop_at:
                    return
                try:
                    status = await _exchange(reader, writer, request)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    failures.append(type(exc).__name__)
                    return
                latencies.append((time.perf_counter() - began) * 1000)
                if 200 <= status < 300:
                    accepted.append(delivery)
                else:
                    failures.append(str(status))
        finally:
            writer.close()

    await asyncio.gather(*(sender(i, batch) for i, batch in enumerate(batches)))
    elapsed = time.perf_counter() - started
    return {
        "sent": len(latencies) + len(failures),
        "accepted": len(accepted),
        "failures": failures[:20],
        "failure_count": len(failures),
        "per_second": len(accepted) / elapsed,
        "p50_ms": percentile(latencies, 50) if latencies else None,
        "p95_ms": percentile(latencies, 95) if latencies else None,
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


# The paced phase offers this fraction of the capacity the same server just measured, so
# it means "half loaded" on any machine (a fixed rate was near capacity on a slow one).
DEFAULT_FRACTION = 0.5


async def measure(
    backend: str, kind: str, seconds: float, senders: int, *, rate: float | None, fraction: float
) -> dict[str, Any]:
    """One server on a fresh database: its capacity, then (unless the synchronous
    baseline) latency at ``rate`` deliveries/s, or at ``fraction`` of that capacity."""
    with tempfile.TemporaryDirectory(prefix=f"oar-bench-wh-{backend}-") as tmp:
        url = fresh_database(backend, Path(tmp))
        server = Server(url, Path(tmp), inline=kind == "baseline", write_turn=kind != "no-turn")
        try:
            await server.ready()
            capacity = await load(server.url, senders, seconds if kind != "baseline" else 12)
            ids = capacity.pop("ids")
            result: dict[str, Any] = {"capacity": capacity}
            if kind != "baseline":
                rate = rate or max(1.0, round(fraction * capacity["per_second"]))
                paced = await load(server.url, senders, seconds, rate=rate)
                ids += paced.pop("ids")
                result["paced"] = {**paced, "rate": rate}
                result["lost"] = await lost(url, ids)
        finally:
            server.stop()
    return result


async def run_backend(
    backend: str,
    seconds: float,
    senders: int,
    fraction: float = DEFAULT_FRACTION,
    rate: float | None = None,
) -> dict[str, Any]:
    """OAR, then (SQLite) OAR without its write turn paced at OAR's rate, then the
    synchronous baseline (capacity only: it cannot answer faster than its handler)."""
    result: dict[str, Any] = {
        "backend": backend,
        "senders": senders,
        "fraction": fraction,
        "rate": rate,
    }
    result["oar"] = await measure(backend, "oar", seconds, senders, rate=rate, fraction=fraction)
    if backend == "sqlite":
        rate = result["oar"]["paced"]["rate"]
        result["no-turn"] = await measure(
            backend, "no-turn", seconds, senders, rate=rate, fraction=fraction
        )
    result["baseline"] = await measure(
        backend, "baseline", seconds, senders, rate=None, fraction=fraction
    )
    if backend == "postgres":
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS oar_bench_webhooks WITH (FORCE)")
    return result


def _cell(value: float | None, width: int = 10) -> str:
    if value is None:
        return f"{'—':>{width}}"
    return f"{value:{width}.3f}" if value < 1 else f"{value:{width}.1f}"


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def report(r: dict[str, Any]) -> None:
    """OAR next to the synchronous baseline and (SQLite) OAR without its write turn."""
    o, b, n = r["oar"], r["baseline"], r.get("no-turn")
    oc, bc, op = o["capacity"], b["capacity"], o["paced"]
    nc, np_ = (n["capacity"], n["paced"]) if n else ({}, {})
    rate = op["rate"]
    print(
        f"\n{r['backend']}: {r['senders']} concurrent senders, 5 s handler"
        f"{'':18}{'OAR':>10} {'baseline':>10} {'ratio':>10} {'no turn':>10} {'ratio':>10}"
    )
    rows: list[tuple[str, float | None, float | None, float | None]] = [
        (
            "capacity: accepted deliveries/s",
            oc["per_second"],
            bc["per_second"],
            nc.get("per_second"),
        ),
    ]
    for q in (50, 95, 99):
        rows.append(
            (f"capacity: ack latency p{q} (ms)", oc[f"p{q}_ms"], bc[f"p{q}_ms"], nc.get(f"p{q}_ms"))
        )
    for q in (50, 95, 99):
        rows.append(
            (f"at {rate:.0f}/s offered: ack p{q} (ms)", op[f"p{q}_ms"], None, np_.get(f"p{q}_ms"))
        )
    rows.append(
        (f"at {rate:.0f}/s offered: accepted/s", op["per_second"], None, np_.get("per_second"))
    )
    for label, ours, base, no_turn in rows:
        print(
            f"  {label:<56}{_cell(ours)} {_cell(base)} {_cell(_ratio(ours, base))}"
            f" {_cell(no_turn)} {_cell(_ratio(ours, no_turn))}"
        )
    if r.get("rate"):
        print(f"  (paced at a fixed {r['rate']:.0f}/s, --rate)")
    else:
        print(f"  (paced at {r['fraction']:.0%} of the capacity OAR measured in this run)")
    sent = oc["sent"] + op["sent"]
    accepted = oc["accepted"] + op["accepted"]
    print(f"  accepted / sent, acknowledged but lost           {accepted}/{sent}, {o['lost']} lost")
    if n:
        print(f"  no turn: acknowledged but lost                   {n['lost']} lost")
    goals = {
        f"p99 < 50 ms at {rate:.0f}/s": op["p99_ms"] < 50,
        "zero lost": o["lost"] == 0 and oc["failure_count"] + op["failure_count"] == 0,
    }
    if r["backend"] == "postgres":
        goals[">= 300/s accepted"] = oc["per_second"] >= 300
    print(
        "  goals: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in goals.items()),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument(
        "--fraction",
        type=float,
        default=DEFAULT_FRACTION,
        help="paced rate as a fraction of the capacity just measured (default %(default)s)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="pace at this many deliveries/s instead of a fraction of capacity",
    )
    args = parser.parse_args()
    if not 0 < args.fraction <= 1:
        parser.error(f"--fraction must be in (0, 1], got {args.fraction}")
    if args.rate is not None and args.rate <= 0:
        parser.error(f"--rate must be > 0 deliveries/s, got {args.rate}")
    print(
        f"OAR webhook receiver vs the synchronous baseline — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs"
    )
    results = []
    for backend in ["sqlite", "postgres"] if args.backend == "both" else [args.backend]:
        result = asyncio.run(
            run_backend(backend, args.seconds, args.senders, args.fraction, args.rate)
        )
        report(result)
        results.append(result)
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"webhooks-{datetime.now(UTC):%Y%m%dT%H%M%S}.json").write_text(
        json.dumps(results, indent=2)
    )


if __name__ == "__main__":
    main()
