"""One OAR process: the database, the durable engine, and the services built on them.

``oarctl serve`` runs every role in one event loop; ``--role`` splits them for scale-out
(every role shares the database). The CLI uses the same class with no roles: it gets the
database and the engine's client, and never executes workflows itself.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Literal

import oar.agents.jobfollow  # (registers the prow-job follow kind in every process)
import oar.mcp.gates  # (registers the gated-call follow kind in every process)
import oar.release.drive  # (registers the release-drive follow kind in every process)
import oar.release.dropapprovals  # (registers the bug-drop follow kind in every process)
import oar.release.imagecheck
import oar.release.pushes
import oar.release.signing
import oar.release.staging
import oar.release.watch  # noqa: F401  (registers the approval follow kind in every process)
from oar.agents import detector, notificator, resultchecker
from oar.db import Database
from oar.engine import Engine, TaskManager
from oar.engine.approvals import ApprovalManager, ApprovalSweeper
from oar.engine.changes import ChangeFeed
from oar.engine.schedules import ScheduleManager, ScheduleRegistry
from oar.engine.schedules import registry as default_schedules
from oar.errors import ConfigurationError
from oar.github.app import GitHubApp, load_app
from oar.logs import get_logger
from oar.release.drivewaker import DriveWaker
from oar.release.follows import follow_runtime
from oar.release.notifications import RecordingNotifier
from oar.settings import Settings

if TYPE_CHECKING:
    import click

    from oar.release.tracking import PortsOpener
    from oar.slack.bot import SlackBot

log = get_logger(__name__)

ServiceRole = Literal["web", "worker", "bot"]
ALL_ROLES: frozenset[str] = frozenset({"web", "worker"})


def load_plugins(modules: Iterable[str]) -> list[str]:
    """Import user modules that register task handlers; name the one that fails."""
    loaded = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # report any import-time failure of user code
            raise ConfigurationError(
                f"cannot load plugin module {name!r} (OAR_PLUGINS / --plugin): "
                f"{type(exc).__name__}: {exc}",
                variables=["OAR_PLUGINS"],
            ) from exc
        loaded.append(name)
    return loaded


class Service:
    """Owns the process's long-lived parts; use as ``async with Service(settings) as s``."""

    def __init__(
        self,
        settings: Settings,
        *,
        roles: Iterable[str] = ALL_ROLES,
        upgrade: bool = True,
        github_app: GitHubApp | None = None,
        schedules: ScheduleRegistry | None = None,
        programs: Mapping[str, click.Group] | None = None,
        open_ports: PortsOpener | None = None,
    ) -> None:
        """``programs``: the click groups the Slack bot runs (the ``bot`` role needs them;
        ``oar.cli.oarctl.programs()``), passed in because the CLI sits above the service.
        ``open_ports``: opens a release command's adapters (``oar.adapters.open_ports``),
        for the commands the service runs itself (MCP calls, gated ones in a worker)."""
        self.settings = settings
        self.open_ports = open_ports
        self.roles = frozenset(roles)
        unknown = self.roles - {"web", "worker", "bot"}
        if unknown:
            raise ConfigurationError(f"unknown role(s) {sorted(unknown)}: use web, worker or bot")
        self.upgrade = upgrade
        self.db = Database(settings.database_url, write_turn=settings.sqlite_write_turn)
        self.engine = Engine(
            settings, self.db, role=self._executor_role(), execute="worker" in self.roles
        )
        self.feed = ChangeFeed(self.db, poll_interval=settings.change_poll_interval)
        self.tasks = TaskManager(self.db, self.engine, self.feed, settings=settings)
        self.approvals = ApprovalManager(
            self.db, self.engine, self.feed, default_timeout=settings.approval_timeout
        )
        registry = schedules or default_schedules
        # The agents' schedules, as configured (none unless their settings are set).
        notificator.register_schedule(registry, settings, self.db)
        detector.register_schedules(registry, settings, self.db)
        resultchecker.register_schedule(registry, settings, self.db)
        if settings.job_streams:
            from oar.agents.gate import register_schedules, require_trigger_credentials

            if "worker" in self.roles:  # a worker runs them: say what is missing at start-up
                require_trigger_credentials(settings)
            register_schedules(registry, settings, self.db)
        self.schedules = ScheduleManager(self.db, self.engine, settings=settings, registry=registry)
        self.engine.provide(ApprovalManager, self.approvals)
        self.engine.feed = self.feed
        self._sweeper = ApprovalSweeper(self.approvals) if "worker" in self.roles else None
        # A drive waiting in this worker looks again at once when its release changes.
        self.drive_waker = (
            DriveWaker(self.db, self.tasks, self.feed) if "worker" in self.roles else None
        )
        if github_app is None and settings.github_app_module:
            github_app = load_app(settings.github_app_module)
        self.github_app = github_app
        if github_app is not None:
            github_app.bind(settings=settings, db=self.db, engine=self.engine, tasks=self.tasks)
        self.bot: SlackBot | None = None
        if "bot" in self.roles:
            if programs is None:
                raise ValueError("the bot role needs the programs it runs: pass programs=")
            from oar.slack.bot import SlackBot  # Bolt and the model client: bot processes only

            self.bot = SlackBot(
                settings, self.db, approvals=self.approvals, feed=self.feed, programs=programs
            )
        self._follows = contextlib.AsyncExitStack()
        self._started = False

    def _executor_role(self) -> str:
        if "worker" in self.roles and "web" in self.roles:
            return "serve"
        return "worker" if "worker" in self.roles else "client"

    async def __aenter__(self) -> Service:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        load_plugins(self.settings.plugins)
        self.settings.ensure_database_dir()
        await self.db.connect()
        try:
            if self.upgrade:
                await self.db.upgrade()
            if "worker" in self.roles:
                await self._bind_follows()
            await self.engine.start()
            if self.engine.execute:
                await self.schedules.apply()
            await self.feed.start()
            if self._sweeper is not None:
                await self._sweeper.start()
            if self.drive_waker is not None:
                await self.drive_waker.start()
            if self.bot is not None:
                await self.bot.start()
        except BaseException:
            await self._stop_parts(grace=0)
            raise
        self._started = True
        log.info("service.started", roles=sorted(self.roles), database=self.db.url_masked)

    async def _bind_follows(self) -> None:
        """Bind the follow kinds to their ports (and the notifier) for this worker's
        workflows, once, before the engine may resume any."""
        notifier = RecordingNotifier.from_settings(self.settings, self.db)
        self._follows.push_async_callback(notifier.close)
        await self._follows.enter_async_context(
            follow_runtime(self.settings, self.db, notifier, self.open_ports)
        )

    async def stop(self) -> None:
        await self._stop_parts()
        if self._started:
            log.info("service.stopped", roles=sorted(self.roles))
        self._started = False

    async def _stop_parts(self, grace: float | None = None) -> None:
        if self.bot is not None:
            await self.bot.stop()
        if self.github_app is not None:
            await self.github_app.close()
        if self._sweeper is not None:
            await self._sweeper.stop()
        if self.drive_waker is not None:
            await self.drive_waker.stop()
        await self.feed.stop()
        await self.engine.stop(grace=grace)
        await self._follows.aclose()
        await self.db.close()

    async def ready(self) -> dict[str, bool]:
        """Readiness checks by name; the service is ready when all are true."""
        return {"database": await self.db.ping(), "engine": await self.engine.ready()}
