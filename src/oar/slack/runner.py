"""Running a command from Slack: argv, never a shell; a hard deadline on the whole process
group; the thread's channel and root handed over in ``OAR_SLACK_CHANNEL``/``OAR_SLACK_THREAD``,
and the person who typed it in ``OAR_SLACK_USER`` (Slack ID) and ``OAR_SLACK_USER_NAME`` (the
name runs and watches record: ``by <name> via slack``).

The original ran ``subprocess.run`` in one of ten worker threads for up to ten minutes;
here the child runs under asyncio, so a long command costs a pipe and a task, nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from oar.logs import get_logger
from oar.release.handover import (
    SLACK_CHANNEL_VARIABLE,
    SLACK_THREAD_VARIABLE,
    SLACK_USER_NAME_VARIABLE,
    SLACK_USER_VARIABLE,
)

log = get_logger(__name__)

# Output kept in memory per command; beyond it the middle is dropped (head and tail kept).
MAX_OUTPUT = 2_000_000
_KILL_GRACE = 5.0

Progress = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class CommandResult:
    exit_code: int | None  # None when it was killed at the deadline
    output: str
    duration: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


def resolve_program(program: str) -> str:
    """The program next to this Python first (the installed ``oar`` of this OAR), then PATH."""
    local = Path(sys.executable).parent / program
    if local.exists() and os.access(local, os.X_OK):
        return str(local)
    return program


class CommandRunner:
    def __init__(
        self,
        *,
        timeout: float,
        progress_interval: float,
        environ: Mapping[str, str] | None = None,
        programs: Mapping[str, str] | None = None,
    ) -> None:
        self.timeout = timeout
        # program name -> executable; default: this OAR's own, next to its Python.
        self.programs = dict(programs or {})
        self.progress_interval = progress_interval
        # The bot's own environment carries the credentials the commands need.
        self.environ = dict(os.environ if environ is None else environ)

    async def run(
        self,
        argv: Sequence[str],
        *,
        channel: str,
        thread_ts: str,
        user: str | None = None,
        user_name: str | None = None,
        progress: Progress | None = None,
    ) -> CommandResult:
        env = {**self.environ, SLACK_CHANNEL_VARIABLE: channel, SLACK_THREAD_VARIABLE: thread_ts}
        for variable, value in ((SLACK_USER_VARIABLE, user), (SLACK_USER_NAME_VARIABLE, user_name)):
            if value:
                env[variable] = value
            else:  # never someone else's name, inherited from the bot's own environment
                env.pop(variable, None)
        started = time.monotonic()
        try:
            process = await asyncio.create_subprocess_exec(
                self.programs.get(argv[0]) or resolve_program(argv[0]),
                *argv[1:],
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                start_new_session=True,  # its own process group: the deadline kills it all
            )
        except OSError as exc:
            return CommandResult(
                exit_code=127,
                output=f"cannot start {argv[0]}: {exc.strerror or exc}",
                duration=time.monotonic() - started,
            )
        log.info("slack.command_started", program=argv[0], pid=process.pid, channel=channel)
        output = _Output()
        reader = asyncio.create_task(output.read(process))
        stop_ticking = asyncio.Event()
        ticker = (
            asyncio.create_task(self._tick(progress, started, stop_ticking)) if progress else None
        )
        timed_out = False
        try:
            async with asyncio.timeout(self.timeout):
                await asyncio.shield(reader)
            await process.wait()
        except TimeoutError:
            timed_out = True
            await _kill_group(process)
        except asyncio.CancelledError:
            await _kill_group(process)
            raise
        finally:
            if ticker is not None:
                # Stopped, not cancelled: an update in flight finishes first, so it can never
                # land after (and overwrite) the final status the caller posts next.
                stop_ticking.set()
                await ticker
            if not reader.done():
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
        duration = time.monotonic() - started
        log.info(
            "slack.command_finished",
            program=argv[0],
            exit_code=process.returncode,
            timed_out=timed_out,
            seconds=round(duration, 2),
        )
        return CommandResult(
            exit_code=None if timed_out else process.returncode,
            output=output.text(),
            duration=duration,
            timed_out=timed_out,
        )

    async def _tick(self, progress: Progress, started: float, stop: asyncio.Event) -> None:
        """Report the elapsed time every interval until ``stop`` is set."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.progress_interval):
                    await stop.wait()
            if stop.is_set():
                return
            try:
                await progress(time.monotonic() - started)
            except Exception as exc:  # progress is cosmetic; the command goes on
                log.warning("slack.progress_failed", error=type(exc).__name__)


class _Output:
    """Collects a child's output, keeping head and tail when it grows too large."""

    def __init__(self) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    async def read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while chunk := await process.stdout.read(65536):
            if len(self.head) < MAX_OUTPUT // 2:
                self.head += chunk
                continue
            self.tail += chunk
            if len(self.tail) > MAX_OUTPUT // 2:
                excess = len(self.tail) - MAX_OUTPUT // 2
                del self.tail[:excess]
                self.dropped += excess

    def text(self) -> str:
        head = self.head.decode("utf-8", errors="replace")
        tail = self.tail.decode("utf-8", errors="replace")
        if self.dropped:
            return f"{head}\n… {self.dropped} bytes of output omitted …\n{tail}"
        return head + tail


async def _kill_group(process: asyncio.subprocess.Process) -> None:
    """SIGTERM the whole group, then SIGKILL whatever is left after a grace period."""
    for sig, wait in ((signal.SIGTERM, _KILL_GRACE), (signal.SIGKILL, _KILL_GRACE)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            async with asyncio.timeout(wait):
                await process.wait()
            # The leader is gone; make sure no member of its group survives it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            return
        except TimeoutError:
            continue
