"""The release's recorded bug list: what ``update-bug-list`` keeps in the release state.

One record per (release, Jira key): the bug's summary, status, QA contact, assignee,
priority, severity flags and sources (advisory ids, shipment files), when it was first
seen and last changed, whether it is still attached, and whether the latest run found it
newly attached. A bug no longer attached is marked detached, never deleted; one attached
again is new again.

:func:`merge` is the rule both stores (the database's ``ReleaseState`` and the in-memory
``FakeReleaseStore``) apply in one transaction: the previous records and this run's
observation in, the records to write and what changed out. Pure: the clock is a
parameter.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from oar.jsonvalue import JSON
from oar.release.bugs import NEEDS_VERIFICATION, Bug, Severity, finished_status, key_order, severity


class ChangeKind(enum.StrEnum):
    """What happened to a bug between two runs."""

    NEW = "new"  # attached for the first time
    REATTACHED = "reattached"  # detached before, attached again
    STATUS = "status"  # its Jira status changed
    UPDATED = "updated"  # another recorded field changed (QA contact, sources, …)
    DETACHED = "detached"  # no longer on any advisory or shipment file


@dataclass(frozen=True, kw_only=True)
class BugChange:
    key: str
    kind: ChangeKind
    before: str | None = None
    after: str | None = None

    def describe(self) -> str:
        match self.kind:
            case ChangeKind.STATUS:
                return f"{self.key}: {self.before} -> {self.after}"
            case ChangeKind.UPDATED:
                return f"{self.key}: {self.after} changed"
            case _:
                return f"{self.key} ({self.after})" if self.after else self.key

    def to_dict(self) -> dict[str, JSON]:
        return {
            "key": self.key,
            "kind": self.kind.value,
            "before": self.before,
            "after": self.after,
        }


@dataclass(frozen=True, kw_only=True)
class BugRecord:
    """One recorded bug of a release."""

    release: str
    key: str
    summary: str
    status: str
    qa_contact: str | None
    assignee: str | None
    priority: str | None
    severity: frozenset[Severity]
    advisories: tuple[int, ...]
    shipment_files: tuple[str, ...]
    attached: bool
    new: bool
    first_seen: datetime
    last_changed: datetime
    detached_at: datetime | None = None

    @property
    def finished(self) -> bool:
        """Verified, Closed or Release Pending."""
        return finished_status(self.status)

    @property
    def on_qa(self) -> bool:
        return self.status == NEEDS_VERIFICATION

    @property
    def cve_tracker(self) -> bool:
        return Severity.CVE_TRACKER in self.severity

    @property
    def critical(self) -> bool:
        return Severity.CRITICAL in self.severity

    @property
    def customer_case(self) -> bool:
        return Severity.CUSTOMER_CASE in self.severity

    @property
    def high_severity(self) -> bool:
        return bool(self.severity)

    @property
    def sources(self) -> tuple[str, ...]:
        return (
            *(f"advisory {a}" for a in self.advisories),
            *(f"shipment {p}" for p in self.shipment_files),
        )

    def to_dict(self) -> dict[str, JSON]:
        return {
            "key": self.key,
            "summary": self.summary,
            "status": self.status,
            "qa_contact": self.qa_contact,
            "assignee": self.assignee,
            "priority": self.priority,
            "severity": [s.value for s in sorted(self.severity)],
            "cve_tracker": self.cve_tracker,
            "critical": self.critical,
            "customer_case": self.customer_case,
            "advisories": [*self.advisories],
            "shipment_files": [*self.shipment_files],
            "attached": self.attached,
            "new": self.new,
            "first_seen": self.first_seen.isoformat(),
            "last_changed": self.last_changed.isoformat(),
            "detached_at": self.detached_at.isoformat() if self.detached_at else None,
        }


# The fields a run compares (besides status and attachment), with their names in changes.
_COMPARED = (
    ("summary", "summary"),
    ("qa_contact", "QA contact"),
    ("assignee", "assignee"),
    ("priority", "priority"),
    ("severity", "severity"),
    ("advisories", "advisories"),
    ("shipment_files", "shipment files"),
)


@dataclass(frozen=True, kw_only=True)
class BugListUpdate:
    """What one run did to the list: every record now, those it wrote, what changed, and
    the attached keys Jira would not show (kept as they were)."""

    records: tuple[BugRecord, ...]
    written: tuple[BugRecord, ...]
    changes: tuple[BugChange, ...]
    unreadable: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def of_kind(self, kind: ChangeKind) -> list[BugChange]:
        return [c for c in self.changes if c.kind is kind]


def _observed(bug: Bug, *, release: str, now: datetime) -> BugRecord:
    return BugRecord(
        release=release,
        key=bug.key,
        summary=bug.summary,
        status=bug.status,
        qa_contact=bug.qa_contact,
        assignee=bug.assignee,
        priority=bug.priority,
        severity=severity(bug),
        advisories=bug.advisories,
        shipment_files=bug.shipment_files,
        attached=True,
        new=True,
        first_seen=now,
        last_changed=now,
    )


def merge(
    previous: Iterable[BugRecord],
    observed: Sequence[Bug],
    *,
    attached: Iterable[str],
    release: str,
    now: datetime,
) -> BugListUpdate:
    """This run's bug list from the previous records and what the run observed.

    ``observed`` are the bugs read from Jira; ``attached`` every key attached to the
    release, including those Jira would not show (such a key keeps its previous record,
    and is not recorded when it has none). A key recorded before and attached no more is
    detached. Only records that differ from before are written; ``new`` is cleared on a
    bug seen again, which is not a change.
    """
    before: Mapping[str, BugRecord] = {r.key: r for r in previous}
    attached_keys = set(attached) | {b.key for b in observed}
    seen = {b.key: b for b in observed}
    records: dict[str, BugRecord] = {}
    changes: list[BugChange] = []

    for key, bug in seen.items():
        current = _observed(bug, release=release, now=now)
        old = before.get(key)
        if old is None:
            records[key] = current
            changes.append(BugChange(key=key, kind=ChangeKind.NEW, after=bug.status))
            continue
        changed_fields = [
            label for name, label in _COMPARED if getattr(old, name) != getattr(current, name)
        ]
        reattached = not old.attached
        if reattached:
            changes.append(BugChange(key=key, kind=ChangeKind.REATTACHED, after=bug.status))
        if old.status != current.status:
            changes.append(
                BugChange(key=key, kind=ChangeKind.STATUS, before=old.status, after=current.status)
            )
        if changed_fields:
            changes.append(
                BugChange(key=key, kind=ChangeKind.UPDATED, after=", ".join(changed_fields))
            )
        touched = reattached or old.status != current.status or bool(changed_fields)
        records[key] = dataclasses.replace(
            current,
            new=reattached,
            first_seen=old.first_seen,
            last_changed=now if touched else old.last_changed,
            detached_at=None,
        )

    for key, old in before.items():
        if key in records:
            continue
        if key in attached_keys:  # attached, but Jira would not show it: keep what we knew
            if old.attached:
                records[key] = dataclasses.replace(old, new=False)
            else:
                changes.append(BugChange(key=key, kind=ChangeKind.REATTACHED, after=old.status))
                records[key] = dataclasses.replace(
                    old, attached=True, new=True, last_changed=now, detached_at=None
                )
        elif old.attached:
            changes.append(BugChange(key=key, kind=ChangeKind.DETACHED, after=old.status))
            records[key] = dataclasses.replace(
                old, attached=False, new=False, last_changed=now, detached_at=now
            )
        else:
            records[key] = old

    ordered = tuple(records[k] for k in sorted(records, key=key_order))
    written = tuple(r for r in ordered if before.get(r.key) != r)
    unreadable = tuple(sorted((attached_keys - seen.keys()), key=key_order))
    return BugListUpdate(
        records=ordered,
        written=written,
        changes=tuple(sorted(changes, key=lambda c: (key_order(c.key), c.kind.value))),
        unreadable=unreadable,
    )
