"""The live demo (``oarctl demo``, ``make run``): every stand-in, ``oarctl serve`` pointed at
them, and a few releases seeded through the real ``oar`` commands.

:class:`Demo` owns the pieces (an async context manager, stopped in reverse order): the
sandbox's stand-ins in this process, the service as a child process (``oarctl serve``: API,
dashboard, workers and the Slack bot on the Slack stand-in) on SQLite in the demo's data
directory, and the environment file a shell sources to drive it with ``oar``. Seeding runs
:data:`SEED` as ``oar`` subprocesses, skipping every step whose task already has a run, so
a second start adds nothing. The CI gate runs on its own: its schedules (every
:data:`GATE_INTERVAL`) find a new nightly the release controller stand-in announces at
start, trigger its jobs in the Prow stand-in (one required job fails, its retries pass),
accept it and label its ReleasePayload; ``/tests/4.19`` shows it. The rules (which
variables, which steps remain) are pure functions of their inputs.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import signal
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import httpx

from oar.errors import ConfigurationError
from oar.integrations.prow import ProwJobState
from oar.sandbox import releasetests, seed
from oar.sandbox.prow import ProwStandIn, Timing
from oar.sandbox.registry import DEFAULT_BASE_PORT, STATE_FILE, Sandbox, save_state
from oar.sandbox.releaseconfig import write_config
from oar.sandbox.releasecontroller import ReleaseControllerStandIn
from oar.sandbox.releasepayloads import ReleasePayloadStandIn
from oar.sandbox.slack import SlackStandIn

DEFAULT_PORT = 8080
ENV_FILE = "demo.env"
SERVICE_LOG = "service.log"
# Seconds between two checks of every follow: the demo's waits end within a minute.
FOLLOW_INTERVAL = 5
# The 4.19 payload metadata answers 404 to this many looks, then 200: change-advisory-status
# looks once, then its watch checks at once and every FOLLOW_INTERVAL; it succeeds at its
# sixth check, about 25 s after the command (long enough to watch it wait on the dashboard).
METADATA_LIVE_AFTER = 6
# The seed's QE owner (take-ownership -e).
QE_OWNER = seed.PEOPLE[1].email
JUST_CREATED = "4.18.41"  # ocp-build-data has it; ART has not created its advisories yet
WITH_BLOCKER = seed.ERRATA_RELEASE
AWAITING_METADATA = seed.RELEASE

# The CI gate: its controller and aggregator schedules for the seed's y-stream tick this
# often; the Prow stand-in completes a run this many seconds after its trigger; this
# required job fails first and passes on its two retries. A new nightly is accepted about
# 3 ticks after start (trigger, retry, accept).
GATE_INTERVAL = "10s"
GATE_JOB_SECONDS = 4.0
GATE_FAILING_JOB = releasetests.NIGHTLY_JOBS[0]
# The test-result checker announces the seed's rejected nightly in #team-qe-release.
CHECKER_CHANNEL = seed.SLACK_CHANNELS["team-qe-release"]
CHECKER_INTERVAL = "30s"

_INTERVALS = (
    "OAR_APPROVAL_WATCH_INTERVAL",
    "OAR_CDN_PUSH_INTERVAL",
    "OAR_IMAGE_CONSISTENCY_INTERVAL",
    "OAR_SIGNATURE_CHECK_INTERVAL",
    "OAR_STAGE_TESTING_INTERVAL",
)


@dataclass(frozen=True, kw_only=True)
class SeedStep:
    """One ``oar -r <release> <task> [args…]`` the demo runs once."""

    release: str
    task: str
    args: tuple[str, ...] = ()
    fails: bool = False  # it ends in Fail by design (the blocker)

    def argv(self) -> list[str]:
        return ["-r", self.release, self.task, *self.args]

    def __str__(self) -> str:
        return shlex.join(["oar", *self.argv()])


SEED: tuple[SeedStep, ...] = (
    # Just created: its report and nothing else.
    SeedStep(release=JUST_CREATED, task="create-test-report"),
    # Mid-way: owned, bugs recorded, and a failed CVP test is a blocker.
    SeedStep(release=WITH_BLOCKER, task="create-test-report"),
    SeedStep(release=WITH_BLOCKER, task="take-ownership", args=("-e", QE_OWNER)),
    SeedStep(release=WITH_BLOCKER, task="update-bug-list"),
    SeedStep(release=WITH_BLOCKER, task="check-greenwave-cvp-tests", fails=True),
    # Approved, waiting for its payload metadata: a durable watch the sandbox completes.
    SeedStep(release=AWAITING_METADATA, task="create-test-report"),
    SeedStep(release=AWAITING_METADATA, task="take-ownership", args=("-e", QE_OWNER)),
    SeedStep(release=AWAITING_METADATA, task="update-bug-list"),
    SeedStep(release=AWAITING_METADATA, task="change-advisory-status"),
)


def demo_environment(
    base: Mapping[str, str],
    stand_ins: Mapping[str, str],
    *,
    data_dir: Path,
    port: int,
) -> dict[str, str]:
    """The environment of the demo's service and commands: ``base`` (PATH, HOME, …) without
    any ``OAR_*`` variable of its own, the stand-ins' variables, SQLite in ``data_dir``,
    the dashboard on ``port`` and short follow intervals. Pure."""
    environment = {k: v for k, v in base.items() if not k.startswith("OAR_")}
    environment.update(stand_ins)
    environment.update(
        {
            "OAR_DATA_DIR": str(data_dir),
            "OAR_DATABASE_URL": f"sqlite:///{data_dir / 'oar.db'}",
            "OAR_HOST": "127.0.0.1",
            "OAR_PORT": str(port),
            "OAR_DASHBOARD_URL": f"http://127.0.0.1:{port}",
            "OAR_SHUTDOWN_GRACE": "5",
        }
    )
    environment.update({name: str(FOLLOW_INTERVAL) for name in _INTERVALS})
    environment.update(
        {
            "OAR_JOB_STREAMS": seed.Y_STREAM,
            "OAR_JOB_INTERVAL": GATE_INTERVAL,
            "OAR_RESULT_CHECKER_CHANNEL": CHECKER_CHANNEL,
            "OAR_RESULT_CHECKER_INTERVAL": CHECKER_INTERVAL,
        }
    )
    return environment


def demo_nightly(now: datetime) -> str:
    """The new nightly the demo's release controller announces at ``now`` (a restarted demo
    announces another one: the gate tests each build once). Pure."""
    return f"{seed.Y_STREAM}.0-0.nightly-{now.astimezone(UTC):%Y-%m-%d-%H%M%S}"


def exported(environment: Mapping[str, str], names: Sequence[str]) -> str:
    """``export NAME=value`` lines (shell-quoted) for ``names``, sorted: the env file."""
    return "".join(
        f"export {name}={shlex.quote(environment[name])}\n"
        for name in sorted(names)
        if name in environment
    )


def free_port() -> int:
    """A port free on 127.0.0.1 now (for ``--port 0``: the URLs must be known up front)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def check_port_free(port: int) -> None:
    """One clear error before anything starts when the service's port is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise ConfigurationError(
                f"port {port} on 127.0.0.1 is in use: choose another with --port"
                " (--port 0 takes any free port)"
            ) from None


@dataclass(frozen=True, kw_only=True)
class SeedResult:
    step: SeedStep
    ran: bool  # False: its task already had a run (a restarted demo)
    exit_code: int = 0
    last_line: str = ""

    @property
    def as_expected(self) -> bool:
        return not self.ran or (self.exit_code != 0) == self.step.fails


class Demo:
    """The running demo: stand-ins, the service (a child process) and the env file."""

    def __init__(
        self,
        *,
        data_dir: Path,
        bin_dir: Path,
        base_environ: Mapping[str, str],
        port: int = DEFAULT_PORT,
        base_port: int = DEFAULT_BASE_PORT,
        ready_timeout: float = 120.0,
    ) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.bin_dir = bin_dir
        self.base_environ = dict(base_environ)
        self.requested_port = port
        self.base_port = base_port
        self.ready_timeout = ready_timeout
        self.port = 0
        self.nightly = ""
        self.environment: dict[str, str] = {}
        self._sandbox: Sandbox | None = None
        self._service: asyncio.subprocess.Process | None = None
        self._stack: contextlib.AsyncExitStack | None = None

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def slack_url(self) -> str:
        return self._running_sandbox().urls["slack"]

    @property
    def env_file(self) -> Path:
        return self.data_dir / ENV_FILE

    @property
    def service_log(self) -> Path:
        return self.data_dir / "logs" / SERVICE_LOG

    def _running_sandbox(self) -> Sandbox:
        if self._sandbox is None:
            raise RuntimeError("the demo is not running")
        return self._sandbox

    async def __aenter__(self) -> Demo:
        if self._stack is not None:
            raise RuntimeError("the demo is already running")
        port = self.requested_port or await asyncio.to_thread(free_port)
        await asyncio.to_thread(check_port_free, port)
        self.port = port
        stack = contextlib.AsyncExitStack()
        try:
            await asyncio.to_thread(self.data_dir.mkdir, parents=True, exist_ok=True)
            sandbox = await stack.enter_async_context(Sandbox(base_port=self.base_port))
            self._sandbox = sandbox
            stack.callback(self._forget_sandbox)
            config = await asyncio.to_thread(write_config, self.data_dir / "sandbox")
            stand_ins = {**sandbox.environment(), **config}
            self.environment = demo_environment(
                self.base_environ, stand_ins, data_dir=self.data_dir, port=port
            )
            names = [*stand_ins, *(k for k in self.environment if k.startswith("OAR_"))]
            await asyncio.to_thread(
                _write_private, self.env_file, exported(self.environment, sorted(set(names)))
            )
            stack.callback(self.env_file.unlink, missing_ok=True)
            state = self.data_dir / STATE_FILE
            await asyncio.to_thread(save_state, state, sandbox.urls)
            stack.callback(state.unlink, missing_ok=True)
            controller = sandbox.servers["release-controller"]
            assert isinstance(controller, ReleaseControllerStandIn)
            controller.set_metadata(seed.Y_STREAM, live_after=METADATA_LIVE_AFTER)
            self.nightly = demo_nightly(datetime.now(UTC))
            _announce_nightly(sandbox, self.nightly)
            await self._start_service()
            stack.push_async_callback(self._stop_service)
            await self._wait_ready()
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    def _forget_sandbox(self) -> None:
        self._sandbox = None

    async def _start_service(self) -> None:
        await asyncio.to_thread(self.service_log.parent.mkdir, parents=True, exist_ok=True)
        log = await asyncio.to_thread(self.service_log.open, "ab")
        try:
            # Its own session: the demo forwards the stop signal once (a terminal's Ctrl-C
            # to both would be a second signal, which skips the graceful shutdown).
            self._service = await asyncio.create_subprocess_exec(
                str(self.bin_dir / "oarctl"),
                "serve",
                env=self.environment,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()

    async def _stop_service(self, timeout: float = 30.0) -> None:
        service, self._service = self._service, None
        if service is None or service.returncode is not None:
            return
        service.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(timeout):
                await service.wait()
        except TimeoutError:
            service.kill()
            await service.wait()

    async def _wait_ready(self) -> None:
        """Until the service answers /readyz and the bot is connected to the Slack stand-in."""
        slack = self._running_sandbox().servers["slack"]
        assert isinstance(slack, SlackStandIn)
        deadline = time.monotonic() + self.ready_timeout
        async with httpx.AsyncClient(base_url=self.dashboard_url, timeout=5) as http:
            while True:
                if self._service is None or self._service.returncode is not None:
                    raise ConfigurationError(
                        f"the service exited while starting; its log: {self.service_log}\n"
                        + await asyncio.to_thread(_tail, self.service_log)
                    )
                with contextlib.suppress(httpx.HTTPError):
                    ready = (await http.get("/readyz")).status_code == 200
                    if ready and slack.connections:
                        return
                if time.monotonic() > deadline:
                    raise ConfigurationError(
                        f"the service was not ready within {self.ready_timeout:g}s;"
                        f" its log: {self.service_log}"
                    )
                await asyncio.sleep(0.2)

    async def service_exited(self) -> int:
        """Wait until the service's process ends (it should not, before the demo stops)."""
        if self._service is None:
            raise RuntimeError("the demo is not running")
        return await self._service.wait()

    async def seed(
        self,
        steps: Sequence[SeedStep] = SEED,
        *,
        on_result: Callable[[SeedResult], None] = lambda result: None,
    ) -> list[SeedResult]:
        """Run each step not yet recorded (``oar`` subprocesses, as a user would): each
        release's steps in order, the releases side by side; ``on_result`` hears each."""
        chains: dict[str, list[SeedStep]] = {}
        for step in steps:
            chains.setdefault(step.release, []).append(step)
        results: dict[SeedStep, SeedResult] = {}
        async with httpx.AsyncClient(base_url=self.dashboard_url, timeout=10) as http:

            async def chain(release_steps: list[SeedStep]) -> None:
                for step in release_steps:
                    result = await self._seed_step(http, step)
                    results[step] = result
                    on_result(result)

            async with asyncio.TaskGroup() as group:
                for release_steps in chains.values():
                    group.create_task(chain(release_steps))
        return [results[step] for step in steps]

    async def _seed_step(self, http: httpx.AsyncClient, step: SeedStep) -> SeedResult:
        if await _has_run(http, step):
            return SeedResult(step=step, ran=False)
        code, output = await self._oar(step.argv())
        lines = [line for line in output.splitlines() if line.strip()]
        return SeedResult(step=step, ran=True, exit_code=code, last_line=lines[-1] if lines else "")

    async def _oar(self, argv: Sequence[str]) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            str(self.bin_dir / "oar"),
            *argv,
            env=self.environment,
            cwd=self.data_dir,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            stdout, _ = await process.communicate()
        except asyncio.CancelledError:  # the demo stops: so does the command (as on Ctrl-C)
            if process.returncode is None:
                process.send_signal(signal.SIGINT)
                await asyncio.shield(process.wait())
            raise
        assert process.returncode is not None
        return process.returncode, stdout.decode(errors="replace")


async def _has_run(http: httpx.AsyncClient, step: SeedStep) -> bool:
    """Whether ``step``'s task has any recorded run (the service's release API)."""
    answer = await http.get(f"/api/releases/{step.release}/runs", params={"task": step.task})
    if answer.status_code == 404:  # not tracked yet
        return False
    answer.raise_for_status()
    runs = answer.json()
    return bool(runs.get("runs") if isinstance(runs, dict) else runs)


def _announce_nightly(sandbox: Sandbox, build: str) -> None:
    """A new accepted nightly of the seed's y-stream with its ReleasePayload, quick Prow
    runs, and the first run of :data:`GATE_FAILING_JOB` failing (its retries pass)."""
    controller = sandbox.servers["release-controller"]
    payloads = sandbox.servers["releasepayloads"]
    prow = sandbox.servers["prow"]
    assert isinstance(controller, ReleaseControllerStandIn)
    assert isinstance(payloads, ReleasePayloadStandIn)
    assert isinstance(prow, ProwStandIn)
    controller.add_release(f"{seed.Y_STREAM}.0-0.nightly", build)
    payloads.add_payload(build)
    prow.timing = Timing(pending_after=1, complete_after=GATE_JOB_SECONDS)
    prow.outcomes[GATE_FAILING_JOB] = [
        ProwJobState.FAILURE,
        ProwJobState.SUCCESS,
        ProwJobState.SUCCESS,
    ]


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    temporary.chmod(0o600)
    temporary.replace(path)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


__all__ = [
    "DEFAULT_PORT",
    "SEED",
    "Demo",
    "SeedResult",
    "SeedStep",
    "demo_environment",
    "demo_nightly",
    "exported",
]
