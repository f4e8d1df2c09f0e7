"""Stage CDN pushes of a release's advisories: the rules, and the ``cdn-push`` follow kind.

What the original ``push-to-cdn-staging`` did on each re-run (reference oar-commands.md
§9), once, in a durable follow: every advisory of the release (microshift and dropped ones
aside) and, first, the advisories blocking it are pushed to CDN stage
(``POST /api/v1/erratum/<id>/push?defaults=stage``, which redoes failed pushes and skips
completed ones); the latest push job per stage target says where each advisory is:

- **complete**: it has a stage target and every latest stage job is ``COMPLETE``;
- **running**: a latest stage job is ``READY``, ``QUEUED``, ``RUNNING`` or ``WAITING_ON_PUB``;
- **failed**: a latest stage job of this follow (pushed after it started) is ``FAILED``;
- **not pushed**: no stage job yet, or only failures from before the follow (the command
  pushes them again).

The command that starts the follow pushes what is ready then (and announces the jobs);
from its second check on, the follow pushes what has become ready since, or what the
command could not push. An advisory is pushed only once every advisory blocking it is
complete: the original's blocking-order defect (§9.5, a blocker just triggered looked "not
running" and the dependent advisory was pushed in the same run) cannot happen, and the
follow pushes the dependent advisory itself as soon as its blockers complete, instead of
waiting for a person to run the command again. The follow passes when every advisory is
complete and fails at the first failed job, with that job's log link.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from oar.errors import IntegrationError, OarError
from oar.integrations.errata import AdvisoryState, Errata, ErrataClient, PushJob, PushStatus
from oar.jsonvalue import JSON
from oar.logs import get_logger
from oar.release.approval import movable
from oar.release.follows import Check, Finished, FollowInfo, FollowStatus, group_mention, kinds

if TYPE_CHECKING:
    from oar.integrations.slack import Notifier
    from oar.settings import Settings

log = get_logger(__name__)

KIND = "cdn-push"
TASK = "push-to-cdn-staging"
RUNNING_STATUSES = frozenset(
    {PushStatus.READY, PushStatus.QUEUED, PushStatus.RUNNING, PushStatus.WAITING_ON_PUB}
)
Done = Callable[[str], None]


def follow_key(release: str) -> str:
    """One push follow per release: ``push-to-cdn-staging:4.19.3``."""
    return f"{TASK}:{release}"


class PushState(enum.StrEnum):
    """Where an advisory's stage push is."""

    NOT_PUSHED = "not pushed"
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"


# --- pure rules -------------------------------------------------------------------------------
def job_state(status: PushStatus) -> PushState:
    """What one push job's Errata Tool status means (every status has an answer)."""
    if status is PushStatus.COMPLETE:
        return PushState.COMPLETE
    if status is PushStatus.FAILED:
        return PushState.FAILED
    if status in RUNNING_STATUSES:
        return PushState.RUNNING
    raise AssertionError(f"unknown push status {status}")  # pragma: no cover - enum is closed


def is_stage_target(target: str) -> bool:
    """A CDN stage target (``cdn_stage``, ``cdn_docker_stage``), not a live one."""
    return "stage" in target


def latest_jobs(jobs: Iterable[PushJob]) -> dict[str, PushJob]:
    """The newest job (highest ID) of each stage target, by target name."""
    latest: dict[str, PushJob] = {}
    for job in jobs:
        if is_stage_target(job.target) and (
            job.target not in latest or job.id > latest[job.target].id
        ):
            latest[job.target] = job
    return dict(sorted(latest.items()))


@dataclass(frozen=True, kw_only=True)
class AdvisoryPush:
    """One advisory's stage push: its state and the latest job of each stage target."""

    advisory: int
    state: PushState
    jobs: tuple[PushJob, ...] = ()
    failed: PushJob | None = None  # the failed job that failed the push (state FAILED)

    def text(self) -> str:
        if not self.jobs:
            return f"{self.advisory} {self.state.value}"
        jobs = ", ".join(f"{j.target} {j.status.value}" for j in self.jobs)
        return f"{self.advisory} {self.state.value} ({jobs})"


def advisory_push(advisory: int, jobs: Iterable[PushJob], *, baseline: int = 0) -> AdvisoryPush:
    """Where ``advisory``'s stage push is, from its push jobs. A failed job whose ID is not
    above ``baseline`` (the newest job when the follow started) is an old failure: the
    advisory is then *not pushed* (to be pushed again), not failed."""
    latest = tuple(latest_jobs(jobs).values())
    if not latest:
        return AdvisoryPush(advisory=advisory, state=PushState.NOT_PUSHED)
    states = [job_state(j.status) for j in latest]
    fresh_failures = [j for j in latest if j.status is PushStatus.FAILED and j.id > baseline]
    if fresh_failures:
        return AdvisoryPush(
            advisory=advisory,
            state=PushState.FAILED,
            jobs=latest,
            failed=min(fresh_failures, key=lambda j: j.id),
        )
    if PushState.RUNNING in states:
        return AdvisoryPush(advisory=advisory, state=PushState.RUNNING, jobs=latest)
    if PushState.FAILED in states:
        return AdvisoryPush(advisory=advisory, state=PushState.NOT_PUSHED, jobs=latest)
    return AdvisoryPush(advisory=advisory, state=PushState.COMPLETE, jobs=latest)


def newest_job(jobs: Iterable[PushJob]) -> int:
    """The highest push job ID (0 when none): the baseline of a follow starting now."""
    return max((j.id for j in jobs), default=0)


@dataclass(frozen=True, kw_only=True)
class PushPlan:
    """Every advisory's push, and what to do now: push the ones not pushed whose blockers
    are complete; the others wait for their blockers."""

    pushes: Mapping[int, AdvisoryPush]
    trigger: tuple[int, ...] = ()
    waiting: Mapping[int, tuple[int, ...]] = field(default_factory=dict)  # advisory: blockers

    @property
    def complete(self) -> bool:
        return all(p.state is PushState.COMPLETE for p in self.pushes.values())

    @property
    def failed(self) -> tuple[AdvisoryPush, ...]:
        return tuple(p for p in self.pushes.values() if p.state is PushState.FAILED)

    def text(self) -> str:
        parts = []
        for advisory, push in self.pushes.items():
            blockers = self.waiting.get(advisory)
            if blockers:
                parts.append(
                    f"{advisory} waits for blocking advisories {', '.join(map(str, blockers))}"
                )
            else:
                parts.append(push.text())
        return "; ".join(parts)


def plan_pushes(
    pushes: Mapping[int, AdvisoryPush], blockers: Mapping[int, Sequence[int]]
) -> PushPlan:
    """What to push now: every advisory not pushed whose blockers are all complete."""
    trigger: list[int] = []
    waiting: dict[int, tuple[int, ...]] = {}
    for advisory, push in pushes.items():
        if push.state is not PushState.NOT_PUSHED:
            continue
        pending = tuple(
            b
            for b in blockers.get(advisory, ())
            if b in pushes and pushes[b].state is not PushState.COMPLETE
        )
        if pending:
            waiting[advisory] = pending
        else:
            trigger.append(advisory)
    return PushPlan(pushes=dict(pushes), trigger=tuple(trigger), waiting=waiting)


def blocker_ids(names: Iterable[str], by_name: Mapping[str, int]) -> tuple[list[int], list[str]]:
    """Errata Tool's blocking advisories as IDs (an ID, or a name it knows by its ID), and
    the names it could not resolve."""
    ids: list[int] = []
    unknown: list[str] = []
    for name in names:
        text = str(name).strip()
        if text.isdigit():
            ids.append(int(text))
        elif text in by_name:
            ids.append(by_name[text])
        else:
            unknown.append(text)
    return ids, unknown


def job_url(errata_url: str, job_id: int) -> str:
    """The push job's log page in Errata Tool."""
    return f"{errata_url.rstrip('/')}/push/push_results/{job_id}"


def advisory_url(errata_url: str, advisory: int) -> str:
    return f"{errata_url.rstrip('/')}/advisory/{advisory}"


def failure_text(push: AdvisoryPush, errata_url: str) -> str:
    """The reason a failed push fails the task: the job, its target, its log link."""
    job = push.failed
    assert job is not None
    return (
        f"push job {job.id} ({job.target}) of advisory {push.advisory} is {job.status.value}:"
        f" {job_url(errata_url, job.id)}"
    )


def triggered_message(
    triggered: Mapping[int, Sequence[PushJob]],
    waiting: Mapping[int, Sequence[int]],
    *,
    release: str,
    group: str,
    errata_url: str,
) -> str:
    """The release channel's message when this run started pushes: each job's log link,
    as the original's trigger messages give the job URL (reference §12)."""
    links = " ".join(
        f"<{job_url(errata_url, j.id)}|{advisory} {j.target}>"
        for advisory, jobs in triggered.items()
        for j in jobs
    )
    text = f"[{release}] Hello {group}, triggered push jobs to CDN stage, urls are {links}"
    if waiting:
        held = ", ".join(
            f"{a} (after {', '.join(map(str, blockers))})" for a, blockers in waiting.items()
        )
        text += f"\nwill push when their blocking advisories complete: {held}"
    return text


def summary_text(
    status: FollowStatus,
    *,
    release: str,
    group: str,
    advisories: Sequence[int],
    errata_url: str,
    error: str | None,
) -> str:
    """The release channel's outcome message."""
    if status is FollowStatus.SUCCEEDED:
        links = " ".join(f"<{advisory_url(errata_url, a)}|{a}>" for a in advisories)
        return f"[{release}] Hello {group}, push to CDN stage completed for advisories {links}"
    if status is FollowStatus.TIMED_OUT:
        return (
            f"[{release}] Hello {group}, push to CDN stage did not complete before the"
            f" deadline: {error or 'push jobs still running'}"
        )
    return f"[{release}] Hello {group}, push to CDN stage failed: {error}"


# --- with Errata Tool ------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class PushSet:
    """The advisories to push (blockers first), each one's blockers, and what was skipped."""

    advisories: tuple[int, ...]
    blockers: Mapping[int, tuple[int, ...]]
    states: Mapping[int, AdvisoryState] = field(default_factory=dict)  # the release's own
    dropped: tuple[int, ...] = ()
    unknown_blockers: tuple[str, ...] = ()

    def data(self) -> dict[str, JSON]:
        return {
            "advisories": list(self.advisories),
            "blockers": {str(a): list(b) for a, b in self.blockers.items()},
        }


async def push_set(errata: Errata, advisories: Mapping[str, int]) -> PushSet:
    """The release's advisories (microshift and DROPPED_NO_SHIP ones aside) and, before
    each, the advisories blocking it (however deep), each once."""
    wanted = movable(advisories)
    loaded = {a: await errata.get_advisory(a) for a in wanted.values()}
    by_name = {adv.name: a for a, adv in loaded.items()}
    dropped = [a for a, adv in loaded.items() if adv.state is AdvisoryState.DROPPED_NO_SHIP]
    order: list[int] = []
    blockers: dict[int, tuple[int, ...]] = {}
    unknown: list[str] = []

    async def visit(advisory: int, path: tuple[int, ...]) -> None:
        if advisory in order or advisory in path:
            return
        ids, missing = blocker_ids(await errata.blocking_advisories(advisory), by_name)
        unknown.extend(missing)
        blockers[advisory] = tuple(b for b in ids if b not in dropped)
        for blocker in blockers[advisory]:
            await visit(blocker, (*path, advisory))
        order.append(advisory)

    for advisory in wanted.values():
        if advisory not in dropped:
            await visit(advisory, ())
    return PushSet(
        advisories=tuple(order),
        blockers={a: b for a, b in blockers.items() if b},
        states={a: adv.state for a, adv in loaded.items() if a not in dropped},
        dropped=tuple(dropped),
        unknown_blockers=tuple(dict.fromkeys(unknown)),
    )


async def survey(
    errata: Errata,
    advisories: Sequence[int],
    blockers: Mapping[int, Sequence[int]],
    baseline: Mapping[int, int] | None = None,
) -> tuple[PushPlan, dict[int, int]]:
    """Every advisory's push now, and the plan; also the newest job ID of each (the
    baseline of a follow starting now). Without ``baseline`` every failure is old."""
    pushes: dict[int, AdvisoryPush] = {}
    newest: dict[int, int] = {}
    for advisory in advisories:
        jobs = await errata.push_jobs(advisory)
        newest[advisory] = newest_job(jobs)
        floor = newest[advisory] if baseline is None else baseline.get(advisory, 0)
        pushes[advisory] = advisory_push(advisory, jobs, baseline=floor)
    return plan_pushes(pushes, blockers), newest


@dataclass(frozen=True, kw_only=True)
class Pushed:
    """What one round of pushes did: the new jobs by advisory, and the pushes Errata Tool
    refused (by advisory: its error), which the follow tries again at its next check."""

    jobs: Mapping[int, tuple[PushJob, ...]] = field(default_factory=dict)
    refused: Mapping[int, str] = field(default_factory=dict)

    def text(self) -> str:
        parts = [
            f"{a}: " + (", ".join(f"{j.id} ({j.target})" for j in jobs) or "no new job")
            for a, jobs in self.jobs.items()
        ]
        parts += [f"{a} refused ({error})" for a, error in self.refused.items()]
        return "; ".join(parts)


async def push_ready(
    errata: Errata, plan: PushPlan, baseline: Mapping[int, int], done: Done
) -> Pushed:
    """Push to stage each advisory the plan says, if it is still not pushed (another
    process may have pushed it since the survey). A push Errata Tool refuses is noted,
    not raised: the others still go, and the follow tries it again."""
    jobs: dict[int, tuple[PushJob, ...]] = {}
    refused: dict[int, str] = {}
    for advisory in plan.trigger:
        current = await errata.push_jobs(advisory)
        floor = baseline.get(advisory, newest_job(current))
        if advisory_push(advisory, current, baseline=floor).state is not PushState.NOT_PUSHED:
            continue
        try:
            created = tuple(await errata.push_to_stage(advisory))
        except IntegrationError as exc:
            log.warning("push.refused", advisory=advisory, error=exc.message)
            refused[advisory] = exc.message
            continue
        ids = ", ".join(f"{j.id} ({j.target})" for j in created) or "none new"
        done(f"triggered the stage push of advisory {advisory}: jobs {ids}")
        log.info("push.triggered", advisory=advisory, jobs=[j.id for j in created])
        jobs[advisory] = created
    return Pushed(jobs=jobs, refused=refused)


def unpushable(states: Mapping[int, AdvisoryState]) -> list[int]:
    """Advisories Errata Tool will not push to stage: still in NEW_FILES (take-ownership
    reports them as a blocker of push-to-cdn-staging)."""
    return [a for a, state in states.items() if state is AdvisoryState.NEW_FILES]


# --- the follow kind --------------------------------------------------------------------------
def _ints(values: object) -> list[int]:
    return [int(v) for v in values] if isinstance(values, list) else []


def _blockers(data: Mapping[str, object]) -> dict[int, tuple[int, ...]]:
    raw = data.get("blockers")
    if not isinstance(raw, dict):
        return {}
    return {int(k): tuple(_ints(v)) for k, v in raw.items()}


def _baseline(data: Mapping[str, object]) -> dict[int, int]:
    raw = data.get("baseline")
    return {int(k): int(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


class CdnPushKind:
    """The ``cdn-push`` follow kind, bound to Errata Tool: checks the push jobs, pushes
    the advisories whose blockers completed, passes when all are complete."""

    name = KIND
    noun = "follow"

    def __init__(
        self, *, errata: Errata | None, errata_url: str, errata_problem: str | None = None
    ) -> None:
        self.errata = errata
        self.errata_url = errata_url
        self.errata_problem = errata_problem

    def started_line(self, follow: FollowInfo) -> str:
        advisories = ", ".join(map(str, _ints(follow.data.get("advisories"))))
        return (
            f"follow started for the stage CDN pushes of {follow.subject} (advisories"
            f" {advisories}): checking every {follow.interval_seconds:g}s until"
            f" {follow.deadline_text()}"
        )

    async def check(self, follow: FollowInfo, number: int) -> Check:
        if self.errata is None:
            reason = self.errata_problem or "Errata Tool is not configured in this worker"
            return Check.finished(f"check #{number}: {reason}", ok=False, error=reason)
        advisories = _ints(follow.data.get("advisories"))
        baseline = _baseline(follow.data)
        plan, _ = await survey(self.errata, advisories, _blockers(follow.data), baseline)
        if plan.failed:
            reason = failure_text(plan.failed[0], self.errata_url)
            return Check.finished(
                f"check #{number}: {plan.text()}", ok=False, error=reason, failed=reason
            )
        if plan.complete:
            return Check.finished(f"check #{number}: every push job is complete", ok=True)
        line = f"check #{number}: {plan.text()}"
        if number == 1:  # the command that started the follow pushes what is ready now
            return Check.pending(line)
        pushed = await push_ready(self.errata, plan, baseline, _nothing)
        if pushed.jobs or pushed.refused:
            line += f"; pushed to stage now (blockers complete): {pushed.text()}"
        return Check.pending(line)

    async def finish(self, follow: FollowInfo, check: Check) -> Finished:
        if check.data.get("ok"):
            return Finished(ok=True, line="push jobs of every advisory are complete")
        error = str(check.data.get("error") or "push to CDN stage failed")
        return Finished(ok=False, line=f"push to CDN stage failed: {error}", error=error)

    def final_line(self, follow: FollowInfo, status: FollowStatus, error: str | None) -> str:
        if status is FollowStatus.SUCCEEDED:
            return "push to CDN stage completed: every advisory's push jobs are complete"
        if status is FollowStatus.TIMED_OUT:
            return f"push to CDN stage timed out at {follow.deadline_text()}"
        return f"push to CDN stage {status.value}: {error}"

    async def summary(
        self, follow: FollowInfo, status: FollowStatus, error: str | None, notifier: Notifier
    ) -> str:
        group = str(follow.data.get("group") or "")
        mention = await group_mention(notifier, group)
        if status is FollowStatus.TIMED_OUT and error is None:
            last = [line for line in follow.log if ": check #" in line]
            error = last[-1].split(": ", 1)[1] if last else None
        return summary_text(
            status,
            release=str(follow.release),
            group=mention,
            advisories=_ints(follow.data.get("advisories")),
            errata_url=self.errata_url,
            error=error,
        )


def _nothing(step: str) -> None:
    """A follow's pushes are in its log, not in a command's list of steps."""


@contextlib.asynccontextmanager
async def cdn_push_kind(settings: Settings) -> AsyncIterator[CdnPushKind]:
    """The kind with Errata Tool, built once per worker; without a token its follows fail
    with the reason."""
    try:
        errata = ErrataClient.from_settings(settings)
    except OarError as exc:
        yield CdnPushKind(errata=None, errata_url=settings.errata_url, errata_problem=exc.message)
        return
    async with errata:
        yield CdnPushKind(errata=errata, errata_url=settings.errata_url)


kinds.register(KIND, cdn_push_kind)
