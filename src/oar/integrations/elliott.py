"""elliott (ART's release tool): the CVE tracker bugs a release should ship.

The port has one call, ``find-bugs --cve-only``: every CVE tracker bug eligible for an
assembly, per advisory kind (reference: oar-commands.md §7.1, §7.2, §7.4). The real
adapter, :class:`ElliottCli`, runs the installed ``elliott`` program as an argv (never a
shell) in an asyncio subprocess with a deadline, as the original did (advisory side with
``--build-system brew … --permissive``, shipment side with ``--build-system konflux``).

elliott reads Jira as ``JIRA_USERNAME``; some of its versions want ``JIRA_EMAIL`` too, so
when that is unset the child gets ``JIRA_EMAIL=JIRA_USERNAME`` (the original's OCPERT-389
workaround), in the environment handed to the child only. A missing program, a non-zero
exit (with the tail of its stderr, secrets masked), a timeout and output that is not the
JSON object elliott prints are each a clear :class:`~oar.errors.IntegrationError`. The
in-memory fake is :class:`oar.integrations.fakes.elliott.FakeElliott`; the sandbox ships
an ``elliott`` executable that prints its seed release's trackers.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import os
import shutil
import signal
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from oar.errors import (
    ConfigurationError,
    IntegrationError,
    IntegrationTimeoutError,
    IntegrationUnavailableError,
)
from oar.logs import SecretScrubber, get_logger, scrub

if TYPE_CHECKING:
    from oar.settings import Settings

log = get_logger(__name__)

SYSTEM = "elliott"
# ocp-build-data, where elliott reads the group's assemblies (the original's --data-path).
BUILD_DATA_REPO = "https://github.com/openshift-eng/ocp-build-data.git"
_STDERR_LINES = 20  # the tail of elliott's stderr an error carries


class BuildSystem(enum.StrEnum):
    """Where elliott looks for the builds: Brew (advisories) or Konflux (shipment data)."""

    BREW = "brew"
    KONFLUX = "konflux"


Trackers = dict[str, list[str]]  # advisory kind ("rpm", "image", …) -> Jira keys


class Elliott(Protocol):
    """What OAR needs from elliott."""

    async def find_cve_trackers(
        self, *, group: str, assembly: str, build_system: BuildSystem
    ) -> Trackers:
        """``find-bugs --cve-only``: the CVE trackers elliott finds for the assembly, per
        advisory kind (it already leaves out those attached to advisories or open
        shipment MRs)."""


def find_bugs_argv(
    executable: str, *, group: str, assembly: str, build_system: BuildSystem, data_path: str
) -> list[str]:
    """The original's command line (§7.1 advisory side, §7.2 shipment side)."""
    argv = [
        executable,
        "--data-path",
        data_path,
        "--group",
        group,
        "--assembly",
        assembly,
        "--build-system",
        str(build_system),
        "find-bugs",
        "--cve-only",
    ]
    if build_system is BuildSystem.BREW:
        return [*argv, "--output", "json", "--permissive"]
    return [*argv, "-o", "json"]


def parse_trackers(stdout: str | bytes) -> Trackers:
    """elliott's JSON (``{"rpm": ["OCPBUGS-1"], "image": []}``) -> kind -> sorted keys;
    anything else is an :class:`IntegrationError`."""
    try:
        raw = json.loads(stdout)
    except ValueError:
        raise IntegrationError(SYSTEM, "find-bugs printed no JSON (see its log)") from None
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(i, str) for i in v)
        for k, v in raw.items()
    ):
        raise IntegrationError(
            SYSTEM, "find-bugs printed JSON that is not {kind: [Jira keys]}: " + str(raw)[:200]
        )
    return {kind: sorted(set(keys)) for kind, keys in raw.items()}


def child_environment(
    environ: Mapping[str, str], *, jira_username: str, jira_email: str | None
) -> dict[str, str]:
    """The child's environment: the parent's, ``JIRA_USERNAME``, and ``JIRA_EMAIL`` (set to
    the username when unset: OCPERT-389)."""
    env = dict(environ)
    env["JIRA_USERNAME"] = jira_username
    env["JIRA_EMAIL"] = jira_email or env.get("JIRA_EMAIL") or jira_username
    return env


class ElliottCli:
    """The port on the installed ``elliott`` program."""

    def __init__(
        self,
        executable: str,
        *,
        jira_username: str,
        jira_email: str | None = None,
        environ: Mapping[str, str],
        timeout: float,
        data_path: str = BUILD_DATA_REPO,
        secrets: Iterable[str] = (),
    ) -> None:
        self.executable = executable
        self.timeout = timeout
        self.data_path = data_path
        self._env = child_environment(environ, jira_username=jira_username, jira_email=jira_email)
        self._scrubber = SecretScrubber(secrets)

    @classmethod
    def from_settings(cls, settings: Settings, *, environ: Mapping[str, str]) -> ElliottCli:
        """The adapter for these settings; ``environ`` is the environment the child starts
        from (the process's own, handed in by the composition)."""
        if not settings.jira_username:
            raise ConfigurationError(
                "elliott reads Jira as JIRA_USERNAME: set it (the Jira user of JIRA_TOKEN)",
                variables=["JIRA_USERNAME"],
            )
        return cls(
            settings.elliott_path,
            jira_username=settings.jira_username,
            jira_email=settings.jira_email,
            environ=environ,
            timeout=settings.elliott_timeout,
            secrets=settings.secret_values(),
        )

    def _program(self) -> str:
        found = shutil.which(self.executable)
        if found is None:
            raise IntegrationUnavailableError(
                SYSTEM,
                f"the elliott program {self.executable!r} is not installed or not on PATH:"
                " install ART's elliott (openshift-eng/art-tools) or set OAR_ELLIOTT_PATH",
            )
        return found

    async def find_cve_trackers(
        self, *, group: str, assembly: str, build_system: BuildSystem
    ) -> Trackers:
        argv = find_bugs_argv(
            self._program(),
            group=group,
            assembly=assembly,
            build_system=build_system,
            data_path=self.data_path,
        )
        log.info(
            "elliott.find_bugs", group=group, assembly=assembly, build_system=str(build_system)
        )
        stdout = await self._run(argv, what=f"find-bugs --cve-only ({build_system})")
        return parse_trackers(stdout)

    async def _run(self, argv: Sequence[str], *, what: str) -> bytes:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._env,
            start_new_session=True,  # its own group: a timeout kills whatever it started too
        )
        try:
            async with asyncio.timeout(self.timeout):
                stdout, stderr = await process.communicate()
        except (TimeoutError, asyncio.CancelledError) as exc:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await process.communicate()
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise IntegrationTimeoutError(
                SYSTEM, f"{what}: no answer in {self.timeout:g}s"
            ) from None
        if process.returncode != 0:
            lines = stderr.decode(errors="replace").strip().splitlines()[-_STDERR_LINES:]
            reason = self._scrubber.scrub(scrub("\n".join(lines))) or "no message"
            raise IntegrationError(SYSTEM, f"{what} exited {process.returncode}:\n{reason}")
        return stdout
