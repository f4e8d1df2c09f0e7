"""Dropping bugs from a release: from its advisories and from its shipment data.

A bug leaves the release from where it is attached: its advisories (Errata Tool's
``idsfixed`` less the key, :meth:`~oar.integrations.errata.Errata.remove_jira_issues`) and,
in the Konflux flow, the shipment data, through one GitLab merge request per release
titled ``<release> drop bugs`` (reused while open) whose edit removes exactly the bug's
``releaseNotes.issues.fixed`` entries (:func:`oar.release.shipments.without_issues`). The
doc and prodsec approvals the drop takes away are asked for again (:func:`reapprove`).
The durable drop after an owner's approval is :mod:`oar.release.dropapprovals`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from oar.errors import OarError
from oar.integrations.errata import Advisory, Errata
from oar.integrations.gitlab import GitLab, MergeRequestState, merge_request_ref
from oar.jsonvalue import JSON
from oar.logs import get_logger
from oar.release.bugs import Attachment
from oar.release.shipments import without_issues

if TYPE_CHECKING:
    from oar.integrations.slack import Notifier

log = get_logger(__name__)

MR_TITLE = "{release} drop bugs"
MR_NOTE = "Drop bug in MR: {url}"
COMMIT_MESSAGE = "drop bugs from shipment yaml files"
BRANCH = "drop-bugs-for-{release}-{stamp}"

Done = Callable[[str], None]


def _nothing(step: str) -> None:
    """The default :data:`Done`: the caller does not track steps."""


# --- dropping (on the ports) -----------------------------------------------------------------


def attachment_data(attachment: Attachment) -> dict[str, JSON]:
    """Where a bug is attached, as JSON (a follow's data)."""
    return {
        "advisories": list(attachment.advisories),
        "shipment_files": list(attachment.shipment_files),
    }


def attachment_of(key: str, raw: Mapping[str, Any]) -> Attachment:
    """The :class:`~oar.release.bugs.Attachment` :func:`attachment_data` describes."""
    return Attachment(
        key=key,
        advisories=tuple(int(a) for a in raw.get("advisories") or ()),
        shipment_files=tuple(str(f) for f in raw.get("shipment_files") or ()),
    )


def where_text(attachment: Attachment) -> str:
    """``advisory 150101, shipment file 4.19.3.image.yaml`` (people's words)."""
    parts = [f"advisory {a}" for a in attachment.advisories]
    parts += [f"shipment file {f.rsplit('/', 1)[-1]}" for f in attachment.shipment_files]
    return ", ".join(parts) or "nowhere"


@dataclass(frozen=True, kw_only=True)
class ShipmentDrop:
    """What a shipment edit did: the keys removed, the drop MR, whether it was new."""

    removed: tuple[str, ...] = ()
    mr_url: str | None = None
    created: bool = False


async def drop_from_advisories(
    errata: Errata, by_advisory: Mapping[int, Sequence[str]], *, done: Done = _nothing
) -> dict[int, list[str]]:
    """Detach each advisory's keys; returns, per advisory, the keys it no longer has."""
    removed: dict[int, list[str]] = {}
    for advisory_id, keys in sorted(by_advisory.items()):
        gone = await errata.remove_jira_issues(advisory_id, list(keys))
        if gone:
            done(f"removed {', '.join(gone)} from advisory {advisory_id}")
            log.info("drops.advisory", advisory=advisory_id, keys=gone)
            removed[advisory_id] = gone
        else:
            log.info("drops.advisory_unchanged", advisory=advisory_id, keys=list(keys))
    return removed


async def drop_from_shipment(
    gitlab: GitLab,
    *,
    release: str,
    shipment_mr: str,
    by_file: Mapping[str, Sequence[str]],
    now: datetime,
    done: Done = _nothing,
) -> ShipmentDrop:
    """Remove the keys from the shipment files through the release's drop MR: the open MR
    titled ``<release> drop bugs`` when there is one (its branch gets the commit), else a
    new branch off the shipment MR's source branch, an MR into it, and the comment
    ``Drop bug in MR: <url>`` on the shipment MR. Nothing is created when no file changes.
    """
    project, iid = merge_request_ref(shipment_mr)
    shipment = await gitlab.get_merge_request(project, iid)
    title = MR_TITLE.format(release=release)
    found = await gitlab.merge_requests(project, state=MergeRequestState.OPENED, search=title)
    existing = next((mr for mr in found if mr.title.strip() == title), None)
    ref = existing.source_branch if existing else shipment.source_branch
    edited: dict[str, str] = {}
    removed: list[str] = []
    for path, keys in sorted(by_file.items()):
        text = await gitlab.file_content(project, path, ref=ref)
        if text is None:
            log.warning("drops.shipment_file_missing", path=path, ref=ref)
            continue
        new_text, gone = without_issues(text, keys, path=path)
        if gone:
            edited[path] = new_text
            removed.extend(gone)
    if not edited:
        return ShipmentDrop(mr_url=existing.web_url if existing else None)
    branch = ref
    if existing is None:
        branch = BRANCH.format(release=release, stamp=f"{now:%Y%m%d%H%M%S}")
        await gitlab.create_branch(project, branch, ref=shipment.source_branch)
        done(f"created branch {branch} off the shipment MR's {shipment.source_branch}")
    await gitlab.commit_files(project, branch, message=COMMIT_MESSAGE, files=edited)
    keys_text = ", ".join(dict.fromkeys(removed))
    done(f"committed the removal of {keys_text} from the shipment data on {branch}")
    if existing is not None:
        log.info("drops.shipment_mr_reused", mr=existing.iid, keys=removed)
        return ShipmentDrop(removed=tuple(dict.fromkeys(removed)), mr_url=existing.web_url)
    mr = await gitlab.create_merge_request(
        project,
        source_branch=branch,
        target_branch=shipment.source_branch,
        title=title,
        description=f"Unverified bugs dropped from the {release} shipment by OAR drop-bugs.",
    )
    done(f"opened merge request !{mr.iid} {title!r}")
    note = MR_NOTE.format(url=mr.web_url)
    if all(n.body.strip() != note for n in await gitlab.notes(project, iid)):
        await gitlab.add_note(project, iid, note)
        done(f"commented {note!r} on shipment MR !{iid}")
    log.info("drops.shipment_mr_opened", mr=mr.iid, keys=removed)
    return ShipmentDrop(removed=tuple(dict.fromkeys(removed)), mr_url=mr.web_url, created=True)


@dataclass(frozen=True, kw_only=True)
class Reapproval:
    """The advisories whose doc or prodsec approval a drop took away, asked again."""

    doc: tuple[int, ...] = ()
    prodsec: tuple[int, ...] = ()

    def text(self) -> str:
        parts = []
        if self.doc:
            parts.append(f"doc approval asked again for {', '.join(map(str, self.doc))}")
        if self.prodsec:
            parts.append(f"prodsec approval asked again for {', '.join(map(str, self.prodsec))}")
        return "; ".join(parts)


def lost_approvals(before: Mapping[int, Advisory], after: Mapping[int, Advisory]) -> Reapproval:
    """Which approvals to ask for again (reference §4.5, its defect fixed). Pure.

    Doc: approved before, not any more, and not requested yet. Prodsec (RHSA): approved
    before and no longer even requested — the original compared a boolean with the string
    ``'null'`` and so never asked again."""
    doc, prodsec = [], []
    for advisory_id, was in sorted(before.items()):
        now = after.get(advisory_id)
        if now is None:
            continue
        if was.doc_complete and not now.doc_complete and not now.text_ready:
            doc.append(advisory_id)
        if was.type == "RHSA" and was.security_approved is True and now.security_approved is None:
            prodsec.append(advisory_id)
    return Reapproval(doc=tuple(doc), prodsec=tuple(prodsec))


async def reapprove(
    errata: Errata, before: Mapping[int, Advisory], *, done: Done = _nothing
) -> Reapproval:
    """Ask again for the doc and prodsec approvals the drop took away."""
    after = {advisory_id: await errata.get_advisory(advisory_id) for advisory_id in before}
    lost = lost_approvals(before, after)
    for advisory_id in lost.doc:
        await errata.request_doc_approval(advisory_id)
        done(f"asked again for the doc approval of advisory {advisory_id}")
    for advisory_id in lost.prodsec:
        await errata.request_prodsec_approval(advisory_id)
        done(f"asked again for the prodsec approval of advisory {advisory_id}")
    return lost


@dataclass(frozen=True, kw_only=True)
class Approvers:
    """Who approves an advisory's docs and (RHSA) prodsec: ``contacts.slack.approver``."""

    channel: str
    doc_group: str  # the docs team's Slack user group handle
    prodsec: tuple[str, ...] = ()  # product security's e-mails

    def to_dict(self) -> dict[str, JSON]:
        return {"channel": self.channel, "doc_group": self.doc_group, "prodsec": list(self.prodsec)}

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> Approvers:
        return cls(
            channel=str(raw.get("channel", "")),
            doc_group=str(raw.get("doc_group", "")),
            prodsec=tuple(str(e) for e in raw.get("prodsec") or ()),
        )


def approver_message(
    *, release: str, doc_group: str, prodsec: Sequence[str], reapproval: Reapproval
) -> str:
    """The approvers' channel message (§4.7's texts; ``prodsec``: the mentions). Pure."""
    parts = []
    if reapproval.doc:
        parts.append(
            f"[{release}] Hello {doc_group}, Could you approve doc for advisories:"
            f"{list(reapproval.doc)}, thanks!"
        )
    if reapproval.prodsec:
        parts.append(
            f"[{release}] Hello {' '.join(prodsec)}, Could you approve Prodsec for advisories:"
            f"{list(reapproval.prodsec)}, thanks!"
        )
    return "\n".join(parts)


async def tell_approvers(
    notifier: Notifier, approvers: Approvers, *, release: str, reapproval: Reapproval, source: str
) -> str:
    """Ask the doc and prodsec approvers in their channel (every prodsec e-mail mentioned:
    the original mentioned them only when there were several); what became of it. Slack
    failing is said, never raised."""
    text = approver_message(
        release=release,
        doc_group=await notifier.group_mention(approvers.doc_group),
        prodsec=[await notifier.user_mention(e) for e in approvers.prodsec],
        reapproval=reapproval,
    )
    if not text:
        return ""
    delivery = await notifier.summary(approvers.channel, text, source=source)
    if delivery.ok:
        return f"approvers asked in {approvers.channel}"
    return f"the message to the approvers in {approvers.channel} failed: {delivery.error}"


@dataclass(frozen=True, kw_only=True)
class Dropped:
    """What a drop did: per key, where it was removed from; the shipment edit; the
    approvals asked for again."""

    places: dict[str, list[str]]
    shipment: ShipmentDrop | None = None
    reapproval: Reapproval = Reapproval()


async def drop_bugs(
    *,
    errata: Errata,
    gitlab: GitLab | None,
    release: str,
    shipment_mr: str | None,
    attachments: Sequence[Attachment],
    now: datetime,
    done: Done = _nothing,
) -> Dropped:
    """Drop each bug from everywhere it is attached (``advisory <id>`` / ``shipment data
    (MR <url>)`` per key), then ask again for the doc and prodsec approvals of the
    advisories that lost theirs."""
    by_advisory: dict[int, list[str]] = {}
    by_file: dict[str, list[str]] = {}
    for where in attachments:
        for advisory_id in where.advisories:
            by_advisory.setdefault(advisory_id, []).append(where.key)
        for path in where.shipment_files:
            by_file.setdefault(path, []).append(where.key)
    places: dict[str, list[str]] = {where.key: [] for where in attachments}
    shipment: ShipmentDrop | None = None
    if by_file:
        if gitlab is None or shipment_mr is None:
            raise OarError(f"[{release}] bugs are in shipment files, but there is no shipment MR")
        shipment = await drop_from_shipment(
            gitlab,
            release=release,
            shipment_mr=shipment_mr,
            by_file=by_file,
            now=now,
            done=done,
        )
        for key in shipment.removed:
            places[key].append(f"shipment data (MR {shipment.mr_url})")
    before = {a: await errata.get_advisory(a) for a in sorted(by_advisory)}
    removed = await drop_from_advisories(errata, by_advisory, done=done)
    for advisory_id, gone in removed.items():
        for key in gone:
            places[key].append(f"advisory {advisory_id}")
    reapproval = await reapprove(errata, {a: before[a] for a in removed}, done=done)
    return Dropped(places=places, shipment=shipment, reapproval=reapproval)


__all__ = [
    "Approvers",
    "Done",
    "Dropped",
    "Reapproval",
    "ShipmentDrop",
    "approver_message",
    "attachment_data",
    "attachment_of",
    "drop_bugs",
    "drop_from_advisories",
    "drop_from_shipment",
    "lost_approvals",
    "reapprove",
    "tell_approvers",
    "where_text",
]
