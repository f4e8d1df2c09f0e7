"""Every stand-in of the sandbox, started together: ``oarctl sandbox`` and the tests.

To add a stand-in, add one :class:`Entry` to :data:`STAND_INS` (a name, a factory, a port
offset). A stand-in is anything with a ``name``, ``serving(port)`` (an async context
manager yielding its base URL), ``environment(base_url)`` and ``reset()``;
:class:`~oar.sandbox.server.StandIn` subclasses have all four.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import httpx

from oar.errors import ConfigurationError
from oar.sandbox.brew import BrewStandIn
from oar.sandbox.builddata import BuildDataStandIn
from oar.sandbox.elliott import ElliottStandIn
from oar.sandbox.errata import ErrataStandIn
from oar.sandbox.gcs import GcsStandIn
from oar.sandbox.github import GitHubStandIn
from oar.sandbox.gitlab import GitLabStandIn
from oar.sandbox.jenkins import JenkinsStandIn
from oar.sandbox.jira import JiraStandIn
from oar.sandbox.ldap import LdapStandIn
from oar.sandbox.llm import LLMStandIn
from oar.sandbox.prow import ProwStandIn
from oar.sandbox.pyxis import PyxisStandIn
from oar.sandbox.releasecontroller import ReleaseControllerStandIn
from oar.sandbox.releasepayloads import ReleasePayloadStandIn
from oar.sandbox.signatures import SignatureStandIn
from oar.sandbox.slack import SlackStandIn

DEFAULT_BASE_PORT = 8900
STATE_FILE = "sandbox.json"


class SandboxServer(Protocol):
    name: str

    def serving(self, port: int = 0) -> AbstractAsyncContextManager[str]: ...

    def environment(self, base_url: str) -> dict[str, str]: ...

    def reset(self) -> None: ...


@dataclass(frozen=True, kw_only=True)
class Entry:
    name: str
    factory: Callable[[], SandboxServer]
    offset: int  # its port is the base port plus this


STAND_INS: tuple[Entry, ...] = (
    Entry(name="github", factory=GitHubStandIn, offset=0),
    Entry(name="release-controller", factory=ReleaseControllerStandIn, offset=1),
    Entry(name="prow", factory=ProwStandIn, offset=2),
    Entry(name="gcs", factory=GcsStandIn, offset=3),
    Entry(name="errata", factory=ErrataStandIn, offset=4),
    Entry(name="jira", factory=JiraStandIn, offset=5),
    Entry(name="gitlab", factory=GitLabStandIn, offset=6),
    Entry(name="jenkins", factory=JenkinsStandIn, offset=7),
    Entry(name="ldap", factory=LdapStandIn, offset=8),
    Entry(name="slack", factory=SlackStandIn, offset=10),
    Entry(name="llm", factory=LLMStandIn, offset=11),
    Entry(name="build-data", factory=BuildDataStandIn, offset=12),
    Entry(name="brew", factory=BrewStandIn, offset=13),
    # A program, not a server: its "URL" is its launcher's file:// URL (no port used).
    Entry(name="elliott", factory=ElliottStandIn, offset=14),
    Entry(name="signatures", factory=SignatureStandIn, offset=15),
    Entry(name="pyxis", factory=PyxisStandIn, offset=16),
    Entry(name="releasepayloads", factory=ReleasePayloadStandIn, offset=17),
)


class Sandbox:
    """Serve every stand-in on 127.0.0.1: ports ``base_port + offset``, or any free port
    each when ``base_port`` is 0 (tests)."""

    def __init__(
        self, *, base_port: int = DEFAULT_BASE_PORT, entries: Sequence[Entry] = STAND_INS
    ) -> None:
        if not 0 <= base_port <= 65535 - max((e.offset for e in entries), default=0):
            raise ConfigurationError(f"--base-port {base_port} leaves no room for every stand-in")
        names = [e.name for e in entries]
        if len(set(names)) != len(names):
            raise ConfigurationError(f"stand-in names repeat: {names}")
        self.base_port = base_port
        self.entries = tuple(entries)
        self.servers: dict[str, SandboxServer] = {}
        self._urls: dict[str, str] = {}
        self._stack: contextlib.AsyncExitStack | None = None

    async def __aenter__(self) -> Sandbox:
        if self._stack is not None:
            raise RuntimeError("the sandbox is already running")
        stack = contextlib.AsyncExitStack()
        try:
            for entry in self.entries:
                server = entry.factory()
                port = self.base_port + entry.offset if self.base_port else 0
                try:
                    url = await stack.enter_async_context(server.serving(port))
                except OSError as exc:
                    if exc.errno != errno.EADDRINUSE:
                        raise
                    raise ConfigurationError(
                        f"port {port} (the {entry.name} stand-in, --base-port {self.base_port}"
                        f" + {entry.offset}) is in use: choose another --base-port, or"
                        " --base-port 0 for any free ports"
                    ) from None
                self.servers[entry.name] = server
                self._urls[entry.name] = url
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
        self._urls = {}
        if stack is not None:
            await stack.aclose()

    @property
    def urls(self) -> dict[str, str]:
        """Stand-in name → base URL."""
        if self._stack is None:
            raise RuntimeError("the sandbox is not running")
        return dict(self._urls)

    def environment(self) -> dict[str, str]:
        """The variables that point OAR at every stand-in."""
        merged: dict[str, str] = {}
        for name, url in self.urls.items():
            merged.update(self.servers[name].environment(url))
        return merged

    def reset(self) -> None:
        for server in self.servers.values():
            server.reset()

    def snapshot(self) -> dict[str, Any]:
        """Every stand-in's state (``snapshot()``), by name: equal snapshots before and after
        prove that nothing changed anywhere."""
        snapshots: dict[str, Any] = {}
        for name, server in self.servers.items():
            snapshot = getattr(server, "snapshot", None)
            if callable(snapshot):
                snapshots[name] = snapshot()
        return snapshots


def save_state(path: Path, urls: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"pid": os.getpid(), "stand_ins": urls}, indent=2) + "\n")
    temporary.replace(path)


def load_state(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigurationError(
            f"no running sandbox: {path} does not exist (start one with `oarctl sandbox`)",
            variables=["OAR_DATA_DIR"],
        ) from None
    except ValueError:
        raise ConfigurationError(f"{path} is not a sandbox state file") from None
    if not isinstance(state, dict) or not isinstance(state.get("stand_ins"), dict):
        raise ConfigurationError(f"{path} is not a sandbox state file")
    return state


async def reset_running(urls: dict[str, str], *, timeout: float = 10.0) -> dict[str, str]:
    """Ask each stand-in of a running sandbox to restore its seed; name → outcome."""
    outcomes: dict[str, str] = {}
    async with httpx.AsyncClient(timeout=timeout) as client:
        for name, url in urls.items():
            if url.startswith("file://"):
                outcomes[name] = "skipped: a program with no state"
                continue
            if not url.startswith(("http://", "https://")):
                outcomes[name] = "skipped: no HTTP control API (restart the sandbox)"
                continue
            try:
                response = await client.post(f"{url}/_sandbox/reset")
            except httpx.HTTPError as exc:
                outcomes[name] = f"failed: {type(exc).__name__} at {url}"
                continue
            outcomes[name] = (
                "reset" if response.is_success else f"failed: HTTP {response.status_code}"
            )
    return outcomes
