"""The one exception hierarchy of OAR.

Every error a user can meet is an ``OarError``. Each subclass's docstring is its default
message and its data travels as attributes, so callers (CLI, HTTP, Slack) can render it
without parsing strings. Third-party exceptions never cross an adapter: they are raised
``from`` the original into one of these.

    OarError
    ├── ConfigurationError          bad or missing settings (names the variables)
    │   └── CredentialsRefusedError a needed credential was refused before any change
    ├── DatabaseError
    │   └── DatabaseUnavailableError  the database cannot be reached (URL, password masked)
    ├── EngineError                 the durable engine refused an operation
    │   └── EngineNotRunningError   the operation needs a launched executor
    ├── IntegrationError            an external system failed (names the system)
    │   ├── IntegrationAuthError    it refused our credentials (names the variable)
    │   ├── IntegrationNotFoundError  it has no such thing (404)
    │   ├── IntegrationConflictError  it changed since we read it (optimistic lock lost)
    │   ├── IntegrationTimeoutError   it did not answer in time
    │   └── IntegrationUnavailableError  unreachable, or failing after bounded retries
    ├── WebhookError                a webhook delivery was refused (carries the HTTP status)
    │   ├── WebhookSignatureError   missing or wrong signature (401)
    │   ├── WebhookRequestError     not a GitHub delivery: no event header, bad JSON (400)
    │   └── WebhookTooLargeError    body over GitHub's 25 MB limit (413)
    ├── ApprovalError
    │   ├── ApprovalNotFoundError   no approval with that ID
    │   ├── ApprovalTimeoutError    the wait ended before anyone decided
    │   ├── ApprovalExpiredError    the approval had already expired or was cancelled
    │   └── InvalidResolutionError  a resolution outside approved / rejected / modified
    ├── TaskError
    │   ├── UnknownTaskError        no handler registered under that name
    │   ├── TaskPayloadError        payload or result is not a JSON value
    │   ├── TaskKeyError            an idempotency key that cannot be a task ID
    │   ├── TaskNotFoundError       no task with that ID
    │   ├── TaskStateError          the task is not in a state that allows the operation
    │   └── PermanentTaskError      raised by a handler: fail now, do not retry
    ├── ReleaseError                the release model refused an operation (names the release)
    │   ├── InvalidVersionError     not a z-stream release such as 4.19.3 or 4.19.0-rc.1 (400)
    │   ├── ReleaseNotFoundError    the release is not tracked yet (404)
    │   ├── BuildDataNotReadyError  ocp-build-data has no assembly for the release yet
    │   ├── ReleaseTaskError        a task name or status outside the checklist
    │   ├── ReleaseIssueNotFoundError  no issue with that ID for the release
    │   ├── ApprovalRefusedError    change-advisory-status refused to approve the release
    │   ├── FollowNotFoundError     no follow (e.g. release-approval watch) with that ID
    │   ├── ShipmentDataError       a shipment YAML file cannot be read (names the file)
    │   │   └── ShipmentEditError   a shipment file cannot be edited exactly (names it)
    │   └── CommandPartlyDoneError  a command failed after changing something (says what)
    ├── AgentError                  a background agent (detector, checker) could not work
    │   └── AgentDataError          a file an agent reads is not what it expects (names it)
    ├── InvalidArgumentError        an argument OAR cannot use (names the argument)
    └── PortNotOpenError            a command used a port it did not declare (names both)
"""

from __future__ import annotations

from collections.abc import Sequence


class OarError(Exception):
    """OAR failed."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (type(self).__doc__ or "OAR failed.").strip()
        super().__init__(self.message)


class ConfigurationError(OarError):
    """The configuration is invalid."""

    def __init__(self, message: str | None = None, *, variables: Sequence[str] = ()) -> None:
        self.variables = tuple(variables)
        super().__init__(message)


class ReleaseNotConfiguredError(ConfigurationError):
    """The release has no configuration (no y-stream or assembly in the build data)."""

    def __init__(self, release: str, reason: str) -> None:
        self.release = release
        self.reason = reason
        super().__init__(f"{reason}; nothing was recorded for release {release}")


class DatabaseError(OarError):
    """The database operation failed."""


class DatabaseUnavailableError(DatabaseError):
    """The database cannot be reached."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"cannot reach the database at {url}: {reason}")


class EngineError(OarError):
    """The durable engine refused the operation."""


class EngineNotRunningError(EngineError):
    """The durable engine is not running in this process."""


class TaskError(OarError):
    """The background task operation failed."""


class UnknownTaskError(TaskError):
    """No task handler is registered under that name."""

    def __init__(self, name: str, known: Sequence[str] = ()) -> None:
        self.name = name
        self.known = tuple(sorted(known))
        hint = f"; registered tasks: {', '.join(self.known)}" if self.known else ""
        super().__init__(f"unknown task {name!r}{hint}")


class InternalTaskError(TaskError):
    """The task is internal: only OAR itself starts it, never a request or a command."""

    def __init__(self, name: str, public: Sequence[str] = ()) -> None:
        self.name = name
        self.public = tuple(sorted(public))
        hint = ", ".join(self.public) if self.public else "none"
        super().__init__(
            f"task {name!r} is internal: only OAR itself starts it, not HTTP, oarctl or Slack"
            f" (tasks that may be enqueued: {hint})"
        )


class TaskPayloadError(TaskError):
    """The task payload is not a JSON value."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"task payload must be a JSON value (dict, list, str, number, bool, null): {reason}"
        )


class TaskKeyError(TaskError):
    """The idempotency key cannot be used as a task ID."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(
            f"invalid task key {key!r}: use 1-200 characters from letters, digits and . _ : @ -"
        )


class TaskNotFoundError(TaskError):
    """No task has that ID."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        super().__init__(f"no task with ID {task_id!r}")


class TaskStateError(TaskError):
    """The task is not in a state that allows the operation."""

    def __init__(self, task_id: str, status: str, operation: str, allowed: Sequence[str]) -> None:
        self.task_id = task_id
        self.status = status
        self.operation = operation
        self.allowed = tuple(allowed)
        super().__init__(
            f"cannot {operation} task {task_id!r}: it is {status};"
            f" {operation} needs a task that is {' or '.join(self.allowed)}"
        )


class PermanentTaskError(TaskError):
    """The task failed and retrying cannot help."""


class ScheduleError(OarError):
    """The schedule operation failed."""


class UnknownScheduleError(ScheduleError):
    """No schedule is registered or running under that name."""

    def __init__(self, name: str, known: Sequence[str] = ()) -> None:
        self.name = name
        self.known = tuple(sorted(known))
        hint = f"; known schedules: {', '.join(self.known)}" if self.known else "; none is known"
        super().__init__(f"unknown schedule {name!r}{hint}")


class ScheduleStateError(ScheduleError):
    """The schedule is not in a state that allows the operation."""

    def __init__(self, name: str, operation: str, reason: str) -> None:
        self.name = name
        self.operation = operation
        self.reason = reason
        super().__init__(f"cannot {operation} schedule {name!r}: {reason}")


class ApprovalError(OarError):
    """The approval operation failed."""


class ApprovalNotFoundError(ApprovalError):
    """No approval has that ID."""

    def __init__(self, approval_id: str) -> None:
        self.approval_id = approval_id
        super().__init__(f"no approval with ID {approval_id!r}")


class ApprovalTimeoutError(ApprovalError):
    """Nobody decided before the wait ended."""

    def __init__(self, approval_id: str, timeout_seconds: float, *, expired: bool) -> None:
        self.approval_id = approval_id
        self.timeout_seconds = timeout_seconds
        self.expired = expired
        what = "expired" if expired else "is still pending"
        super().__init__(
            f"approval {approval_id} was not decided within {timeout_seconds:g}s; it {what}"
        )


class ApprovalExpiredError(ApprovalError):
    """The approval had already expired or been cancelled."""

    def __init__(self, approval_id: str, status: str) -> None:
        self.approval_id = approval_id
        self.status = status
        super().__init__(f"approval {approval_id} is {status}")


class InvalidResolutionError(ApprovalError):
    """The resolution is not one of the allowed values."""

    def __init__(self, given: object, allowed: Sequence[str]) -> None:
        self.given = given
        self.allowed = tuple(allowed)
        super().__init__(
            f"invalid resolution {given!r}: use one of {', '.join(self.allowed)}"
            " (or approved: true/false)"
        )


class InvalidFormError(OarError):
    """A dashboard form field is too long or holds a NUL character."""

    def __init__(self, field: str, limit: int, *, problem: str | None = None) -> None:
        self.field = field
        self.limit = limit
        super().__init__(
            f"the form field {field!r} {problem or f'must be at most {limit} characters, no NUL'}"
        )


class WebhookError(OarError):
    """The webhook delivery was refused."""

    status_code = 400


class WebhookSignatureError(WebhookError):
    """The delivery's signature is missing or wrong."""

    status_code = 401


class WebhookRequestError(WebhookError):
    """The request is not a well-formed GitHub delivery."""

    status_code = 400


class WebhookTooLargeError(WebhookError):
    """The delivery is larger than GitHub ever sends."""

    status_code = 413

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"delivery of {size} bytes is over the {limit}-byte limit")


class IntegrationError(OarError):
    """An external system failed."""

    def __init__(self, system: str, message: str, *, status_code: int | None = None) -> None:
        self.system = system
        self.status_code = status_code
        super().__init__(f"{system}: {message}")


class IntegrationAuthError(IntegrationError):
    """The external system refused our credentials."""

    def __init__(self, system: str, variable: str, *, status_code: int | None = None) -> None:
        self.variable = variable
        super().__init__(
            system,
            f"authentication refused (HTTP {status_code}); check {variable}",
            status_code=status_code,
        )


class IntegrationNotFoundError(IntegrationError):
    """The external system has no such object."""


class IntegrationConflictError(IntegrationError):
    """The object changed since it was read; nothing was overwritten."""


class IntegrationTimeoutError(IntegrationError):
    """The external system did not answer in time."""


class IntegrationUnavailableError(IntegrationError):
    """The external system is unreachable or kept failing."""


class ReleaseError(OarError):
    """The release operation failed."""


class InvalidVersionError(ReleaseError):
    """The text is not a z-stream release version."""

    def __init__(self, given: str, *, expected: str) -> None:
        self.given = given
        self.expected = expected
        super().__init__(f"invalid release {given!r}: expected {expected}")


class ReleaseNotFoundError(ReleaseError):
    """The release is not tracked yet."""

    def __init__(self, release: str, hint: str = "") -> None:
        self.release = release
        super().__init__(f"release {release} is not tracked{': ' + hint if hint else ''}")


class ReleaseBusyError(ReleaseError):
    """Work for the release is still running: it cannot be deleted now."""

    def __init__(self, release: str, running: Sequence[str]) -> None:
        self.release = release
        self.running = tuple(running)
        super().__init__(
            f"release {release} cannot be deleted while work for it runs: "
            + "; ".join(self.running)
        )


class BuildDataNotReadyError(ReleaseError):
    """ocp-build-data has no assembly for the release yet."""

    def __init__(self, release: str, url: str, reason: str = "") -> None:
        self.release = release
        self.url = url
        detail = f" ({reason})" if reason else ""
        super().__init__(
            f"[{release}] ocp-build-data is not ready{detail}; you can check the file: {url}"
        )


class ReleaseTaskError(ReleaseError):
    """The task name or status is not part of the release checklist."""


class ReleaseIssueNotFoundError(ReleaseError):
    """The release has no issue with that ID."""

    def __init__(self, release: str, issue_id: int) -> None:
        self.release = release
        self.issue_id = issue_id
        super().__init__(f"release {release} has no issue #{issue_id}")


class InvalidArgumentError(OarError):
    """An argument is not one OAR can use."""

    def __init__(self, name: str, message: str) -> None:
        self.name = name
        super().__init__(f"{name}: {message}")


class ApprovalRefusedError(ReleaseError):
    """The release cannot be approved (moved to REL_PREP) now."""

    def __init__(self, release: str, reason: str) -> None:
        self.release = release
        self.reason = reason
        super().__init__(f"[{release}] release approval refused: {reason}")


class FollowNotFoundError(ReleaseError):
    """There is no follow (a release-approval watch is one) with that ID."""

    def __init__(self, follow_id: str) -> None:
        self.follow_id = follow_id
        self.watch_id = follow_id
        super().__init__(f"no follow {follow_id!r} (see oarctl follows list)")


WatchNotFoundError = FollowNotFoundError  # the approval watch is a follow


class ShipmentDataError(ReleaseError):
    """A shipment data file of the release cannot be read."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"shipment file {path}: {reason}")


class ShipmentEditError(ShipmentDataError):
    """A shipment file could not be edited exactly (its YAML is not what OAR expects)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(path, f"cannot edit it exactly: {reason}")


class CredentialsRefusedError(ConfigurationError):
    """A credential the command needs was refused before anything irreversible was done."""

    def __init__(self, command: str, refused: Sequence[str], *, variables: Sequence[str]) -> None:
        self.refused = tuple(refused)
        super().__init__(
            f"{command} changed nothing: "
            + "; ".join(self.refused)
            + ". Fix "
            + ", ".join(dict.fromkeys(variables))
            + " and run it again",
            variables=variables,
        )


class CommandPartlyDoneError(ReleaseError):
    """A release command failed after it had already changed something."""

    def __init__(self, task: str, error: str, done: Sequence[str]) -> None:
        self.task = task
        self.error = error
        self.done = tuple(done)
        super().__init__(f"{error}. Before it failed, {task} had already: " + "; ".join(self.done))


class PortNotOpenError(OarError):
    """A release command used a port it did not declare, so none was opened for it."""

    def __init__(self, port: str, attribute: str) -> None:
        self.port = port
        self.attribute = attribute
        super().__init__(
            f"the {port} port was not opened for this command (it used {port}.{attribute}):"
            f" declare {port!r} in the command's ports (oar.release.commands)"
        )


class AgentError(OarError):
    """A background agent (release detector, test-result checker) could not do its work."""


class AgentDataError(AgentError):
    """A file an agent reads (ART's z-stream file, a test result file) is malformed."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class JobRegistryError(OarError):
    """A test-job registry file is not valid."""

    def __init__(self, path: str, problems: Sequence[str]) -> None:
        self.path = path
        self.problems = tuple(problems)
        super().__init__(f"{path}: " + "; ".join(self.problems))


class TestResultNotFoundError(OarError):
    """No test result file for that build."""

    __test__ = False  # not a pytest class

    def __init__(self, build: str, arch: str) -> None:
        self.build = build
        self.arch = arch
        super().__init__(f"no test result file for build {build} ({arch})")
