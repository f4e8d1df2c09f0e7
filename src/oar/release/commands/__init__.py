"""The release-command registry: what each checklist command is, without importing it.

A release command is one module in this package (its async body) and one
:class:`ReleaseCommand` entry in :data:`COMMANDS`: its name (a checklist task, unless it
declares ``records_task=False``: a check that is not a step of the checklist, such as
``check-blocking-sec-alerts``, runs the same way but records no task status), a summary
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
import shlex
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from oar.errors import ConfigurationError, InvalidArgumentError
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
    # Whether its runs record the checklist task called ``name``. A command that is not a
    # step of the checklist (a check run at any time) says False: its runs are captured,
    # checked and given their ports the same way, but no task status is written.
    records_task: bool = True
    # The switch (an option's name) that makes a run a dry run: it changes nothing outside
    # OAR, so it records no task status either (a dry run must not turn a task In Progress).
    dry_run: str | None = None

    def __post_init__(self) -> None:
        if self.records_task and self.name not in TASKS:
            raise InvalidArgumentError(
                "command",
                f"{self.name!r} is not a checklist task (oar.release.checklist); a command"
                " that is not one declares records_task=False",
            )
        if not self.records_task and self.name in TASKS:
            raise InvalidArgumentError(
                "command", f"{self.name!r} is a checklist task: its runs must record it"
            )
        if ":" not in self.body:
            raise InvalidArgumentError("command", f"{self.name}: body must be 'module:function'")
        if not self.flows:
            raise InvalidArgumentError("command", f"{self.name}: supports no flow")
        names = [o.name for o in self.options]
        if len(set(names)) != len(names):
            raise InvalidArgumentError("command", f"{self.name}: options repeat a name")
        switches = {o.name for o in self.options if o.flag}
        if self.dry_run is not None and self.dry_run not in switches:
            raise InvalidArgumentError(
                "command",
                f"{self.name}: dry_run must name one of its switches, not {self.dry_run!r}",
            )
        for conflict in self.conflicts:
            unknown = set(conflict.values) - set(names)
            if unknown:
                raise InvalidArgumentError(
                    "command", f"{self.name}: a conflict names unknown options {sorted(unknown)}"
                )

    def records_run(self, options: Mapping[str, Any]) -> bool:
        """Whether a run with ``options`` records the checklist task: not for a command
        outside the checklist, nor for a dry run."""
        return self.records_task and not (self.dry_run and options.get(self.dry_run))

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
    """The checklist commands in checklist order, then the others as given; a name twice
    is an error."""
    given = list(commands)
    result = sorted((c for c in given if c.records_task), key=lambda c: TASKS.index(c.name))
    result += [c for c in given if not c.records_task]
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
            name="image-consistency-check",
            summary="Run the Prow image consistency job, then check the images' health.",
            help=(
                "Trigger the Prow job periodic-ci-openshift-release-tests-main-image-"
                "consistency-check through Gangway with the release payload and the shipment"
                " MR, and follow it in the background (every OAR_IMAGE_CONSISTENCY_INTERVAL"
                " seconds, for up to OAR_IMAGE_CONSISTENCY_DEADLINE seconds). When it"
                " succeeds, grade every shipment image's freshness in Pyxis, comment the"
                " health summary on the shipment MR, and record Pass (all images A or B) or"
                " Fail with the grades. Returns at once; running it again while the job runs"
                " joins it. -i/--job-id follows a given job instead of triggering one."
            ),
            body="oar.release.commands.images:image_consistency_check",
            ports=("prow", "gitlab", "follows", "notifier"),
            flows=(Flow.KONFLUX,),
            options=(
                Option(
                    name="job_id",
                    flags=("-i", "--job-id"),
                    help="Follow this Prow job instead of triggering one.",
                    metavar="JOB_ID",
                ),
            ),
        ),
        ReleaseCommand(
            name="stage-testing",
            summary="Run the Jenkins stage pipeline once the stage release succeeded.",
            help=(
                "Wait for the precondition (Konflux: the shipment MR's stage release"
                " pipeline succeeded; errata: push-to-cdn-staging passed), then trigger"
                " zstreams/Stage-Pipeline with VERSION, PULL_SPEC and METADATA_AD (unless a"
                " build for this payload is already queued or running) and follow the build"
                " to SUCCESS (Pass) or FAILURE / ABORTED (Fail), in the background (every"
                " OAR_STAGE_TESTING_INTERVAL seconds, for up to OAR_STAGE_TESTING_DEADLINE"
                " seconds). Returns at once; running it again joins it. -n/--build_number"
                " follows a given build instead."
            ),
            body="oar.release.commands.staging:stage_testing",
            ports=("jenkins", "follows", "notifier"),
            konflux_ports=("gitlab",),
            options=(
                Option(
                    name="build_number",
                    flags=("-n", "--build_number"),
                    help="Follow this build of zstreams/Stage-Pipeline instead of triggering.",
                    type=OptionType.INTEGER,
                    metavar="BUILD",
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
            name="check-greenwave-cvp-tests",
            summary="Check the advisories' Greenwave CVP tests; refetch the failed ones.",
            help=(
                "Read every advisory's active Greenwave CVP test runs from Errata Tool and"
                " print them as a table. PASSED and WAIVED pass; any other status fails the"
                " task, naming the test, NVR and advisory; each failed test gets a refetch"
                " requested, the failures become one blocker issue of the release and the QE"
                " release channel is told once. Running it again adds no issue or message."
            ),
            body="oar.release.commands.greenwave:check_greenwave_cvp_tests",
            ports=("errata", "notifier"),
        ),
        ReleaseCommand(
            name="check-cve-tracker-bug",
            summary="Find CVE tracker bugs missing from the release (elliott); tell ART.",
            help=(
                "Run elliott find-bugs --cve-only for the release's assembly (Brew, and"
                " Konflux in the Konflux flow) and report every CVE tracker, of any advisory"
                " kind but microshift, attached neither to an RHSA advisory of the release"
                " nor (Konflux) to its shipment data. Missing trackers fail the task and open"
                " one blocker issue of the release; with --notify (the default) ART is told"
                " once. Running it again reports the same issue."
            ),
            body="oar.release.commands.cve:check_cve_tracker_bug",
            ports=("errata", "elliott", "notifier"),
            konflux_ports=("gitlab",),
            irreversible=False,
            options=(
                Option(
                    name="notify",
                    flags=("--notify/--no-notify",),
                    help="Tell ART in Slack about newly found trackers.",
                    flag=True,
                    default=True,
                ),
            ),
        ),
        ReleaseCommand(
            name="check-blocking-sec-alerts",
            summary="Check the RHSA advisories for blocking security alerts (not a task).",
            help=(
                "Refresh and read the security alerts of the release's RHSA advisories (the"
                " rule change-advisory-status refuses on). Blocking alerts fail the check"
                " (exit 1) and open one blocker issue of change-advisory-status; running it"
                " again adds nothing. --check-only reports without opening the issue. Not a"
                " checklist task: no task status is recorded."
            ),
            body="oar.release.commands.secalerts:check_blocking_sec_alerts",
            ports=("errata",),
            irreversible=False,
            records_task=False,
            options=(
                Option(
                    name="check_only",
                    flags=("--check-only",),
                    help="Only report: do not open a blocker issue on the release.",
                    flag=True,
                    default=False,
                ),
            ),
        ),
        ReleaseCommand(
            name="is-shipped",
            summary="Say whether the release has shipped, item by item (not a task).",
            help=(
                "Say whether the release has shipped. Errata flow: every advisory (dropped"
                " ones aside) is at REL_PREP or later. Konflux flow: the shipment MR is"
                " merged, or its prod release succeeded and the rpm and rhcos advisories"
                " are at REL_PREP or later. Prints the verdict and one line per item and"
                " exits 0 either way; a system that cannot be read is an error. The"
                " verdict is kept for the release page's Shipment badge. Not a checklist"
                " task: no task status is recorded."
            ),
            body="oar.release.commands.shipped:is_shipped",
            ports=("errata",),
            konflux_ports=("gitlab",),
            irreversible=False,
            records_task=False,
        ),
        ReleaseCommand(
            name="push-to-cdn-staging",
            summary="Push the release's advisories to CDN stage and follow the push jobs.",
            help=(
                "Push every advisory of the release (microshift and dropped ones aside) to"
                " CDN stage, each after the advisories blocking it; pushes already complete"
                " are not pushed again, failed ones are. Returns at once: a durable follow"
                " checks the push jobs every OAR_CDN_PUSH_INTERVAL seconds, pushes an"
                " advisory as soon as its blockers complete, and records Pass when every"
                " push job is complete, or Fail with the failed job's log link (or at"
                " OAR_CDN_PUSH_DEADLINE). The QE release channel gets the jobs' links and"
                " the outcome; running it again while the follow runs joins it."
            ),
            body="oar.release.commands.cdnpush:push_to_cdn_staging",
            ports=("errata", "notifier", "follows"),
        ),
        ReleaseCommand(
            name="image-signed-check",
            summary="Check that the stable payload is signed; follow until it is.",
            help=(
                "Read the stable payload's digest from the release controller and look for"
                " its signature on the signature server (OAR_SIGNATURE_URL). Signed: Pass."
                " Otherwise a durable follow looks again every OAR_SIGNATURE_CHECK_INTERVAL"
                " seconds (for the build and digest too, while the release is not"
                " promoted yet) and records Pass when the signature is published, or Fail"
                " at OAR_SIGNATURE_CHECK_DEADLINE. The QE release channel gets the"
                " outcome; running it again while the follow runs joins it."
            ),
            body="oar.release.commands.signed:image_signed_check",
            ports=("releases", "signatures", "notifier", "follows"),
            irreversible=False,
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
            dry_run="dry_run",
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


def gated_commands(
    configured: Sequence[str] | None, operations: Mapping[str, bool] | None = None
) -> frozenset[str]:
    """The commands (and agent ``operations``: name → irreversible, as the MCP
    server lists them) an MCP call runs only after a person approves: the
    configured ones (``OAR_MCP_GATED``), else every irreversible one. An unknown name is
    an error."""
    operations = operations or {}
    known = {c.name for c in COMMANDS} | set(operations)
    if configured is None:
        return frozenset(c.name for c in COMMANDS if c.irreversible) | {
            name for name, irreversible in operations.items() if irreversible
        }
    unknown = sorted(set(configured) - known)
    if unknown:
        raise ConfigurationError(
            f"OAR_MCP_GATED names unknown command(s) {', '.join(unknown)}; known:"
            f" {', '.join(sorted(known))}",
            variables=["OAR_MCP_GATED"],
        )
    return frozenset(configured)


def command_line(command: ReleaseCommand, release: str, options: Mapping[str, Any]) -> str:
    """The ``oar`` command line a call stands for (what a person approves). Pure."""
    words = ["oar", "-r", release, command.name]
    for option in command.options:
        value = options.get(option.name)
        flags = option.flags[-1].split("/")
        if option.flag:
            if value == option.default or (value is False and option.default is None):
                continue
            words.append(flags[0] if value else flags[-1])
            continue
        if value is None or value in (option.default, []):
            continue
        for item in value if isinstance(value, list) else [value]:
            words += [flags[0], shlex.quote(str(item))]
    return " ".join(words)
