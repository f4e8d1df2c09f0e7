"""The composition of the ports: real adapters built from the settings, once per process.

This is the only place a release command's adapters are built from the settings
(:func:`open_ports`); the domain gets the :class:`~oar.release.ports.Ports` bundle
injected. Each adapter is imported only when its port is asked for, so a command that
does not talk to GitLab never imports python-gitlab.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from oar.release.ports import Ports, check_port_names
from oar.settings import Settings

if TYPE_CHECKING:
    from oar.db import Database
    from oar.release.dropapprovals import DropRequest, WaitingDrop
    from oar.release.watch import WatchInfo, WatchRequest
    from oar.service import Service


class EngineWatches:
    """The approval-watch port on the engine: :class:`oar.release.watch.Watches` over the
    process's client :class:`~oar.service.Service`, plus the worker that runs them."""

    def __init__(self, service: Service, settings: Settings) -> None:
        from oar.release.watch import Watches

        self.service = service
        self.settings = settings
        self.watches = Watches(service.db, service.tasks)

    async def running(self, y_stream: str) -> WatchInfo | None:
        return await self.watches.running(y_stream)

    async def start(self, request: WatchRequest) -> tuple[WatchInfo, bool]:
        return await self.watches.start(request)

    async def keep_alive(self, watch_id: str) -> str | None:
        from oar.adapters.background import ensure_worker

        started = await ensure_worker(self.service, self.settings, watch_id)
        return started.text() if started else None


class EngineDrops:
    """The bug-drop port on the engine: :class:`oar.release.dropapprovals.Drops` over the
    process's client :class:`~oar.service.Service`, plus the worker that acts on them."""

    def __init__(self, service: Service, settings: Settings) -> None:
        from oar.release.dropapprovals import Drops

        self.service = service
        self.settings = settings
        self.drops = Drops(service.db, service.tasks, service.approvals)

    async def recorded(self, release: str) -> dict[str, WaitingDrop]:
        return await self.drops.recorded(release)

    async def request(self, request: DropRequest) -> WaitingDrop:
        return await self.drops.request(request)

    async def keep_alive(self, follow_id: str) -> str | None:
        from oar.adapters.background import ensure_worker

        started = await ensure_worker(self.service, self.settings, follow_id)
        return started.text() if started else None


def _payload_inspector(settings: Settings) -> Any:
    """``oc adm release info`` when ``oc`` is installed, else the controller's details."""
    from oar.integrations.payloads import HttpPayloadInspector, OcPayloadInspector

    if shutil.which("oc"):
        return OcPayloadInspector.from_settings(settings)
    return HttpPayloadInspector.from_settings(settings)


def _build_data(settings: Settings) -> Any:
    from oar.integrations.builddata import HttpBuildData
    from oar.release.configstore import load_config

    template = load_config(settings).get("build_data_url") if settings.config_file else None
    return HttpBuildData.from_settings(
        settings, config_template=template if isinstance(template, str) else None
    )


@contextlib.asynccontextmanager
async def open_ports(  # noqa: PLR0912 - one branch per port
    settings: Settings, names: Sequence[str], db: Database | None = None
) -> AsyncIterator[Ports]:
    """Open the adapters of the ports ``names`` (others stay unopened) and close them on
    exit. Slack messages are recorded in ``db`` when one is given."""
    names = check_port_names(names)
    opened: dict[str, Any] = {}
    async with contextlib.AsyncExitStack() as stack:
        for name in names:
            if name == "errata":
                from oar.integrations.errata import ErrataClient

                opened[name] = await stack.enter_async_context(ErrataClient.from_settings(settings))
            elif name == "jira":
                from oar.integrations.jira import JiraClient

                opened[name] = await stack.enter_async_context(JiraClient.from_settings(settings))
            elif name == "gitlab":
                from oar.integrations.gitlab import GitLabClient

                opened[name] = await stack.enter_async_context(GitLabClient.from_settings(settings))
            elif name == "github":
                from oar.integrations.github import GitHubRepositoryFiles

                opened[name] = GitHubRepositoryFiles.from_settings(settings)
            elif name == "brew":
                from oar.integrations.brew import BrewClient

                opened[name] = BrewClient.from_settings(settings)
            elif name == "builddata":
                opened[name] = _build_data(settings)
            elif name == "payloads":
                opened[name] = _payload_inspector(settings)
            elif name == "notifier":
                from oar.release.notifications import RecordingNotifier

                notifier = RecordingNotifier.from_settings(settings, db)
                stack.push_async_callback(notifier.close)
                opened[name] = notifier
            elif name == "ldap":
                from oar.integrations.ldap import LdapDirectory

                opened[name] = LdapDirectory.from_settings(settings)
            elif name == "watches":
                from oar.service import Service

                service = await stack.enter_async_context(Service(settings, roles=()))
                opened[name] = EngineWatches(service, settings)
            elif name == "drops":
                from oar.service import Service

                service = await stack.enter_async_context(Service(settings, roles=()))
                opened[name] = EngineDrops(service, settings)
            else:  # pragma: no cover - check_port_names refused it
                raise AssertionError(name)
        yield Ports(**opened)
