"""An in-memory Errata Tool with its rules (the port is :mod:`oar.integrations.errata`).

:class:`FakeErrata` is also the state of the sandbox's Errata Tool stand-in.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from oar.errors import IntegrationError, IntegrationNotFoundError
from oar.integrations.errata import (
    SYSTEM,
    TRANSITIONS,
    Advisory,
    AdvisoryIssue,
    AdvisoryState,
    Build,
    PushJob,
    PushStatus,
    SecurityAlerts,
    TestResult,
)

STAGE_TARGETS = ("cdn_stage", "cdn_docker_stage")


class PushOutcome(enum.StrEnum):
    """How a push job ends once it has run ``push_seconds``: COMPLETE, FAILED, or it
    hangs in RUNNING (until the outcome is changed)."""

    COMPLETE = "complete"
    FAIL = "fail"
    HANG = "hang"


@dataclass(kw_only=True)
class FakeErrata:
    """Advisories in memory with Errata Tool's rules: the state workflow, no REL_PREP with
    a blocking security alert, no stage push before the blocking advisories pushed. Push
    jobs run for ``push_seconds`` on ``clock``. Also the state behind the stand-in."""

    advisories: dict[int, Advisory] = field(default_factory=dict)
    releases: dict[str, list[int]] = field(default_factory=dict)
    issues: dict[int, list[AdvisoryIssue]] = field(default_factory=dict)
    builds_of: dict[int, list[Build]] = field(default_factory=dict)
    blockers: dict[int, list[int]] = field(default_factory=dict)
    alerts: dict[int, SecurityAlerts] = field(default_factory=dict)
    cvp: dict[int, list[TestResult]] = field(default_factory=dict)
    # What was asked of Errata Tool besides reads: the refetched test runs, the
    # advisories whose security alerts were refreshed (in order; the stand-in's record).
    refetched: list[int] = field(default_factory=list)
    alert_refreshes: list[int] = field(default_factory=list)
    push_seconds: float = 1.0
    # How push jobs end: every advisory's (push_outcome), or one advisory's (push_outcomes).
    push_outcome: PushOutcome = PushOutcome.COMPLETE
    push_outcomes: dict[int, PushOutcome] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    _pushes: dict[int, list[tuple[PushJob, float]]] = field(default_factory=dict)
    _next_push: int = 880000

    def _advisory(self, advisory_id: int) -> Advisory:
        found = self.advisories.get(advisory_id)
        if found is None:
            raise IntegrationNotFoundError(
                SYSTEM, f"Couldn't find Errata with id={advisory_id}", status_code=404
            )
        return found

    async def get_advisory(self, advisory_id: int) -> Advisory:
        return self._advisory(advisory_id)

    async def release_advisories(self, release: str) -> list[int]:
        if release not in self.releases:
            raise IntegrationNotFoundError(SYSTEM, f"no release named {release!r}", status_code=404)
        return list(self.releases[release])

    async def change_state(self, advisory_id: int, state: AdvisoryState) -> Advisory:
        advisory = self._advisory(advisory_id)
        state = AdvisoryState(state)
        if state not in TRANSITIONS[advisory.state]:
            raise IntegrationError(
                SYSTEM,
                f"Transition {advisory.state} => {state} is invalid",
                status_code=422,
            )
        if state is AdvisoryState.REL_PREP and (await self.security_alerts(advisory_id)).blocking:
            raise IntegrationError(
                SYSTEM,
                f"Transition {advisory.state} => {state} is invalid: blocking security alerts",
                status_code=422,
            )
        changed = replace(advisory, state=state)
        self.advisories[advisory_id] = changed
        return changed

    async def set_qe_owner(self, advisory_id: int, email: str) -> Advisory:
        if "@" not in email:
            raise IntegrationError(SYSTEM, f"no user with email {email!r}", status_code=422)
        changed = replace(self._advisory(advisory_id), qe_owner=email)
        self.advisories[advisory_id] = changed
        return changed

    async def jira_issues(self, advisory_id: int) -> list[AdvisoryIssue]:
        self._advisory(advisory_id)
        return list(self.issues.get(advisory_id, []))

    async def remove_jira_issues(self, advisory_id: int, keys: Sequence[str]) -> list[str]:
        advisory = self._advisory(advisory_id)
        attached = self.issues.get(advisory_id, [])
        removed = [i.key for i in attached if i.key in set(keys)]
        self.issues[advisory_id] = [i for i in attached if i.key not in set(keys)]
        if removed:  # the content changed: the doc and prodsec approvals no longer hold
            self.advisories[advisory_id] = replace(
                advisory,
                doc_complete=False,
                text_ready=False,
                security_approved=None
                if advisory.security_approved
                else advisory.security_approved,
            )
        return removed

    async def request_doc_approval(self, advisory_id: int) -> Advisory:
        changed = replace(self._advisory(advisory_id), text_ready=True)
        self.advisories[advisory_id] = changed
        return changed

    async def request_prodsec_approval(self, advisory_id: int) -> Advisory:
        advisory = self._advisory(advisory_id)
        if advisory.type != "RHSA":
            raise IntegrationError(
                SYSTEM, "security approval applies to RHSA advisories only", status_code=422
            )
        changed = replace(advisory, security_approved=False)
        self.advisories[advisory_id] = changed
        return changed

    async def builds(self, advisory_id: int) -> list[Build]:
        self._advisory(advisory_id)
        return list(self.builds_of.get(advisory_id, []))

    def set_push_outcome(self, outcome: PushOutcome, advisory_id: int | None = None) -> None:
        """How running and later push jobs end (of one advisory, or of every one)."""
        if advisory_id is None:
            self.push_outcome = PushOutcome(outcome)
            self.push_outcomes.clear()
        else:
            self.push_outcomes[advisory_id] = PushOutcome(outcome)

    def _settle(self, advisory_id: int) -> None:
        """Jobs whose time is up end as the advisory's outcome says (a hang keeps running)."""
        now = self.clock()
        outcome = self.push_outcomes.get(advisory_id, self.push_outcome)
        settled = []
        ends = {PushOutcome.COMPLETE: PushStatus.COMPLETE, PushOutcome.FAIL: PushStatus.FAILED}
        for job, done_at in self._pushes.get(advisory_id, []):
            end = ends.get(outcome)
            due = job.status is PushStatus.RUNNING and now >= done_at and end is not None
            settled.append((replace(job, status=end) if due and end else job, done_at))
        if advisory_id in self._pushes:
            self._pushes[advisory_id] = settled

    def pushes(self) -> dict[int, list[PushJob]]:
        """Every advisory's push jobs, as they stand now."""
        for advisory_id in self._pushes:
            self._settle(advisory_id)
        return {a: [job for job, _ in jobs] for a, jobs in self._pushes.items()}

    async def push_jobs(self, advisory_id: int) -> list[PushJob]:
        self._advisory(advisory_id)
        self._settle(advisory_id)
        return [job for job, _ in self._pushes.get(advisory_id, [])]

    def _stage_pushed(self, advisory_id: int, jobs: Sequence[PushJob]) -> bool:
        return any(j.target == "cdn_stage" and j.status is PushStatus.COMPLETE for j in jobs)

    async def push_to_stage(self, advisory_id: int) -> list[PushJob]:
        advisory = self._advisory(advisory_id)
        if advisory.state not in (
            AdvisoryState.QE,
            AdvisoryState.REL_PREP,
            AdvisoryState.PUSH_READY,
        ):
            raise IntegrationError(
                SYSTEM, f"advisory in {advisory.state} cannot be pushed to stage", status_code=400
            )
        for blocker in self.blockers.get(advisory_id, []):
            if not self._stage_pushed(blocker, await self.push_jobs(blocker)):
                raise IntegrationError(
                    SYSTEM,
                    f"push blocked by unresolved dependencies: {blocker} has not pushed to stage",
                    status_code=400,
                )
        current = await self.push_jobs(advisory_id)
        created: list[PushJob] = []
        for target in STAGE_TARGETS:
            if any(j.target == target and j.status is not PushStatus.FAILED for j in current):
                continue  # skip_pushed: Errata Tool does not push a target twice
            self._next_push += 1
            job = PushJob(id=self._next_push, target=target, status=PushStatus.RUNNING)
            self._pushes.setdefault(advisory_id, []).append((job, self.clock() + self.push_seconds))
            created.append(job)
        return created

    async def blocking_advisories(self, advisory_id: int) -> list[str]:
        self._advisory(advisory_id)
        return [str(b) for b in self.blockers.get(advisory_id, [])]

    async def security_alerts(self, advisory_id: int) -> SecurityAlerts:
        self._advisory(advisory_id)
        return self.alerts.get(advisory_id, SecurityAlerts(blocking=False))

    async def refresh_security_alerts(self, advisory_id: int) -> SecurityAlerts:
        alerts = await self.security_alerts(advisory_id)
        self.alert_refreshes.append(advisory_id)
        return alerts

    async def cvp_results(self, advisory_id: int) -> list[TestResult]:
        self._advisory(advisory_id)
        return list(self.cvp.get(advisory_id, []))

    async def refetch_test(self, test_id: int) -> TestResult:
        for results in self.cvp.values():
            for result in results:
                if result.id == test_id:
                    self.refetched.append(test_id)
                    return result
        raise IntegrationNotFoundError(
            SYSTEM, f"Couldn't find ExternalTestRun with id={test_id}", status_code=404
        )
