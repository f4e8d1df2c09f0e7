"""The release detector (reference §4): a new z-stream release gets its report, once.

One pass for a y-stream compares the latest release in ART's
``z-stream/_releases/<y>/<y>.z.yaml`` with the latest stable one on the release controller
(``4-stable``, ``?prefix=<y>``). ART ahead means a new release: the pass claims it in
``oar_detected_releases`` (its primary key is the invariant, so overlapping schedule
ticks, webhooks and CLI runs create one report) and runs ``oar -r <release>
create-test-report`` through the command layer, as its own recorded run (actor
``release-detector``). A failed creation (ocp-build-data not ready yet) stays ``failed``
and the next pass tries again; a created one is never run again.

It runs as a schedule per configured y-stream (``release-detector-<y>``), on a GitHub push
to ART's file (:mod:`oar.github.agents`), and once from ``oarctl start-release-detector``.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from oar.agents import zstream
from oar.db import Database
from oar.db.models import DetectedReleaseRecord
from oar.db.types import utcnow
from oar.engine.schedules import ScheduleRegistry, ScheduleRun
from oar.integrations.github import GitHubRepositoryFiles, RepositoryFiles
from oar.integrations.releasecontroller import HttpReleaseStreams, ReleaseStreams
from oar.jsonvalue import JSON
from oar.logs import get_logger
from oar.release.handover import AGENT_VARIABLE
from oar.release.versions import parse_y_stream
from oar.settings import Settings

log = get_logger(__name__)

AGENT = "release-detector"
TASK = "create-test-report"
# A claim older than this whose holder never finished (its process died) is taken over.
CLAIM_LEASE = timedelta(minutes=20)
# How long the report's command may run.
COMMAND_TIMEOUT = 600.0


class Decision(enum.StrEnum):
    """What the two latest versions say (the original's three cases, plus unknown)."""

    NEW = "new"  # ART is ahead of stable: a new z-stream release
    NONE = "none"  # equal: nothing new
    BEHIND = "behind"  # ART behind stable: abnormal, ART should be told
    UNKNOWN = "unknown"  # one of the two could not be read


def decide(art: str | None, stable: str | None) -> Decision:
    """The detector's decision (pure)."""
    if art is None or stable is None:
        return Decision.UNKNOWN
    order = zstream.compare(art, stable)
    if order > 0:
        return Decision.NEW
    return Decision.BEHIND if order < 0 else Decision.NONE


@dataclass(frozen=True, kw_only=True)
class ReportResult:
    ok: bool
    message: str


class ReportRunner(Protocol):
    """Runs ``create-test-report`` for a release through the command layer."""

    async def create_report(self, release: str) -> ReportResult: ...


class CommandReportRunner:
    """``oar -r <release> create-test-report --json`` as a subprocess (argv, never a
    shell, a deadline), like the Slack bot runs commands: the run is recorded with its own
    captured log, by actor ``release-detector`` (handed over in ``OAR_AGENT``)."""

    def __init__(self, *, timeout: float = COMMAND_TIMEOUT, python: str | None = None) -> None:
        self.timeout = timeout
        self.python = python or sys.executable

    async def create_report(self, release: str) -> ReportResult:
        argv = [self.python, "-m", "oar.cli.oar", "-r", release, TASK, "--json"]
        # The worker's environment carries the settings and credentials the command needs.
        env = {**os.environ, AGENT_VARIABLE: AGENT}
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        try:
            async with asyncio.timeout(self.timeout):
                out, err = await process.communicate()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            return ReportResult(ok=False, message=f"{TASK} took over {self.timeout:g}s: killed")
        except asyncio.CancelledError:
            # The worker stops: SIGTERM lets the command record its run as Fail
            # (interrupted); the resumed pass claims the release again and reruns it.
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            raise
        return _result(process.returncode, out.decode(errors="replace"), err.decode("replace"))


def _result(code: int | None, stdout: str, stderr: str) -> ReportResult:
    message = ""
    with contextlib.suppress(ValueError):
        outcome = json.loads(stdout)
        if isinstance(outcome, dict):
            message = str(outcome.get("message") or "")
    if not message:
        message = (stderr.strip() or stdout.strip() or f"exit code {code}").splitlines()[-1]
    return ReportResult(ok=code == 0, message=message)


# --- the record ---------------------------------------------------------------------------


class DetectionStatus(enum.StrEnum):
    CREATING = "creating"
    CREATED = "created"
    FAILED = "failed"


@dataclass(frozen=True, kw_only=True)
class Detection:
    release: str
    y_stream: str
    status: DetectionStatus
    stable: str | None
    trigger: str
    attempts: int
    message: str | None
    detected_at: datetime
    created_at: datetime | None

    def to_dict(self) -> dict[str, JSON]:
        return {
            "release": self.release,
            "y_stream": self.y_stream,
            "status": self.status.value,
            "stable": self.stable,
            "trigger": self.trigger,
            "attempts": self.attempts,
            "message": self.message,
            "detected_at": self.detected_at.isoformat(),
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }


def _detection(row: DetectedReleaseRecord) -> Detection:
    return Detection(
        release=row.release,
        y_stream=row.y_stream,
        status=DetectionStatus(row.status),
        stable=row.stable,
        trigger=row.trigger,
        attempts=row.attempts,
        message=row.message,
        detected_at=row.detected_at,
        created_at=row.created_at,
    )


class DetectionStore:
    """``oar_detected_releases``: claim a release's report creation, record how it went."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock

    async def claim(
        self, release: str, *, y_stream: str, stable: str, trigger: str, by: str
    ) -> bool:
        """Hold the release's creation for ``by``; False when it is created, or another
        live run holds it. A failed one, a stale claim, or ``by``'s own (a resumed run)
        can be claimed."""
        now = self.clock()
        try:
            async with self.db.transaction() as session:
                session.add(
                    DetectedReleaseRecord(
                        release=release,
                        y_stream=y_stream,
                        status=DetectionStatus.CREATING.value,
                        stable=stable,
                        trigger=trigger,
                        claimed_by=by,
                        attempts=1,
                        detected_at=now,
                        updated_at=now,
                    )
                )
            return True
        except IntegrityError:
            pass  # known: claim it below if it may be
        table = DetectedReleaseRecord
        async with self.db.transaction() as session:
            result = await session.execute(
                update(table)
                .where(
                    table.release == release,
                    or_(
                        table.status == DetectionStatus.FAILED.value,
                        (table.status == DetectionStatus.CREATING.value)
                        & or_(table.claimed_by == by, table.updated_at < now - CLAIM_LEASE),
                    ),
                )
                .values(
                    status=DetectionStatus.CREATING.value,
                    claimed_by=by,
                    trigger=trigger,
                    stable=stable,
                    attempts=table.attempts + 1,
                    updated_at=now,
                )
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def finish(self, release: str, *, by: str, ok: bool, message: str) -> None:
        now = self.clock()
        status = DetectionStatus.CREATED if ok else DetectionStatus.FAILED
        table = DetectedReleaseRecord
        async with self.db.transaction() as session:
            await session.execute(
                update(table)
                .where(table.release == release, table.claimed_by == by)
                .values(
                    status=status.value,
                    message=message[:2000],
                    updated_at=now,
                    created_at=now if ok else None,
                )
            )

    async def get(self, release: str) -> Detection | None:
        async with self.db.session() as session:
            row = await session.get(DetectedReleaseRecord, release)
            return None if row is None else _detection(row)

    async def list(self, y_stream: str | None = None) -> list[Detection]:
        async with self.db.session() as session:
            query = select(DetectedReleaseRecord).order_by(DetectedReleaseRecord.detected_at)
            if y_stream is not None:
                query = query.where(DetectedReleaseRecord.y_stream == y_stream)
            return [_detection(r) for r in (await session.scalars(query)).all()]


# --- the pass ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DetectionReport:
    """What one pass found and did."""

    y_stream: str
    art: str | None
    stable: str | None
    decision: Decision
    release: str | None = None  # the new release
    created: bool = False  # this pass created its report
    failed: bool = False  # this pass tried to create its report and could not
    message: str = ""

    @property
    def ok(self) -> bool:
        """False when the versions could not be read or a creation failed."""
        return self.decision is not Decision.UNKNOWN and not self.failed

    def to_dict(self) -> dict[str, JSON]:
        return {
            "y_stream": self.y_stream,
            "art": self.art,
            "stable": self.stable,
            "decision": self.decision.value,
            "release": self.release,
            "created": self.created,
            "failed": self.failed,
            "ok": self.ok,
            "message": self.message,
        }


class ReleaseDetector:
    """One detector pass per call, with its ports injected."""

    def __init__(
        self,
        *,
        files: RepositoryFiles,
        streams: ReleaseStreams,
        runner: ReportRunner,
        store: DetectionStore,
    ) -> None:
        self.files = files
        self.streams = streams
        self.runner = runner
        self.store = store

    async def art_latest(self, y_stream: str) -> str | None:
        path = zstream.zstream_path(y_stream)
        found = await self.files.get_file(path, ref=zstream.BRANCH)
        if found is None:
            return None
        return zstream.latest(zstream.releases_in(found.content, path=path))

    async def stable_latest(self, y_stream: str) -> str | None:
        release = await self.streams.latest(y_stream, nightly=False)
        return None if release is None else release.name

    async def run(self, y_stream: str, *, trigger: str, by: str) -> DetectionReport:
        """Compare, and create the report of a new release once (see the module)."""
        art = await self.art_latest(y_stream)
        stable = await self.stable_latest(y_stream)
        decision = decide(art, stable)
        base = DetectionReport(y_stream=y_stream, art=art, stable=stable, decision=decision)
        if decision is Decision.UNKNOWN:
            missing = "ART's z-stream file" if art is None else "the latest stable release"
            log.error("detector.versions_unknown", y_stream=y_stream, missing=missing)
            return replace(base, message=f"get latest versions failed: no {missing}")
        if decision is Decision.BEHIND:
            log.warning("detector.art_behind", y_stream=y_stream, art=art, stable=stable)
            return replace(
                base,
                message=f"latest z-stream version {art} is less than latest stable version"
                f" {stable}, it's abnormal. We need to contact ART",
            )
        if decision is Decision.NONE:
            return replace(base, message=f"no new z-stream release found ({art})")
        assert art is not None
        assert stable is not None
        log.info("detector.new_release", y_stream=y_stream, release=art, stable=stable)
        if not await self.store.claim(
            art, y_stream=y_stream, stable=stable, trigger=trigger, by=by
        ):
            known = await self.store.get(art)
            state = known.status.value if known else "claimed"
            return replace(
                base,
                release=art,
                message=f"new z-stream release {art}: its report is already {state}",
            )
        result = await self.runner.create_report(art)
        await self.store.finish(art, by=by, ok=result.ok, message=result.message)
        log.info("detector.report", release=art, ok=result.ok)
        verb = "created its report" if result.ok else "creating its report failed"
        return replace(
            base,
            release=art,
            created=result.ok,
            failed=not result.ok,
            message=f"new z-stream release {art} is detected: {verb}: {result.message}",
        )


def release_detector(settings: Settings, db: Database) -> ReleaseDetector:
    """The detector on the real adapters (GitHub, the release controller, ``oar``)."""
    return ReleaseDetector(
        files=GitHubRepositoryFiles.from_settings(settings),
        streams=HttpReleaseStreams.from_settings(settings),
        runner=CommandReportRunner(),
        store=DetectionStore(db),
    )


async def detect(
    settings: Settings, db: Database, y_stream: str, *, trigger: str, by: str
) -> dict[str, JSON]:
    """One pass with the real adapters (a schedule's step, a webhook's task, the CLI)."""
    detector = release_detector(settings, db)
    report = await detector.run(parse_y_stream(y_stream), trigger=trigger, by=by)
    return report.to_dict()


# --- the schedules ------------------------------------------------------------------------------

SCHEDULE_PREFIX = "release-detector-"


def schedule_name(y_stream: str) -> str:
    return f"{SCHEDULE_PREFIX}{y_stream}"


def register_schedules(registry: ScheduleRegistry, settings: Settings, db: Database) -> list[str]:
    """One schedule per configured y-stream (``OAR_RELEASE_DETECTOR_Y_STREAMS``), every
    ``OAR_RELEASE_DETECTOR_INTERVAL``; detector schedules no longer configured are
    dropped. Called when the service is composed."""
    wanted = {schedule_name(y): y for y in settings.release_detector_y_streams}
    for name in registry.names():
        if name.startswith(SCHEDULE_PREFIX) and name not in wanted:
            registry.unregister(name)
    for name, y_stream in wanted.items():

        async def tick(run: ScheduleRun, y_stream: str = y_stream) -> JSON:
            trigger = "run-now" if run.manual else "schedule"
            result: JSON = await run.step(
                "detect", detect, settings, db, y_stream, trigger=trigger, by=run.workflow_id
            )
            return result

        registry.register(
            name,
            tick,
            every=settings.release_detector_interval,
            description=f"A new {y_stream} z-stream release in ART's file: its report, once.",
        )
    return sorted(wanted)
