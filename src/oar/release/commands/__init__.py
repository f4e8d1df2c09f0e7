"""The release-command registry: what each checklist command is, without importing it.

A release command is one module in this package (its async body) and one
:class:`ReleaseCommand` entry in :data:`COMMANDS`: its name (a checklist task), a summary
and help, the ports it uses (its required credentials follow from them, see
:mod:`oar.release.ports`), the flows it supports, its options, and the body as a
``"module:function"`` string. The ``oar`` CLI, the Slack bot's ``help`` (through the click
group built from here), and later the dashboard and the MCP server read this registry;
listing it imports neither the bodies nor the engine, the database or any client library.

A body is ``async def body(ctx: ReleaseContext, **options) -> Outcome | None``; the
options arrive under their :attr:`Option.name`.
"""

from __future__ import annotations

import enum
import importlib
import keyword
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from oar.errors import InvalidArgumentError
from oar.release.checklist import TASKS, Flow

if TYPE_CHECKING:
    from oar.release.tracking import Outcome

CommandBody = Callable[..., Awaitable["Outcome | None"]]


class OptionType(enum.StrEnum):
    """What an option's value is; the CLI (click), Slack and MCP map it to their own."""

    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"
    CHOICE = "choice"
    EMAIL = "email"  # an e-mail address (check_email); the body checks it again


# The original's -e/--email rule (openshift/release-tests main, take-ownership).
EMAIL_PATTERN = re.compile(r"[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\.[a-zA-Z]{2,}")


def check_email(value: str, *, option: str = "-e/--email") -> str:
    """``value`` without surrounding blanks if it is an e-mail address (the original's
    pattern), else an :class:`InvalidArgumentError` naming ``option``."""
    text = value.strip()
    if not EMAIL_PATTERN.fullmatch(text):
        raise InvalidArgumentError(option, f"{value!r} is not a valid email")
    return text


@dataclass(frozen=True, kw_only=True)
class Option:
    """One option of a release command (``-e/--email``), independent of any CLI library."""

    name: str  # the body's keyword argument: "email"
    flags: tuple[str, ...]  # ("-e", "--email")
    help: str
    type: OptionType = OptionType.TEXT
    choices: tuple[str, ...] = ()
    required: bool = False
    multiple: bool = False
    flag: bool = False  # a switch: present → True
    default: str | int | float | bool | None = None
    metavar: str | None = None

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or keyword.iskeyword(self.name):
            raise InvalidArgumentError("option", f"{self.name!r} is not a Python identifier")
        if not self.flags or not all(f.startswith("-") for f in self.flags):
            raise InvalidArgumentError(
                "option", f"{self.name}: flags must be given and start with '-'"
            )
        if self.flag and (self.multiple or self.required or self.choices):
            raise InvalidArgumentError(
                "option", f"{self.name}: a switch cannot be required, multiple or a choice"
            )
        if (self.type is OptionType.CHOICE) != bool(self.choices):
            raise InvalidArgumentError(
                "option", f"{self.name}: choices go with type CHOICE, and only with it"
            )


@dataclass(frozen=True, kw_only=True)
class Conflict:
    """Option values that cannot go together (``--no-notify`` with ``--notify-managers``):
    a usage error with ``message``, before anything runs or is recorded."""

    values: Mapping[str, str | int | float | bool | None]  # option name -> its value
    message: str

    def matches(self, options: Mapping[str, Any]) -> bool:
        return all(options.get(name) == value for name, value in self.values.items())


@dataclass(frozen=True, kw_only=True)
class ReleaseCommand:
    """One checklist command: its metadata, and where its body is."""

    name: str  # the checklist task it records: "change-advisory-status"
    summary: str  # one line, for listings (`oar --help`, Slack's `help`)
    help: str  # the full help text
    body: str  # "oar.release.commands.approval:change_advisory_status"
    ports: tuple[str, ...] = ()  # used in every flow
    konflux_ports: tuple[str, ...] = ()  # used only in the Konflux flow (gitlab)
    errata_ports: tuple[str, ...] = ()  # used only in the errata flow
    flows: tuple[Flow, ...] = (Flow.ERRATA, Flow.KONFLUX)
    options: tuple[Option, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    # Whether it can change something outside OAR (then it proves its credentials first).
    irreversible: bool = True

    def __post_init__(self) -> None:
        if self.name not in TASKS:
            raise InvalidArgumentError(
                "command", f"{self.name!r} is not a checklist task (oar.release.checklist)"
            )
        if ":" not in self.body:
            raise InvalidArgumentError("command", f"{self.name}: body must be 'module:function'")
        if not self.flows:
            raise InvalidArgumentError("command", f"{self.name}: supports no flow")
        names = [o.name for o in self.options]
        if len(set(names)) != len(names):
            raise InvalidArgumentError("command", f"{self.name}: options repeat a name")
        for conflict in self.conflicts:
            unknown = set(conflict.values) - set(names)
            if unknown:
                raise InvalidArgumentError(
                    "command", f"{self.name}: a conflict names unknown options {sorted(unknown)}"
                )

    def check_options(self, options: Mapping[str, Any]) -> None:
        """Refuse option values that cannot go together (an InvalidArgumentError naming
        the options, with the conflict's message)."""
        for conflict in self.conflicts:
            if conflict.matches(options):
                flags = "/".join(o.flags[-1] for o in self.options if o.name in conflict.values)
                raise InvalidArgumentError(flags, conflict.message)

    def ports_for(self, flow: Flow) -> tuple[str, ...]:
        """The ports the command uses in ``flow``."""
        extra = self.konflux_ports if flow is Flow.KONFLUX else self.errata_ports
        return tuple(dict.fromkeys((*self.ports, *extra)))

    @property
    def all_ports(self) -> tuple[str, ...]:
        """Every port the command may use, whatever the flow."""
        return tuple(dict.fromkeys((*self.ports, *self.konflux_ports, *self.errata_ports)))

    def load_body(self) -> CommandBody:
        """Import the body (only when the command runs)."""
        module_name, _, function = self.body.partition(":")
        module = importlib.import_module(module_name)
        body: Any = getattr(module, function, None)
        if body is None or not callable(body):
            raise InvalidArgumentError(
                "command", f"{self.name}: {module_name} has no function {function!r}"
            )
        return body  # type: ignore[no-any-return]


def _ordered(commands: Iterable[ReleaseCommand]) -> tuple[ReleaseCommand, ...]:
    """The commands in checklist order; a name twice is an error."""
    result = sorted(commands, key=lambda c: TASKS.index(c.name))
    names = [c.name for c in result]
    if len(set(names)) != len(names):
        raise InvalidArgumentError("command", f"registered twice: {names}")
    return tuple(result)


# --- the registry -----------------------------------------------------------------------------
COMMANDS: tuple[ReleaseCommand, ...] = _ordered(
    [
        ReleaseCommand(
            name="create-test-report",
            summary="Create the release's report and announce it to the QE leads.",
            help=(
                "Create the release's report: record its advisories, candidate builds, Jira"
                " ticket, shipment MR, release date and flow from ocp-build-data, and"
                " announce it in the QE release channel to the y-stream's QE-lead group"
                " (with a link to the release when OAR_DASHBOARD_URL is set). With"
                " OAR_STATEBOX_EXPORT set, also write the release's StateBox file in that"
                " directory. Once it has passed, running it again changes nothing."
            ),
            body="oar.release.commands.report:create_test_report",
            ports=("notifier",),
        ),
        ReleaseCommand(
            name="change-advisory-status",
            summary="Approve the release: move QE advisories to REL_PREP, now or when live.",
            help=(
                "Approve the release: refuse when the RHCOS kernel is tagged"
                " early-kernel-stop-ship, add the QE approval on the shipment MR, then move"
                " the QE advisories to REL_PREP when the y-stream's payload metadata URL"
                " answers, at once or through a durable watch (every"
                " OAR_APPROVAL_WATCH_INTERVAL seconds, for up to OAR_APPROVAL_WATCH_DEADLINE"
                " seconds). Closes the QE Jira subtasks."
            ),
            body="oar.release.commands.approval:change_advisory_status",
            ports=("errata", "jira", "brew", "payloads", "notifier", "watches"),
            konflux_ports=("gitlab",),
        ),
        ReleaseCommand(
            name="take-ownership",
            summary="Make an engineer the QE owner of the release's advisories and QE tasks.",
            help=(
                "Take QE ownership of the release for -e/--email: set the QE owner of every"
                " advisory, comment 'QE Release Lead is @<user>' on the shipment MR (Konflux),"
                " report advisories still in NEW_FILES as a blocker of push-to-cdn-staging,"
                " assign the ART ticket's QE subtasks to the owner and start the [Wed-Fri] and"
                " [Mon-Wed] ones, and announce it in the QE release channel. Running it again"
                " changes only what is not done yet."
            ),
            body="oar.release.commands.ownership:take_ownership",
            ports=("errata", "jira", "notifier"),
            konflux_ports=("gitlab",),
            options=(
                Option(
                    name="email",
                    flags=("-e", "--email"),
                    help="The new QE owner's e-mail address.",
                    type=OptionType.EMAIL,
                    required=True,
                    metavar="EMAIL",
                ),
            ),
        ),
        ReleaseCommand(
            name="update-bug-list",
            summary="Record the release's bugs; ask QE in Slack to verify the ON_QA ones.",
            help=(
                "Collect the release's Jira bugs (the advisories' issues and, in the Konflux"
                " flow, the shipment MR's YAML files' issues), record them in the release"
                " state (new ones marked new, bugs no longer attached marked detached) and"
                " say what changed since the last run. Announce the ON_QA bugs in the QE"
                " forum channel, grouped per QA contact, each mentioned in Slack; with"
                " --notify-managers, ping the managers of the QA contacts of ON_QA CVE"
                " trackers instead. Pass when every attached bug is verified, else In"
                " Progress. Run it as often as wanted: each run updates, never duplicates."
            ),
            body="oar.release.commands.bugs:update_bug_list",
            ports=("errata", "jira", "notifier", "ldap"),
            konflux_ports=("gitlab",),
            irreversible=False,
            options=(
                Option(
                    name="notify",
                    flags=("--notify/--no-notify",),
                    help="Announce the ON_QA bugs in Slack (default: yes).",
                    flag=True,
                    default=True,
                ),
                Option(
                    name="notify_managers",
                    flags=("--notify-managers",),
                    help="Ping the managers of the QA contacts of unverified CVE trackers.",
                    flag=True,
                ),
            ),
            conflicts=(
                Conflict(
                    values={"notify": False, "notify_managers": True},
                    message="--no-notify cannot be used together with --notify-managers",
                ),
            ),
        ),
        ReleaseCommand(
            name="drop-bugs",
            summary="Drop unverified bugs; high-severity ones only when their owner approves.",
            help=(
                "Drop the release's unverified bugs (not Verified, Closed or Release Pending)"
                " from its advisories and, in the Konflux flow, from the shipment data through"
                " one '<release> drop bugs' merge request. Critical/Blocker and customer-case"
                " bugs are never dropped silently: each bug's owner (QA contact, else"
                " assignee) gets a durable approval in Slack, and the bug is dropped only when"
                " approved (kept when rejected or when nobody decides in time). CVE trackers"
                " are kept. Running it again asks nobody twice. --dry-run changes nothing and"
                " prints what would happen."
            ),
            body="oar.release.commands.drop:drop_bugs_command",
            ports=("errata", "jira", "notifier", "drops"),
            konflux_ports=("gitlab",),
            options=(
                Option(
                    name="dry_run",
                    flags=("--dry-run",),
                    help="Change nothing anywhere; print exactly what would happen.",
                    flag=True,
                ),
                Option(
                    name="approval_timeout",
                    flags=("--approval-timeout",),
                    help="How long each owner has to decide, in seconds (then the bug is kept).",
                    type=OptionType.NUMBER,
                    default=172800.0,
                    metavar="SECONDS",
                ),
            ),
        ),
    ]
)

_BY_NAME = {c.name: c for c in COMMANDS}


def command(name: str) -> ReleaseCommand:
    """The registered command called ``name``."""
    found = _BY_NAME.get(name)
    if found is None:
        raise InvalidArgumentError(
            "command", f"no release command {name!r}; known: {', '.join(_BY_NAME)}"
        )
    return found


def names() -> tuple[str, ...]:
    """The registered commands' names, in checklist order."""
    return tuple(_BY_NAME)
