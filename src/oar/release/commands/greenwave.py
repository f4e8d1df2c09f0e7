"""``check-greenwave-cvp-tests``: have the release's container builds passed Greenwave's
CVP tests? (reference: oar-commands.md §5).

For every advisory of the release (microshift and dropped ones aside), Errata Tool's
active ``greenwave_cvp`` external test runs. ``PASSED`` and ``WAIVED`` pass; anything else
(``FAILED``, ``PENDING``, ``INELIGIBLE``…) does not, and the outcome is Fail, naming each
such test's id, NVR and advisory in a table. Unlike the original, whose README asked
people to press *Refetch* in Errata Tool's UI, each test that ended without passing
(every status but ``PENDING``, which is still running) gets a refetch requested through
the API. The failures become one blocker issue of the release and, the first time they
are reported, a message to the QE release channel (§5.5.6). A re-run with the same failing
tests adds no issue and no message, but asks for the refetches again.

The original also filed a Blocker bug in Jira's CVP project; OAR does not: the release's
blocker issue and the QE leads' message carry what the bug said (the failing NVRs and test
links), and the CVP team is contacted by people, as the message asks.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from oar.integrations.errata import AdvisoryState, Errata, TestResult
from oar.jsonvalue import JSON
from oar.logs import get_logger
from oar.release.advisories import advisory_impetuses
from oar.release.tracking import Outcome, ReleaseContext

log = get_logger(__name__)

TASK = "check-greenwave-cvp-tests"
VALID_STATUSES = frozenset({"PASSED", "WAIVED"})
RUNNING = "PENDING"  # still being tested: nothing to refetch yet
ISSUE_PREFIX = "Greenwave CVP tests not passed"


@dataclass(frozen=True, kw_only=True)
class CvpRow:
    """One CVP test run of one advisory, and what the rule says of it."""

    advisory_id: int
    impetus: str
    test: TestResult

    @property
    def passed(self) -> bool:
        return cvp_passed(self.test.status)

    def to_data(self) -> dict[str, JSON]:
        return {
            "advisory": self.advisory_id,
            "impetus": self.impetus,
            "test": self.test.id,
            "nvr": self.test.nvr,
            "status": self.test.status,
            "passed": self.passed,
        }


# --- the rules (pure) -------------------------------------------------------------------------
def cvp_passed(status: str) -> bool:
    """Whether a CVP status passes the gate: PASSED or WAIVED, nothing else (§5.2)."""
    return status.strip().upper() in VALID_STATUSES


def abnormal(rows: Sequence[CvpRow]) -> list[CvpRow]:
    """The rows whose test did not pass."""
    return [r for r in rows if not r.passed]


def to_refetch(rows: Sequence[CvpRow]) -> list[CvpRow]:
    """The abnormal rows whose test ended (all but PENDING): their result is fetched again."""
    return [r for r in abnormal(rows) if r.test.status.strip().upper() != RUNNING]


def issue_text(failed: Sequence[CvpRow]) -> str:
    """The blocker issue's text: the advisories and test runs, not their statuses (a
    refetch turns FAILED into PENDING, and that is the same failure still)."""
    advisories = ", ".join(str(a) for a in sorted({r.advisory_id for r in failed}))
    tests = ", ".join(str(t) for t in sorted({r.test.id for r in failed}))
    return f"{ISSUE_PREFIX} in advisories {advisories}: test runs {tests}"


def run_link(errata_url: str, row: CvpRow) -> str:
    """Errata Tool's page of the test run (where its Refetch button is)."""
    return f"{errata_url.rstrip('/')}/advisory/{row.advisory_id}/test_run/{row.test.id}"


def leads_message(failed: Sequence[CvpRow], *, release: str, group: str, errata_url: str) -> str:
    """The QE release channel's message (§5.5.6's words; the failing tests instead of the
    CVP Jira bug the original linked)."""
    lines = [
        f"[{release}] Hello {group}, there are Greenwave CVP failures in advisories. Please"
        " contact CVP team. Failed tests (a refetch was requested for each that ended):"
    ]
    for row in failed:
        advisory = f"<{errata_url.rstrip('/')}/advisory/{row.advisory_id}|{row.advisory_id}>"
        lines.append(
            f"<{run_link(errata_url, row)}|{row.test.id}> {row.test.nvr} ({row.test.status})"
            f" in advisory {advisory}"
        )
    return "\n".join(lines)


def table(rows: Sequence[CvpRow]) -> str:
    """The results as a plain-text table (advisory, test, NVR, status)."""
    grid = Table(title="Greenwave CVP tests", title_justify="left")
    for column in ("ADVISORY", "IMPETUS", "TEST", "NVR", "STATUS"):
        grid.add_column(column, overflow="fold")
    for row in rows:
        status = row.test.status if row.passed else f"{row.test.status} (not passed)"
        grid.add_row(str(row.advisory_id), row.impetus, str(row.test.id), row.test.nvr, status)
    out = io.StringIO()
    Console(file=out, width=140, color_system=None, force_terminal=False).print(grid)
    return "\n".join(line.rstrip() for line in out.getvalue().rstrip().splitlines())


# --- the steps --------------------------------------------------------------------------------
async def cvp_rows(errata: Errata, advisories: dict[str, int]) -> tuple[list[CvpRow], list[int]]:
    """Every CVP test run of the advisories (dropped ones skipped); and the advisories
    that have none."""
    rows: list[CvpRow] = []
    without: list[int] = []
    for impetus, advisory_id in sorted(advisories.items()):
        advisory = await errata.get_advisory(advisory_id)
        if advisory.state is AdvisoryState.DROPPED_NO_SHIP:
            log.info("greenwave.advisory_dropped", advisory=advisory_id, impetus=impetus)
            continue
        log.info("greenwave.checking", advisory=advisory_id, impetus=impetus)
        results = await errata.cvp_results(advisory_id)
        if not results:
            log.info("greenwave.no_tests", advisory=advisory_id)
            without.append(advisory_id)
            continue
        found = [CvpRow(advisory_id=advisory_id, impetus=impetus, test=t) for t in results]
        for row in found:
            log.info(
                "greenwave.test", advisory=advisory_id, test=row.test.id, status=row.test.status
            )
        log.info("greenwave.advisory_checked", advisory=advisory_id, passed=not abnormal(found))
        rows.extend(found)
    return rows, without


async def check_greenwave_cvp_tests(ctx: ReleaseContext) -> Outcome:
    """Check the release's Greenwave CVP test results (see the module's docstring)."""
    errata = ctx.ports.errata
    advisories = advisory_impetuses(ctx.config.advisories())
    rows, without = await cvp_rows(errata, advisories)
    failed = abnormal(rows)
    data: dict[str, JSON] = {
        "results": [r.to_data() for r in rows],
        "without_tests": list(without),
        "failed": [r.test.id for r in failed],
        "refetched": [],
        "issue": None,
        "announced": None,
    }
    shown = table(rows) if rows else "no Greenwave CVP tests in the release's advisories"
    if without and rows:
        shown += f"\nno Greenwave CVP tests in advisories {', '.join(map(str, without))}"
    if not failed:
        log.info("greenwave.all_passed", release=ctx.release)
        return Outcome.passed(shown, data=data)

    log.warning("greenwave.not_all_passed", release=ctx.release, failed=len(failed))
    channel, handle = ctx.config.qe_release_channel(), ctx.config.qe_leads_group()
    await ctx.prove("errata", advisories=advisories)
    refetched = []
    for row in to_refetch(rows):
        await errata.refetch_test(row.test.id)
        ctx.did(
            f"requested a refetch of CVP test {row.test.id} ({row.test.nvr}) of advisory"
            f" {row.advisory_id}"
        )
        refetched.append(row.test.id)
    data["refetched"] = list(refetched)

    text = issue_text(failed)
    # The store keeps one open issue per text: an id seen before means it was known.
    known = {i.id for i in (await ctx.state.get(ctx.release)).issues if not i.resolved}
    issue = await ctx.state.add_issue(
        ctx.release, text, blocker=True, related_tasks=[TASK], actor=ctx.actor
    )
    data["issue"] = issue.id
    lines = [
        shown,
        f"NOT all Greenwave CVP tests are passed: {len(failed)} test(s) in advisories"
        f" {', '.join(str(a) for a in sorted({r.advisory_id for r in failed}))}",
        f"refetch requested for tests: {', '.join(map(str, refetched)) or 'none (all pending)'}",
    ]
    if issue.id in known:
        lines.append(f"blocker #{issue.id} already reports them: the QE leads were told then")
    else:
        lines.append(f"blocker #{issue.id}: {issue.text}")
        notifier = ctx.ports.notifier
        message = leads_message(
            failed,
            release=ctx.release,
            group=await notifier.group_mention(handle),
            errata_url=ctx.settings.errata_url,
        )
        delivery = await notifier.summary(channel, message, source=f"{TASK}:{ctx.release}")
        data["announced"] = delivery.ok
        lines.append(
            f"announced in {channel}"
            if delivery.ok
            else f"the announcement to {channel} failed: {delivery.error}"
        )
    return Outcome.failed("\n".join(lines), data=data)
