"""The ports bundle: every external system a release command talks to, injected once.

A :class:`Ports` holds one narrow Protocol-typed port per system (Errata Tool, Jira,
GitLab, Brew, the payload inspector, Slack's notifier, LDAP, GitHub files, build data,
elliott, the release controller, the signature server, Prow, Jenkins, Pyxis) and the
durable engine's approval watches, follows and bug-drop approvals. The outer layer opens
the real adapters once per process (:func:`oar.adapters.open_ports`) and hands the bundle
to the command; unit tests build one of fakes (:func:`oar.testing.release.fake_ports`). A
port a command did not ask for is not opened: using it is a
:class:`~oar.errors.PortNotOpenError`, never a silent build from the settings.

:data:`PORTS` says, per port, the credential variables its adapter cannot work without
(each adapter's module constant ``CREDENTIAL``, declared once there): a command's required
credentials are the union over the ports it uses (:func:`credentials_for`), all missing
ones reported together. Before an irreversible step :func:`access_checks` gives one cheap
authenticated read per credentialed port, on the release's own objects (an advisory, the
Jira ticket, the shipment MR), for :func:`~oar.release.credentials.prove_credentials`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Protocol, cast

from oar.errors import InvalidArgumentError, PortNotOpenError
from oar.integrations.errata import CREDENTIAL as ERRATA_CREDENTIAL
from oar.integrations.gitlab import CREDENTIAL as GITLAB_CREDENTIAL
from oar.integrations.gitlab import merge_request_ref
from oar.integrations.jenkins import CREDENTIAL as JENKINS_CREDENTIAL
from oar.integrations.jenkins import STAGE_PIPELINE
from oar.integrations.jira import CREDENTIAL as JIRA_CREDENTIAL
from oar.integrations.prow import CREDENTIAL as PROW_CREDENTIAL
from oar.release.approval import WatchStore
from oar.release.credentials import AccessCheck

# oar.integrations.github.CREDENTIAL, not imported: that module loads githubkit, which
# a command without GitHub must not pay for (a unit test holds the two equal).
GITHUB_CREDENTIAL = "GITHUB_TOKEN"

if TYPE_CHECKING:
    from oar.integrations.brew import Brew
    from oar.integrations.builddata import BuildData
    from oar.integrations.elliott import Elliott
    from oar.integrations.errata import Errata
    from oar.integrations.github import RepositoryFiles
    from oar.integrations.gitlab import GitLab
    from oar.integrations.jenkins import Jenkins
    from oar.integrations.jira import Jira
    from oar.integrations.ldap import Directory
    from oar.integrations.payloads import PayloadInspector
    from oar.integrations.prow import ProwJobs
    from oar.integrations.pyxis import Pyxis
    from oar.integrations.releasecontroller import ReleaseStreams
    from oar.integrations.signatures import Signatures
    from oar.integrations.slack import Notifier
    from oar.release.dropapprovals import DropRequest, WaitingDrop
    from oar.release.follows import FollowInfo, FollowRequest


class BugDrops(Protocol):
    """Durable drop approvals (:class:`oar.release.dropapprovals.Drops` on the engine), and the
    worker that must be alive to act on the decisions."""

    async def recorded(self, release: str) -> dict[str, WaitingDrop]:
        """The release's drop approvals by bug key (the latest of each): waiting, or
        decided."""

    async def request(self, request: DropRequest) -> WaitingDrop:
        """Ask the bug's owner; a drop already waiting for the bug is returned as it is."""

    async def keep_alive(self, follow_id: str) -> str | None:
        """Make sure a worker acts on the decision; says what was started, if anything."""


class ApprovalWatches(WatchStore, Protocol):
    """The watch store a command starts or joins watches in, and the worker that must be
    alive to run them."""

    async def keep_alive(self, watch_id: str) -> str | None:
        """Make sure a worker runs the watch (starting a detached one when none is alive);
        says what was started, None when nothing was needed."""


class ReleaseFollows(Protocol):
    """Where a command starts (or joins) a durable follow, and the worker that must be
    alive to run it (:class:`oar.release.follows.Follows` on the engine)."""

    async def running(self, key: str) -> FollowInfo | None:
        """The follow running for ``key``, if one is."""

    async def start(self, request: FollowRequest) -> tuple[FollowInfo, bool]:
        """Start a follow for the request's key; ``(the running one, False)`` joins it."""

    async def keep_alive(self, follow_id: str) -> str | None:
        """Make sure a worker runs the follow; says what was started, None if nothing."""


@dataclass(frozen=True, kw_only=True)
class PortSpec:
    """One port: what system it reaches and the credentials its adapter needs."""

    name: str
    system: str
    # Variables without which the adapter cannot work (missing → refused before any work).
    # Anonymous systems (Brew, LDAP, build data, the release controller) need none, and
    # Slack notifications are best effort (a failure is recorded, never raised).
    credentials: tuple[str, ...] = ()


PORTS: Mapping[str, PortSpec] = {
    spec.name: spec
    for spec in (
        PortSpec(name="errata", system="Errata Tool", credentials=(ERRATA_CREDENTIAL,)),
        PortSpec(name="jira", system="Jira", credentials=(JIRA_CREDENTIAL,)),
        PortSpec(name="gitlab", system="GitLab", credentials=(GITLAB_CREDENTIAL,)),
        PortSpec(name="github", system="GitHub", credentials=(GITHUB_CREDENTIAL,)),
        PortSpec(name="brew", system="Brew"),
        PortSpec(name="builddata", system="ocp-build-data"),
        PortSpec(name="payloads", system="the release controller (payload metadata)"),
        PortSpec(name="notifier", system="Slack"),
        PortSpec(name="ldap", system="LDAP"),
        # elliott reads Jira as JIRA_USERNAME (its own Jira token comes from the environment).
        PortSpec(name="elliott", system="elliott", credentials=("JIRA_USERNAME",)),
        PortSpec(name="watches", system="the durable engine (approval watches)"),
        PortSpec(name="prow", system="Prow (Gangway)", credentials=(PROW_CREDENTIAL,)),
        PortSpec(
            name="jenkins", system="Jenkins", credentials=("JENKINS_USER", JENKINS_CREDENTIAL)
        ),
        PortSpec(name="pyxis", system="Pyxis (container catalog)"),
        PortSpec(name="follows", system="the durable engine (follows)"),
        PortSpec(name="releases", system="the release controller (release streams)"),
        PortSpec(name="signatures", system="the signature server (payload signatures)"),
        PortSpec(name="drops", system="the durable engine (bug-drop approvals)"),
    )
}


def check_port_names(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` as a tuple, each one a port of :data:`PORTS` (else a clear error)."""
    result = tuple(names)
    unknown = [n for n in result if n not in PORTS]
    if unknown:
        raise InvalidArgumentError(
            "ports", f"unknown port(s) {', '.join(unknown)}; known: {', '.join(PORTS)}"
        )
    return result


def credentials_for(names: Iterable[str]) -> tuple[str, ...]:
    """The credential variables the ports ``names`` need, each once, in port order."""
    variables: list[str] = []
    for name in check_port_names(names):
        variables.extend(PORTS[name].credentials)
    return tuple(dict.fromkeys(variables))


class _Unopened:
    """Stands for a port the command did not ask for: any use says so."""

    def __init__(self, port: str) -> None:
        self._port = port

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        raise PortNotOpenError(self._port, attribute)

    def __repr__(self) -> str:
        return f"<port {self._port} not opened>"


def _absent(port: str) -> Callable[[], Any]:
    """The default factory of a port field: a stand-in that refuses any use."""
    return lambda: _Unopened(port)


@dataclass(frozen=True, kw_only=True)
class Ports:
    """The ports of one process, each typed by its narrow Protocol."""

    errata: Errata = field(default_factory=_absent("errata"))
    jira: Jira = field(default_factory=_absent("jira"))
    gitlab: GitLab = field(default_factory=_absent("gitlab"))
    github: RepositoryFiles = field(default_factory=_absent("github"))
    brew: Brew = field(default_factory=_absent("brew"))
    builddata: BuildData = field(default_factory=_absent("builddata"))
    payloads: PayloadInspector = field(default_factory=_absent("payloads"))
    notifier: Notifier = field(default_factory=_absent("notifier"))
    ldap: Directory = field(default_factory=_absent("ldap"))
    elliott: Elliott = field(default_factory=_absent("elliott"))
    watches: ApprovalWatches = field(default_factory=_absent("watches"))
    prow: ProwJobs = field(default_factory=_absent("prow"))
    jenkins: Jenkins = field(default_factory=_absent("jenkins"))
    pyxis: Pyxis = field(default_factory=_absent("pyxis"))
    follows: ReleaseFollows = field(default_factory=_absent("follows"))
    releases: ReleaseStreams = field(default_factory=_absent("releases"))
    signatures: Signatures = field(default_factory=_absent("signatures"))
    drops: BugDrops = field(default_factory=_absent("drops"))

    def __post_init__(self) -> None:
        names = {f.name for f in fields(self)}
        assert names == set(PORTS), f"Ports and PORTS disagree: {names ^ set(PORTS)}"

    def opened(self) -> tuple[str, ...]:
        """The names of the ports that are there (not stand-ins for unopened ones)."""
        return tuple(f.name for f in fields(self) if not isinstance(self.port(f.name), _Unopened))

    def port(self, name: str) -> object:
        """The port called ``name``."""
        check_port_names([name])
        return cast(object, getattr(self, name))


@dataclass(frozen=True, kw_only=True)
class Targets:
    """The release's own objects the access checks read: an advisory, the ticket, the MR."""

    advisories: Mapping[str, int] = field(default_factory=dict)
    ticket: str | None = None
    shipment_mr: str | None = None


def access_checks(ports: Ports, names: Iterable[str], targets: Targets) -> list[AccessCheck]:
    """One cheap authenticated read per credentialed port among ``names``, on the release's
    own objects: Errata Tool reads the first advisory, Jira the ticket, GitLab the
    shipment MR. A port with nothing to read for this release is left out (it will not
    be used to change anything either)."""
    checks: list[AccessCheck] = []
    for name in dict.fromkeys(check_port_names(names)):
        if name == "errata" and targets.advisories:
            impetus, advisory_id = sorted(targets.advisories.items())[0]
            checks.append(
                AccessCheck(
                    variable=ERRATA_CREDENTIAL,
                    what=f"read advisory {advisory_id} ({impetus})",
                    call=functools.partial(ports.errata.get_advisory, advisory_id),
                )
            )
        elif name == "gitlab" and targets.shipment_mr:
            project, iid = merge_request_ref(targets.shipment_mr)
            checks.append(
                AccessCheck(
                    variable=GITLAB_CREDENTIAL,
                    what=f"read shipment MR !{iid}",
                    call=functools.partial(ports.gitlab.get_merge_request, project, iid),
                )
            )
        elif name == "jenkins":
            checks.append(
                AccessCheck(
                    variable=JENKINS_CREDENTIAL,
                    what=f"read the queue of {STAGE_PIPELINE}",
                    call=functools.partial(ports.jenkins.queued, STAGE_PIPELINE),
                )
            )
        elif name == "jira" and targets.ticket:
            checks.append(
                AccessCheck(
                    variable=JIRA_CREDENTIAL,
                    what=f"read {targets.ticket}",
                    call=functools.partial(ports.jira.get_issue, targets.ticket),
                )
            )
    return checks
