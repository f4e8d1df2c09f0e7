"""The composition of the ports: real adapters built from the settings, once per process.

This is the only place a release command's adapters are built from the settings
(:func:`open_ports`); the domain gets the :class:`~oar.release.ports.Ports` bundle
injected. Each adapter is imported only when its port is asked for, so a command that
does not talk to GitLab never imports python-gitlab.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from oar.release.ports import Ports, check_port_names
from oar.settings import Settings

if TYPE_CHECKING:
    from oar.db import Database
    from oar.release.dropapprovals import DropRequest, WaitingDrop
    from oar.release.follows import FollowInfo, FollowRequest
    from oar.release.tracking import PortsOpener
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


class EngineFollows:
    """The follows port on the engine: :class:`oar.release.follows.Follows` over the
    process's client :class:`~oar.service.Service`, plus the worker that runs them."""

    def __init__(self, service: Service, settings: Settings) -> None:
        from oar.release.follows import Follows

        self.service = service
        self.settings = settings
        self.follows = Follows(service.db, service.tasks)

    async def running(self, key: str) -> FollowInfo | None:
        return await self.follows.running(key)

    async def start(self, request: FollowRequest) -> tuple[FollowInfo, bool]:
        return await self.follows.start(request)

    async def keep_alive(self, follow_id: str) -> str | None:
        from oar.adapters.background import ensure_worker

        started = await ensure_worker(self.service, self.settings, follow_id)
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


# The ports on the durable engine: one client Service shared by all of them.
_ENGINE_PORTS: dict[str, Callable[[Service, Settings], Any]] = {
    "watches": EngineWatches,
    "follows": EngineFollows,
    "drops": EngineDrops,
}


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


def _elliott(settings: Settings) -> Any:
    from oar.integrations.elliott import ElliottCli

    # The child starts from this process's environment (its Kerberos ticket cache,
    # elliott's own settings); nothing is written into os.environ.
    return ElliottCli.from_settings(settings, environ=os.environ)


def _github(settings: Settings) -> Any:
    from oar.integrations.github import GitHubRepositoryFiles

    return GitHubRepositoryFiles.from_settings(settings)


def _brew(settings: Settings) -> Any:
    from oar.integrations.brew import BrewClient

    return BrewClient.from_settings(settings)


def _ldap(settings: Settings) -> Any:
    from oar.integrations.ldap import LdapDirectory

    return LdapDirectory.from_settings(settings)


def _prow(settings: Settings) -> Any:
    from oar.integrations.prow import GangwayProwJobs

    return GangwayProwJobs.from_settings(settings)


def _release_streams(settings: Settings) -> Any:
    from oar.integrations.releasecontroller import HttpReleaseStreams

    return HttpReleaseStreams.from_settings(settings)


# The ports whose adapter needs no closing: built from the settings, and that is all.
_PLAIN: dict[str, Callable[[Settings], Any]] = {
    "github": _github,
    "brew": _brew,
    "builddata": _build_data,
    "payloads": _payload_inspector,
    "ldap": _ldap,
    "releases": _release_streams,
    "prow": _prow,
    "elliott": _elliott,
}


def _errata(settings: Settings) -> Any:
    from oar.integrations.errata import ErrataClient

    return ErrataClient.from_settings(settings)


def _jira(settings: Settings) -> Any:
    from oar.integrations.jira import JiraClient

    return JiraClient.from_settings(settings)


def _gitlab(settings: Settings) -> Any:
    from oar.integrations.gitlab import GitLabClient

    return GitLabClient.from_settings(settings)


def _signatures(settings: Settings) -> Any:
    from oar.integrations.signatures import HttpSignatures

    return HttpSignatures.from_settings(settings)


def _jenkins(settings: Settings) -> Any:
    from oar.integrations.jenkins import JenkinsClient

    return JenkinsClient.from_settings(settings)


def _pyxis(settings: Settings) -> Any:
    from oar.integrations.pyxis import PyxisClient

    return PyxisClient.from_settings(settings)


# The ports whose adapter is an async context manager: entered here, closed on exit.
_CLOSING: dict[str, Callable[[Settings], Any]] = {
    "errata": _errata,
    "jira": _jira,
    "gitlab": _gitlab,
    "signatures": _signatures,
    "jenkins": _jenkins,
    "pyxis": _pyxis,
}


@contextlib.asynccontextmanager
async def open_ports(
    settings: Settings, names: Sequence[str], db: Database | None = None
) -> AsyncIterator[Ports]:
    """Open the adapters of the ports ``names`` (others stay unopened) and close them on
    exit. Slack messages are recorded in ``db`` when one is given."""
    names = check_port_names(names)
    opened: dict[str, Any] = {}
    service: Service | None = None  # one engine client for every engine port
    async with contextlib.AsyncExitStack() as stack:
        for name in names:
            if name in _CLOSING:
                opened[name] = await stack.enter_async_context(_CLOSING[name](settings))
            elif name in _PLAIN:
                opened[name] = _PLAIN[name](settings)
            elif name == "notifier":
                from oar.release.notifications import RecordingNotifier

                notifier = RecordingNotifier.from_settings(settings, db)
                stack.push_async_callback(notifier.close)
                opened[name] = notifier
            elif name in _ENGINE_PORTS:
                from oar.service import Service

                if service is None:
                    service = await stack.enter_async_context(Service(settings, roles=()))
                opened[name] = _ENGINE_PORTS[name](service, settings)
            else:  # pragma: no cover - check_port_names refused it
                raise AssertionError(name)
        yield Ports(**opened)


def ports_opener(settings: Settings) -> PortsOpener:
    """:func:`open_ports` bound to ``settings``: what the service is given to run release
    commands itself (MCP calls, and gated ones in a worker)."""

    def opener(names: Sequence[str], db: Database | None) -> AbstractAsyncContextManager[Ports]:
        return open_ports(settings, names, db)

    return opener
