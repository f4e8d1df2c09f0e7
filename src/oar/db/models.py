"""SQLAlchemy 2 models of OAR's own tables.

They share the database with the durable engine's tables, so every name carries the
``oar_`` prefix (DBOS has, for example, its own ``notifications`` table on SQLite).
Invariants live here as constraints and indexes; the migrations in ``migrations/``
must produce exactly this schema (``tests/integration/test_migrations.py`` checks).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from oar.db.types import UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        Any: JSON,
    }


class AuditEntry(Base):
    """Who did what, when, and through which interface."""

    __tablename__ = "oar_audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    interface: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(100), index=True)
    subject: Mapped[str | None] = mapped_column(String(250), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TaskRecord(Base):
    """A background task: what to run, its status and its outcome.

    ``id`` is the caller's idempotency key when one was given, which is what makes a
    second enqueue with the same key return this row instead of starting another task.
    """

    __tablename__ = "oar_tasks"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    keyed: Mapped[bool] = mapped_column(default=False)
    queue: Mapped[str] = mapped_column(String(100))
    payload: Mapped[Any] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    durable: Mapped[bool] = mapped_column(default=False)
    attempts: Mapped[int] = mapped_column(default=0)
    retries: Mapped[int] = mapped_column()
    max_attempts: Mapped[int] = mapped_column()
    timeout_seconds: Mapped[float] = mapped_column()
    retry_delay: Mapped[float] = mapped_column()
    backoff: Mapped[float] = mapped_column()
    run: Mapped[int] = mapped_column(default=1)
    workflow_id: Mapped[str] = mapped_column(String(250))
    result: Mapped[Any] = mapped_column(JSON, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(200), default="api")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    next_attempt_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        Index("ix_oar_tasks_status_created", "status", "created_at"),
        Index("ix_oar_tasks_name_status", "name", "status"),
    )


class TaskAttemptRecord(Base):
    """One attempt of a task: when it ran and how it ended."""

    __tablename__ = "oar_task_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[str] = mapped_column(
        String(200), ForeignKey("oar_tasks.id", ondelete="CASCADE")
    )
    attempt: Mapped[int] = mapped_column()
    run: Mapped[int] = mapped_column()
    status: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)
    # When the attempt failed and another follows: how long the task waits before it.
    retry_delay: Mapped[float | None] = mapped_column()

    __table_args__ = (
        UniqueConstraint("task_id", "attempt", name="uq_oar_task_attempts_task_attempt"),
    )


class ExecutorRecord(Base):
    """A process that executes durable work, and when it last proved it was alive."""

    __tablename__ = "oar_executors"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    role: Mapped[str] = mapped_column(String(20))
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column()
    version: Mapped[str] = mapped_column(String(50))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column()


class ApprovalRecord(Base):
    """A human approval: what is asked, until when, and how (and by whom) it ended.

    The row is the source of truth. Every change of ``status`` is a compare-and-set from
    ``pending``, so an approval ends in exactly one final state whatever races it.
    """

    __tablename__ = "oar_approvals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(200))
    session_id: Mapped[str | None] = mapped_column(String(200))
    approval_type: Mapped[str] = mapped_column(String(100))
    context: Mapped[Any] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))
    resolution: Mapped[str | None] = mapped_column(String(20))
    feedback: Mapped[str | None] = mapped_column(Text)
    modifications: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_via: Mapped[str] = mapped_column(String(20))
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolved_via: Mapped[str | None] = mapped_column(String(20))
    # The durable workflow waiting on this approval: it is woken by a message.
    workflow_id: Mapped[str | None] = mapped_column(String(250))
    # Where the request was announced (Slack), so the message can show the outcome.
    announce_channel: Mapped[str | None] = mapped_column(String(100))
    announce_ts: Mapped[str | None] = mapped_column(String(50))
    # The thread to announce in (None: the channel itself).
    announce_thread: Mapped[str | None] = mapped_column(String(50))

    __table_args__ = (
        Index("ix_oar_approvals_status_expires", "status", "expires_at"),
        Index("ix_oar_approvals_run_status", "run_id", "status"),
        Index("ix_oar_approvals_updated", "updated_at"),
    )


class WebhookDeliveryRecord(Base):
    """A GitHub delivery as received: the dedupe key, the payload once, and our answer.

    ``X-GitHub-Delivery`` stays the same when GitHub (or a person) redelivers, so the
    primary key makes a redelivery find this row instead of running handlers again.
    """

    __tablename__ = "oar_webhook_deliveries"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    event: Mapped[str] = mapped_column(String(100))
    action: Mapped[str | None] = mapped_column(String(100))
    installation_id: Mapped[int | None] = mapped_column(BigInteger)
    hook_id: Mapped[str | None] = mapped_column(String(50))
    payload: Mapped[Any] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # How many times this delivery arrived (1 + redeliveries).
    deliveries: Mapped[int] = mapped_column(default=1)
    task_ids: Mapped[Any] = mapped_column(JSON, default=list)
    # What we answered the first time (status code and body), repeated to redeliveries.
    status_code: Mapped[int | None] = mapped_column()
    response: Mapped[Any] = mapped_column(JSON, nullable=True)
    # The current claim: when it was taken and until when a redelivery leaves it alone.
    # An unanswered claim past its lease (its process died) is taken over by a redelivery.
    claimed_at: Mapped[datetime | None] = mapped_column()
    lease_expires_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (Index("ix_oar_webhook_deliveries_received", "received_at"),)


class SlackEventRecord(Base):
    """A Slack event already taken: the key that makes redeliveries run nothing.

    Slack retries an event it thinks was not acknowledged (with the same ``event_id``),
    and one message can arrive as both ``message`` and ``app_mention`` (different
    ``event_id``, same channel and ``ts``): either unique key refuses the second.
    """

    __tablename__ = "oar_slack_events"

    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    channel: Mapped[str] = mapped_column(String(50))
    ts: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(30))
    user: Mapped[str | None] = mapped_column(String(50))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("channel", "ts", name="uq_oar_slack_events_channel_ts"),
        Index("ix_oar_slack_events_received", "received_at"),
    )


class SlackThreadRecord(Base):
    """A thread the bot takes part in: its later messages are addressed to the bot."""

    __tablename__ = "oar_slack_threads"

    channel: Mapped[str] = mapped_column(String(50), primary_key=True)
    thread_ts: Mapped[str] = mapped_column(String(50), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConversationRecord(Base):
    """One turn of an assistant conversation, kept per Slack thread as the LLM's history."""

    __tablename__ = "oar_conversations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(50))
    thread_ts: Mapped[str] = mapped_column(String(50))
    role: Mapped[str] = mapped_column(String(20))  # user or assistant
    user: Mapped[str | None] = mapped_column(String(50))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_oar_conversations_thread", "channel", "thread_ts", "id"),)


class NotificationRecord(Base):
    """Every message OAR sent (or failed to send) to Slack: where, what, and the outcome."""

    __tablename__ = "oar_notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(100))
    thread_ts: Mapped[str | None] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(30))
    source: Mapped[str | None] = mapped_column(String(250))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))  # sent or failed
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    message_ts: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        Index("ix_oar_notifications_created", "created_at"),
        Index("ix_oar_notifications_source", "source"),
    )


class ReleaseRecord(Base):
    """A z-stream release OAR tracks (what the Google Sheet and StateBox files held)."""

    __tablename__ = "oar_releases"

    release: Mapped[str] = mapped_column(String(50), primary_key=True)
    y_stream: Mapped[str] = mapped_column(String(20), index=True)
    flow: Mapped[str | None] = mapped_column(String(20))
    # jira_ticket, advisory_ids, release_date, candidate_builds, shipment_mr, owner
    meta: Mapped[Any] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Hidden from the dashboard's overview (listed collapsed), by whom; None: shown.
    hidden_at: Mapped[datetime | None] = mapped_column()
    hidden_by: Mapped[str | None] = mapped_column(String(200))


class ReleaseTaskRecord(Base):
    """The current state of one checklist task of a release (its latest run)."""

    __tablename__ = "oar_release_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    release: Mapped[str] = mapped_column(
        String(50), ForeignKey("oar_releases.release", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()
    log: Mapped[str | None] = mapped_column(Text)
    # The run whose outcome this row shows; a late finish of an older run cannot
    # overwrite a newer one (compare-and-set on this column).
    run_id: Mapped[int | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("release", "name", name="uq_oar_release_tasks_release_name"),
    )


class ReleaseTaskRunRecord(Base):
    """One run of a checklist task: who ran it, from where, how it ended, its log."""

    __tablename__ = "oar_release_task_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    release: Mapped[str] = mapped_column(
        String(50), ForeignKey("oar_releases.release", ondelete="CASCADE")
    )
    task: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column()
    log: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    interface: Mapped[str] = mapped_column(String(20))
    slack_channel: Mapped[str | None] = mapped_column(String(100))
    slack_thread: Mapped[str | None] = mapped_column(String(50))

    __table_args__ = (Index("ix_oar_release_task_runs_release_task", "release", "task", "id"),)


class ReleaseIssueRecord(Base):
    """An issue (or blocker) of a release, optionally linked to tasks, until resolved.

    ``key`` is the normalised text: one unresolved issue per text and release.
    """

    __tablename__ = "oar_release_issues"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    release: Mapped[str] = mapped_column(
        String(50), ForeignKey("oar_releases.release", ondelete="CASCADE")
    )
    text: Mapped[str] = mapped_column(Text)
    key: Mapped[str] = mapped_column(String(500))
    blocker: Mapped[bool] = mapped_column(default=True)
    related_tasks: Mapped[Any] = mapped_column(JSON, default=list)
    reported_at: Mapped[datetime] = mapped_column(default=utcnow)
    reported_by: Mapped[str] = mapped_column(String(200))
    resolved: Mapped[bool] = mapped_column(default=False)
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolved_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        Index("ix_oar_release_issues_release", "release", "resolved"),
        Index(
            "uq_oar_release_issues_open_key",
            "release",
            "key",
            unique=True,
            sqlite_where=sql_text("NOT resolved"),
            postgresql_where=sql_text("NOT resolved"),
        ),
    )


class ReleaseBugRecord(Base):
    """A Jira bug of a release, as update-bug-list last saw it (one row per release and key).

    A bug no longer attached to the release is marked detached (``attached`` false), never
    deleted; the primary key is what keeps a run from recording a bug twice.
    """

    __tablename__ = "oar_release_bugs"

    release: Mapped[str] = mapped_column(
        String(50), ForeignKey("oar_releases.release", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    summary: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(64))
    qa_contact: Mapped[str | None] = mapped_column(String(320))
    assignee: Mapped[str | None] = mapped_column(String(320))
    priority: Mapped[str | None] = mapped_column(String(64))
    cve_tracker: Mapped[bool] = mapped_column(default=False)
    critical: Mapped[bool] = mapped_column(default=False)
    customer_case: Mapped[bool] = mapped_column(default=False)
    advisories: Mapped[Any] = mapped_column(JSON, default=list)
    shipment_files: Mapped[Any] = mapped_column(JSON, default=list)
    attached: Mapped[bool] = mapped_column(default=True)
    new: Mapped[bool] = mapped_column(default=True)
    first_seen: Mapped[datetime] = mapped_column()
    last_changed: Mapped[datetime] = mapped_column()
    detached_at: Mapped[datetime | None] = mapped_column()


class FollowRecord(Base):
    """A durable follow: a workflow checking something until it is done or its deadline.

    A follow has a *kind* (``approval``: the release-approval watch) and a *key*; at most
    one follow per key is running (partial unique index). The row's ID is the workflow's
    (task) ID: the key itself, then ``<key>:<n>`` for later generations. ``data`` is what
    the kind needs (for ``approval``: the advisories and the QE-lead group). Migration
    0009 carried the rows of ``oar_approval_watches`` over.
    """

    __tablename__ = "oar_follows"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
    key: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(100))  # what it follows, e.g. a y-stream
    release: Mapped[str | None] = mapped_column(String(50))
    task: Mapped[str | None] = mapped_column(String(100))  # the checklist task it finishes
    channel: Mapped[str | None] = mapped_column(String(100))  # the release channel
    status: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column()
    deadline_at: Mapped[datetime | None] = mapped_column()
    interval_seconds: Mapped[float] = mapped_column()
    started_by: Mapped[str] = mapped_column(String(200))
    interface: Mapped[str] = mapped_column(String(20))
    slack_channel: Mapped[str | None] = mapped_column(String(100))
    slack_thread: Mapped[str | None] = mapped_column(String(50))
    run_id: Mapped[int | None] = mapped_column(Integer)
    joined_runs: Mapped[Any] = mapped_column(JSON, nullable=True)
    checks: Mapped[int] = mapped_column(Integer, default=0)
    last_check_at: Mapped[datetime | None] = mapped_column()
    next_check_at: Mapped[datetime | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)
    log: Mapped[Any] = mapped_column(JSON, default=list)
    data: Mapped[Any] = mapped_column(JSON, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column()
    # Any write to the row (a check, its log, its end): the change feed's cursor.
    updated_at: Mapped[datetime | None] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        Index("ix_oar_follows_key", "key", "started_at"),
        Index("ix_oar_follows_updated", "updated_at"),
        Index("ix_oar_follows_kind", "kind", "status"),
        Index(
            "uq_oar_follows_running",
            "key",
            unique=True,
            sqlite_where=sql_text("status = 'running'"),
            postgresql_where=sql_text("status = 'running'"),
        ),
    )


class NotificatorRunRecord(Base):
    """One run of the Jira notificator (dry runs too): when, how started, what it did."""

    __tablename__ = "oar_notificator_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime | None] = mapped_column()
    trigger: Mapped[str] = mapped_column(String(20))  # cli, schedule
    dry_run: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(20))  # running, succeeded, partial, failed
    summary: Mapped[Any] = mapped_column(JSON, nullable=True)


class OnQaNotificationRecord(Base):
    """One escalation of one ON_QA bug: claimed before it is posted, then posted (or failed).

    ``cycle`` is the moment the bug entered ON_QA (the ladder restarts when it re-enters)
    or ``once`` for the once-per-bug fallbacks. The unique (key, cycle, tier) index is what
    keeps two runs, overlapping or after a restart, from posting a step twice.
    """

    __tablename__ = "oar_onqa_notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    issue_key: Mapped[str] = mapped_column(String(64))
    cycle: Mapped[str] = mapped_column(String(40))
    tier: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))  # claimed, posted, failed
    run_id: Mapped[int | None] = mapped_column(Integer)
    claimed_at: Mapped[datetime] = mapped_column()
    posted_at: Mapped[datetime | None] = mapped_column()
    mentioned: Mapped[Any] = mapped_column(JSON, default=list)
    comment_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("issue_key", "cycle", "tier", name="uq_oar_onqa_notifications_issue_key"),
    )


class DetectedReleaseRecord(Base):
    """A z-stream release the release detector found newer than the latest stable one.

    One row per release (the primary key is the invariant: its report is created once,
    however many schedule ticks, webhooks and CLI runs find it). ``status`` is
    ``creating`` while a run holds the claim (``claimed_by``), then ``created`` or
    ``failed`` (a failed one is tried again by the next run).
    """

    __tablename__ = "oar_detected_releases"

    release: Mapped[str] = mapped_column(String(50), primary_key=True)
    y_stream: Mapped[str] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(20))
    stable: Mapped[str | None] = mapped_column(String(50))  # the latest stable then
    trigger: Mapped[str] = mapped_column(String(50))  # schedule, webhook, cli
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)
    detected_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime | None] = mapped_column()  # when its report was created


class ResultFileRecord(Base):
    """A test result file (``ocp-test-result-<build>-<arch>.json``) the checker has read.

    One row per file of a repository and branch (unique): ``verdict`` is what the file said
    when last read (at blob ``sha``, so an unchanged file is not fetched again), ``notice``
    whether a rejected build was announced: ``none``, ``announcing`` (claimed by
    ``claimed_by``), ``announced`` (with the Slack ``message_ts``), ``failed`` (tried
    again, up to a bound), or ``skipped`` (rejected before the first run: not announced).
    """

    __tablename__ = "oar_result_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repo: Mapped[str] = mapped_column(String(200))
    branch: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(String(500))
    build: Mapped[str] = mapped_column(String(200))
    arch: Mapped[str] = mapped_column(String(20))
    sha: Mapped[str | None] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(20))
    notice: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(100))
    message_ts: Mapped[str | None] = mapped_column(String(50))
    error: Mapped[str | None] = mapped_column(Text)
    first_seen: Mapped[datetime] = mapped_column()
    checked_at: Mapped[datetime] = mapped_column()
    noticed_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        UniqueConstraint("repo", "branch", "path", name="uq_oar_result_files_path"),
        Index("ix_oar_result_files_notice", "notice"),
    )


class JobRunRecord(Base):
    """A Prow run the CI gate started for a build: the first run of a job (attempt 0) or a
    retry (attempt 1…n).

    The row is claimed *before* Gangway is called, and the unique index on (build, arch,
    job, attempt) is what makes two overlapping controller or aggregator passes trigger a
    job on a build once: the pass that loses the insert does not trigger. ``job_id`` is
    empty until Gangway answered.
    """

    __tablename__ = "oar_job_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    build: Mapped[str] = mapped_column(String(100))
    arch: Mapped[str] = mapped_column(String(20))
    y_stream: Mapped[str] = mapped_column(String(20))
    job_name: Mapped[str] = mapped_column(String(300))
    attempt: Mapped[int] = mapped_column(Integer)
    job_id: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20))  # claimed, triggered, … (Prow's), lost
    url: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint(
            "build", "arch", "job_name", "attempt", name="uq_oar_job_runs_build_arch_job_attempt"
        ),
        Index("ix_oar_job_runs_job_id", "job_id"),
    )


class JobBuildRecord(Base):
    """A build under test, as its result file last said (the dashboard's test-results page)."""

    __tablename__ = "oar_job_builds"

    build: Mapped[str] = mapped_column(String(100), primary_key=True)
    arch: Mapped[str] = mapped_column(String(20), primary_key=True)
    y_stream: Mapped[str] = mapped_column(String(20))
    nightly: Mapped[bool] = mapped_column()
    state: Mapped[str] = mapped_column(String(40))
    document: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_oar_job_builds_y_stream", "y_stream", "updated_at"),)
