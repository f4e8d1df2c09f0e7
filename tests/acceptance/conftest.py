"""Run ``oarctl`` as real subprocesses: start, wait for readiness, kill -9, restart."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import psutil
import pytest

from oar.service import Service
from oar.settings import Settings
from tests.conftest import fast_environment
from tests.waiting import eventually, eventually_sync

REPO = Path(__file__).parents[2]
BIN = Path(sys.executable).parent
OARCTL = str(BIN / "oarctl")
PLUGIN = "tests.acceptance.plugin_tasks"


def kill9(pid: int) -> None:
    """kill -9 of ``pid``, returning once it is dead (gone or a zombie), as a person who
    killed it would see: the signal is delivered at once, but on a busy machine the
    process can take a moment to stop, and until then it still counts as alive."""
    os.kill(pid, signal.SIGKILL)
    eventually_sync(lambda: not _running(pid), timeout=30, what=f"pid {pid} to die")


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class OarProcess:
    """One ``oarctl`` subprocess with its own log file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args, self.env, self.log = args, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> OarProcess:
        handle = self.log.open("ab")
        self.proc = subprocess.Popen(
            [OARCTL, *self.args],
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,
        )
        handle.close()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self, timeout: float = 30) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture
def subprocess_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    """The environment a worker subprocess needs to share this test's database."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("OAR_") or k.startswith("OAR_TEST_")
    }
    env.update(fast_environment(settings.database_url, tmp_path / "data"))
    env["PYTHONPATH"] = str(REPO)
    env["OAR_LOG_LEVEL"] = "INFO"
    return env


@pytest.fixture
def spawn(subprocess_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., OarProcess]]:
    started: list[OarProcess] = []

    def start(*args: str, env: dict[str, str] | None = None, name: str = "oarctl") -> OarProcess:
        merged = {**subprocess_env, **(env or {})}
        process = OarProcess(list(args), merged, tmp_path / f"{name}.log").start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Service]:
    """A client-only service in the test process (enqueue, inspect; no executor)."""
    import tests.acceptance.plugin_tasks  # noqa: F401  (registers the handlers for enqueue)

    async with Service(settings, roles=()) as service:
        yield service


async def wait_for(predicate: Callable[[], object], *, timeout: float, what: str) -> None:
    """Poll an (async or sync) predicate until true; fail naming ``what`` after ``timeout``."""
    await eventually(predicate, timeout, what=what, interval=0.1)


async def wait_for_worker(client: Service, executor_id: str, process: OarProcess) -> None:
    """Wait until ``process`` has claimed ``executor_id`` (its engine is running)."""

    async def alive() -> bool:
        workers = await client.engine.alive_workers()
        return any(w["id"] == executor_id and w["pid"] == process.pid for w in workers)

    try:
        await wait_for(alive, timeout=60, what=f"worker {executor_id} (pid {process.pid})")
    except BaseException:
        print(process.output())
        raise


async def oar(*args: str, env: dict[str, str], program: str = "oar") -> tuple[int, str, str]:
    """Run ``oar`` (or ``program``) to its end without blocking the loop: stand-ins in
    this test's loop answer it. Returns the exit code, stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        str(BIN / program),
        *args,
        env=env,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()
