"""``create-test-report``: start tracking a release, once, and tell its QE leads.

The release's report is its state in OAR's database (the original kept a Google Sheet tab,
then a StateBox file in GitHub). This body records the release's metadata from its
configuration and ocp-build-data — advisories, candidate builds, the ART Jira ticket, the
shipment MR, the release date and so the flow — and announces the new report in the QE
release channel, mentioning the y-stream's QE-lead group, with a link to the release on
the dashboard when ``OAR_DASHBOARD_URL`` is set. With ``OAR_STATEBOX_EXPORT`` set it also
writes the release's StateBox file in that directory.

It is idempotent: once a run of it has passed, the report exists, and a later run says so
and changes nothing (no second announcement, no file written). The two flows differ only
in what the report holds: a Konflux release has a shipment MR, an errata release has
advisories (and no MR).

A release with no release date in ocp-build-data is refused (its build data is not ready),
as the original refused to build its StateBox.
"""

from __future__ import annotations

from datetime import datetime

from oar.jsonvalue import JSON
from oar.logs import get_logger
from oar.release import statebox
from oar.release.checklist import Flow, ReleaseMetadata, TaskStatus
from oar.release.records import RunInfo
from oar.release.tracking import Outcome, ReleaseContext

log = get_logger(__name__)

TASK = "create-test-report"


def dashboard_link(base_url: str | None, release: str) -> str | None:
    """``<base>/releases/<release>``, or None without a dashboard URL."""
    if not base_url:
        return None
    return f"{base_url.rstrip('/')}/releases/{release}"


def details(metadata: ReleaseMetadata) -> str:
    """One line on what the report holds; what differs by flow comes last."""
    parts = [f"{metadata.flow.value if metadata.flow else 'unknown'} flow"]
    if metadata.release_date:
        parts.append(f"release date {metadata.release_date}")
    if metadata.jira_ticket:
        parts.append(f"Jira {metadata.jira_ticket}")
    if metadata.flow is Flow.KONFLUX and metadata.shipment_mr:
        parts.append(f"shipment MR {metadata.shipment_mr}")
    if metadata.advisory_ids:
        listed = ", ".join(f"{k} {v}" for k, v in sorted(metadata.advisory_ids.items()))
        parts.append(f"advisories: {listed}")
    elif metadata.flow is Flow.ERRATA:
        parts.append("no advisories yet")
    return " · ".join(parts)


def announcement(mention: str, metadata: ReleaseMetadata, link: str | None) -> str:
    """The QE release channel's message about a new report."""
    release = metadata.release
    head = f"Hello {mention}, new report for {release} is created for release tracking"
    head += f": <{link}|{release} on the OAR dashboard>" if link else "."
    return f"{head}\n{details(metadata)}"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "at an unknown time"


def already_exists(release: str, run: RunInfo) -> Outcome:
    """The outcome of a run after the report was created: nothing changes."""
    message = (
        f"the report for {release} already exists (created {_when(run.ended_at)} by"
        f" {run.actor} via {run.interface}, run #{run.id}); nothing changed"
    )
    return Outcome.passed(
        message,
        data={
            "created": False,
            "release": release,
            "created_by": run.actor,
            "created_at": run.ended_at.isoformat() if run.ended_at else None,
            "created_in_run": run.id,
        },
    )


async def create_test_report(ctx: ReleaseContext) -> Outcome:
    """Create the release's report and announce it (see the module's docstring)."""
    config, state, release = ctx.config, ctx.state, ctx.release
    earlier = await state.first_run(release, TASK, status=TaskStatus.PASS)
    if earlier is not None:
        return already_exists(release, earlier)
    # What the announcement needs is read before anything is written: a configuration
    # without it fails the run with nothing changed.
    channel = config.qe_release_channel()
    group = config.qe_leads_group()
    config.release_date()  # no date: ocp-build-data is not ready for this release
    metadata = config.metadata()
    await state.ensure_release(release, metadata)
    log.info("report.created", release=release, flow=config.flow.value)

    exported: str | None = None
    directory = ctx.settings.statebox_export
    if directory is not None:
        document = statebox.statebox_document(await state.get(release))
        # This command is not a StateBox task (the original never recorded it there).
        document["tasks"] = [t for t in document["tasks"] if t["name"] != TASK]
        path = statebox.write_to_directory(directory, document, variable="OAR_STATEBOX_EXPORT")
        exported = str(path)
        ctx.did(f"wrote the StateBox file {path}")

    notifier = ctx.ports.notifier
    link = dashboard_link(ctx.settings.dashboard_url, release)
    text = announcement(await notifier.group_mention(group), metadata, link)
    delivery = await notifier.summary(channel, text, source=f"report:{release}")
    if delivery.ok:
        ctx.did(f"announced the report in {channel}")
        said = f"announced in {channel}"
    else:  # Slack is best effort: the report exists; the failure is said and recorded
        log.warning("report.announce_failed", release=release, error=delivery.error)
        said = f"the announcement in {channel} failed: {delivery.error}"

    message = f"created the report for {release} ({details(metadata)}); {said}"
    if exported:
        message += f"; wrote {exported}"
    data: dict[str, JSON] = {
        "created": True,
        "release": release,
        "flow": config.flow.value,
        "metadata": metadata.to_dict(),
        "channel": channel,
        "announced": delivery.ok,
        "link": link,
        "statebox": exported,
    }
    return Outcome.passed(message, data=data)
