"""``check-cve-tracker-bug``: CVE tracker bugs that should ship in the release and are
not attached to it (reference: oar-commands.md §7).

elliott (a port, :mod:`oar.integrations.elliott`) lists the assembly's CVE trackers per
advisory kind: ``find-bugs --cve-only`` on Brew (the advisory side) and, in the Konflux
flow, on Konflux too (the shipment side). A tracker is missing when it is attached to
none of the release's RHSA advisories (a CVE fix ships in a security advisory: one
attached only to an RHBA one is missing too) and, in the Konflux flow, to none of the
shipment MR's YAML files. Fixed from the original:

- every advisory kind elliott reports counts (the original read only ``rpm`` and
  ``rhcos``, so an errata release's ``image``, ``extras`` and ``metadata`` trackers were
  never checked); ``microshift`` aside, which ships apart from the release (§0.1);
- a tracker both sides report is reported once;
- missing trackers make the task Fail and open one blocker issue on the release; running
  it again while that issue is open reports the same issue (the original crashed on its
  own unresolved blocker) and does not tell ART twice.

With ``--notify`` (the default) ART hears about newly found trackers (§7.10).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from oar.integrations.elliott import BuildSystem, Elliott, Trackers
from oar.integrations.errata import AdvisoryState, Errata
from oar.jsonvalue import JSON
from oar.logs import get_logger
from oar.release.advisories import EXCLUDED_IMPETUS
from oar.release.bugs import Collection, collect_from_shipment, key_order
from oar.release.secalerts import SECURITY_ADVISORY
from oar.release.tracking import Outcome, ReleaseContext

log = get_logger(__name__)

TASK = "check-cve-tracker-bug"
NONE_MISSING = "no new CVE tracker bug found in either advisories or shipments"
SIDES = {BuildSystem.BREW: "advisories", BuildSystem.KONFLUX: "shipments"}


@dataclass(frozen=True, kw_only=True)
class Missing:
    """The trackers missing from the release, and which side of elliott found each."""

    keys: tuple[str, ...]
    by_side: Mapping[BuildSystem, tuple[str, ...]]

    def to_data(self) -> dict[str, JSON]:
        return {
            "missing": list(self.keys),
            "by_side": {str(side): list(keys) for side, keys in self.by_side.items()},
        }


# --- the rules (pure) -------------------------------------------------------------------------
def tracker_keys(trackers: Trackers) -> list[str]:
    """Every tracker of every advisory kind but microshift's, each once, in key order."""
    keys = {k for kind, found in trackers.items() if kind not in EXCLUDED_IMPETUS for k in found}
    return sorted(keys, key=key_order)


def missing_trackers(found: Mapping[BuildSystem, Trackers], attached: Iterable[str]) -> Missing:
    """The trackers elliott found (each side) that are not among the ``attached`` keys."""
    known = set(attached)
    by_side = {
        side: tuple(k for k in tracker_keys(trackers) if k not in known)
        for side, trackers in found.items()
    }
    keys = sorted({k for side in by_side.values() for k in side}, key=key_order)
    return Missing(keys=tuple(keys), by_side=by_side)


def blocker_text(missing: Missing) -> str:
    """The blocker issue's text, worded as the original's (§7.8.2)."""
    counts = {SIDES[side]: len(keys) for side, keys in missing.by_side.items() if keys}
    text = f"Found {len(missing.keys)} missed CVE tracker bugs"
    if len(counts) > 1:
        text += ": " + ", ".join(f"{n} in {where}" for where, n in counts.items())
    elif counts:
        text += f" in {next(iter(counts))}"
    lines = "\n".join(f"- {k}" for k in missing.keys)
    return f"{text}\n\nMissed CVE tracker bugs:\n{lines}"


def art_message(keys: Sequence[str], *, group: str, jira_url: str) -> str:
    """ART's message (§7.10)."""
    links = "".join(f"<{jira_url.rstrip('/')}/browse/{k}|{k}> " for k in keys)
    return (
        f"Hello {group}, Found new CVE tracker bugs not attached on advisories, could you take"
        f" a look, thanks\n{links}\n"
    )


# --- the steps --------------------------------------------------------------------------------
async def rhsa_issue_keys(errata: Errata, advisories: Mapping[str, int]) -> set[str]:
    """The Jira keys attached to the release's RHSA advisories (dropped and microshift
    ones aside)."""
    keys: set[str] = set()
    for impetus, advisory_id in sorted(advisories.items()):
        if impetus in EXCLUDED_IMPETUS:
            continue
        advisory = await errata.get_advisory(advisory_id)
        if advisory.state is AdvisoryState.DROPPED_NO_SHIP:
            continue
        if advisory.type.upper() != SECURITY_ADVISORY:
            log.info("cve.advisory_not_rhsa", advisory=advisory_id, type=advisory.type)
            continue
        keys.update(i.key for i in await errata.jira_issues(advisory_id))
    return keys


async def elliott_trackers(
    elliott: Elliott, ctx: ReleaseContext, sides: Sequence[BuildSystem]
) -> dict[BuildSystem, Trackers]:
    """elliott's ``find-bugs --cve-only`` for the release's assembly, per side."""
    group = f"openshift-{ctx.version.y_stream}"
    assembly = ctx.version.release_key
    found = {}
    for side in sides:
        found[side] = await elliott.find_cve_trackers(
            group=group, assembly=assembly, build_system=side
        )
        log.info("cve.elliott_found", side=str(side), trackers=tracker_keys(found[side]))
    return found


async def check_cve_tracker_bug(ctx: ReleaseContext, *, notify: bool = True) -> Outcome:
    """Report the CVE trackers missing from the release (see the module's docstring)."""
    config, ports = ctx.config, ctx.ports
    shipment_mr = config.shipment_mr() if config.is_konflux else None
    sides = [BuildSystem.BREW] + ([BuildSystem.KONFLUX] if shipment_mr else [])
    found = await elliott_trackers(ports.elliott, ctx, sides)
    attached = await rhsa_issue_keys(ports.errata, config.advisories())
    if shipment_mr is not None:
        shipment = Collection()
        await collect_from_shipment(ports.gitlab, shipment_mr, shipment)
        attached.update(a.key for a in shipment.attachments())
    missing = missing_trackers(found, attached)
    data: dict[str, JSON] = {
        "found": {str(side): {k: list(v) for k, v in t.items()} for side, t in found.items()},
        **missing.to_data(),
        "issue": None,
        "notified": None,
    }
    if not missing.keys:
        log.info("cve.none_missing", release=ctx.release)
        return Outcome.passed(NONE_MISSING, data=data)

    lines = []
    for side, keys in missing.by_side.items():
        for key in keys:
            log.warning("cve.tracker_missing", key=key, side=str(side))
        if keys:
            lines.append(
                f"Found {len(keys)} missed CVE tracker bugs in {SIDES[side]}: {', '.join(keys)}"
            )
    text = blocker_text(missing)
    # The store keeps one open issue per text: an id seen before means it was known.
    known = {i.id for i in (await ctx.state.get(ctx.release)).issues if not i.resolved}
    issue = await ctx.state.add_issue(
        ctx.release, text, blocker=True, related_tasks=[TASK], actor=ctx.actor
    )
    data["issue"] = issue.id
    log.info("cve.blocker", release=ctx.release, issue_id=issue.id, new=issue.id not in known)
    if issue.id in known:
        lines.append(f"blocker #{issue.id} already reports them: ART was told then")
    else:
        lines.append(f"blocker #{issue.id} of {TASK}")
        if notify:
            channel = config.slack_channel("art")
            notifier = ports.notifier
            message = art_message(
                missing.keys,
                group=await notifier.group_mention(config.slack_group_id("art")),
                jira_url=ctx.settings.jira_url,
            )
            delivery = await notifier.summary(channel, message, source=f"{TASK}:{ctx.release}")
            data["notified"] = delivery.ok
            lines.append(
                f"ART told in {channel}"
                if delivery.ok
                else f"the message to ART in {channel} failed: {delivery.error}"
            )
        else:
            lines.append("ART not told (--no-notify)")
    return Outcome.failed("\n".join(lines), data=data)
