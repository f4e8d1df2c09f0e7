"""``is-shipped``: has the release shipped? (the original's MCP tool
``oar_is_release_shipped``; the rule is :mod:`oar.release.shipment`).

Reads each advisory's state in Errata Tool and, in the Konflux flow, the shipment MR and
its latest pipeline's prod release in GitLab; prints the verdict and one line per item,
and exits 0 either way (it is a read). A system that cannot be read is an error naming
it. The verdict is kept in the release's metadata (key ``shipment``, with when it was
checked) for the release page's badge. Not a checklist task: no task status is recorded.
"""

from __future__ import annotations

from datetime import UTC, datetime

from oar.errors import ConfigurationError
from oar.integrations.gitlab import PROD_RELEASE_LABEL, MergeRequestState, merge_request_ref
from oar.logs import get_logger
from oar.release.advisories import advisory_impetuses
from oar.release.shipment import (
    RECORD_KEY,
    AdvisoryCheck,
    Shipment,
    errata_shipment,
    konflux_shipment,
    prod_release_status,
    record,
)
from oar.release.tracking import Outcome, ReleaseContext

log = get_logger(__name__)


async def _advisories(ctx: ReleaseContext) -> list[AdvisoryCheck]:
    checks = []
    for impetus, advisory_id in sorted(advisory_impetuses(ctx.config.advisories()).items()):
        advisory = await ctx.ports.errata.get_advisory(advisory_id)
        checks.append(AdvisoryCheck(impetus=impetus, advisory_id=advisory_id, state=advisory.state))
    return checks


async def _konflux(ctx: ReleaseContext, advisories: list[AdvisoryCheck]) -> Shipment:
    url = ctx.config.shipment_mr()
    if url is None:
        raise ConfigurationError(
            f"{ctx.release} is a Konflux release without a shipment MR (group/shipment/url)"
        )
    project, iid = merge_request_ref(url)
    gitlab = ctx.ports.gitlab
    mr = await gitlab.get_merge_request(project, iid)
    prod = None
    if mr.state is not MergeRequestState.MERGED and PROD_RELEASE_LABEL not in mr.labels:
        pipelines = await gitlab.pipelines(project, iid)
        if pipelines:
            prod = prod_release_status(await gitlab.pipeline_jobs(project, pipelines[0].id))
    return konflux_shipment(
        mr_iid=iid,
        mr_state=mr.state,
        mr_labels=mr.labels,
        prod_release=prod,
        advisories=advisories,
    )


async def is_shipped(ctx: ReleaseContext) -> Outcome:
    """Say whether the release has shipped, and why (see the module)."""
    advisories = await _advisories(ctx)
    if ctx.config.is_konflux:
        shipment = await _konflux(ctx, advisories)
    else:
        shipment = errata_shipment(advisories)
    await ctx.state.set_metadata(
        ctx.release,
        RECORD_KEY,
        record(shipment, checked_at=datetime.now(UTC), advisories=advisories),
    )
    log.info("shipment.checked", release=ctx.release, shipped=shipment.shipped)
    return Outcome.passed(shipment.report(ctx.release), data=shipment.to_data())
