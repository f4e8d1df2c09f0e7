"""``image-signed-check``: is the release's stable payload signed? Follow until it is.

One look (:func:`oar.release.signing.look`): the stable build's payload digest on the
release controller, then its signature on the signature server. Signed: Pass at once, and
the QE release channel hears it. Otherwise (no stable build or digest yet, or no
signature yet) it starts the release's signature follow — or joins the one running — and
returns In Progress: the follow records Pass when the signature is published, Fail when
the deadline passes first. Changes nothing outside OAR.
"""

from __future__ import annotations

from oar.errors import OarError
from oar.jsonvalue import JSON
from oar.logs import get_logger
from oar.release.commands.following import follow, reported_in, request_for
from oar.release.follows import FollowStatus
from oar.release.signing import KIND, follow_key, look, summary_text
from oar.release.tracking import Outcome, ReleaseContext

log = get_logger(__name__)


async def image_signed_check(ctx: ReleaseContext) -> Outcome:
    """Check the payload's signature (see the module's docstring)."""
    config, ports, settings = ctx.config, ctx.ports, ctx.settings
    data: dict[str, JSON] = {}
    request = request_for(
        ctx,
        kind=KIND,
        key=follow_key(ctx.release),
        interval=settings.signature_check_interval,
        deadline=settings.signature_check_deadline,
        data={},
    )
    what = "joined"
    # A follow that runs decides (and reports) the outcome: this run joins it unlooked.
    if await ports.follows.running(request.key) is None:
        try:
            found = await look(ports.releases, ports.signatures, ctx.version)
        except OarError as exc:  # the follow looks again; this is only its first look
            log.warning("signature.lookup_failed", release=ctx.release, error=exc.message)
            what = f"the first look failed ({exc.message})"
        else:
            log.info("signature.looked", release=ctx.release, state=found.state.value)
            data["lookup"] = found.data()
            if found.state.done:
                notifier = ports.notifier
                text = summary_text(
                    FollowStatus.SUCCEEDED,
                    release=ctx.release,
                    group=await notifier.group_mention(config.qe_leads_group()),
                    detail=found.text(),
                )
                await notifier.summary(config.qe_release_channel(), text, source=request.key)
                return Outcome.passed(f"Signature check PASSED: {found.text()}", data=data)
            what = found.text()

    following = await follow(ctx, request)
    data.update(following.data())
    return Outcome.in_progress(following.text(what, reported_in=reported_in(ctx)), data=data)
