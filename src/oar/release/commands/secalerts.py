"""``check-blocking-sec-alerts``: do ProdSec security alerts block the release's RHSA
advisories? (reference: oar-commands.md §6, the errata branch's command).

Each RHSA advisory of the release (microshift and dropped ones aside) has its security
alerts refreshed and read with the rule ``change-advisory-status`` refuses on
(:mod:`oar.release.secalerts`). Blocking alerts make the outcome Fail (exit 1) and open
one blocker issue on the release, related to change-advisory-status (the original's
"ALERT: Blocking Sec-Alert(s): …" cell, which its own defect could never write); running
it again while they block adds nothing; once none blocks, the outcome names the blocker
still open for a person to resolve.
``--check-only`` reports without touching the release's issues. It is not a checklist
task: no task status is recorded (the original recorded none either).
"""

from __future__ import annotations

from collections.abc import Sequence

from oar.jsonvalue import JSON
from oar.logs import get_logger
from oar.release.advisories import advisory_impetuses
from oar.release.approval import APPROVAL_TASK
from oar.release.secalerts import AlertCheck, blocking, check_advisories
from oar.release.tracking import Outcome, ReleaseContext

log = get_logger(__name__)

ISSUE_PREFIX = "ALERT: Blocking Sec-Alert"


def issue_text(found: Sequence[AlertCheck]) -> str:
    """The blocker issue's text, as the original worded its sheet cell (§6.6)."""
    ids = ", ".join(str(c.advisory_id) for c in found)
    return f"{ISSUE_PREFIX}{'s' if len(found) > 1 else ''}: {ids}"


def report(checks: Sequence[AlertCheck]) -> str:
    """The outcome's lines: the blocking advisories and their alerts, or that none is."""
    found = blocking(checks)
    if not found:
        if not checks:
            return "No blocking security alerts found (the release has no RHSA advisory)"
        ids = ", ".join(str(c.advisory_id) for c in checks)
        return f"No blocking security alerts found (RHSA advisories checked: {ids})"
    lines = ["BLOCKING SECURITY ALERTS FOUND:"]
    for check in found:
        names = ", ".join(check.alerts.alerts) or "unnamed alert"
        lines.append(f"  RHSA {check.advisory_id} ({check.impetus}): {names}")
    return "\n".join(lines)


async def check_blocking_sec_alerts(ctx: ReleaseContext, *, check_only: bool = False) -> Outcome:
    """Check the release's RHSA advisories for blocking security alerts (see the module)."""
    checks = await check_advisories(ctx.ports.errata, advisory_impetuses(ctx.config.advisories()))
    found = blocking(checks)
    data: dict[str, JSON] = {
        "checked": [c.to_data() for c in checks],
        "blocking": [c.advisory_id for c in found],
        "issue": None,
        "open": [],
    }
    message = report(checks)
    if check_only:
        return (Outcome.failed if found else Outcome.passed)(message, data=data)
    if found:
        issue = await ctx.state.add_issue(
            ctx.release,
            issue_text(found),
            blocker=True,
            related_tasks=[APPROVAL_TASK],
            actor=ctx.actor,
        )
        data["issue"] = issue.id
        log.info("secalerts.blocker", release=ctx.release, issue_id=issue.id)
        return Outcome.failed(
            f"{message}\nblocker #{issue.id} of {APPROVAL_TASK}: {issue.text}", data=data
        )
    # None blocks now. A blocker this check opened earlier stays for people to resolve
    # (it says what was found then); the outcome points at it.
    still_open = [
        issue.id
        for issue in (await ctx.state.get(ctx.release)).issues
        if not issue.resolved and issue.text.startswith(ISSUE_PREFIX)
    ]
    data["open"] = list(still_open)
    if still_open:
        ids = ", ".join(f"#{i}" for i in still_open)
        message += (
            f"\nan earlier sec-alert blocker is still open ({ids}): resolve it with"
            f" `oar -r {ctx.release} issue resolve <id> --resolution <text>`"
        )
    return Outcome.passed(message, data=data)
