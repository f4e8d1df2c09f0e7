"""Is the release shipped? The rule behind ``oar is-shipped`` (the original's MCP tool
``oar_is_release_shipped``, reference: oar-upstream-inventory.md §5 row 18, §2.8 b).

Errata flow: every advisory of the release (microshift aside, DROPPED_NO_SHIP ones not
counted) is at REL_PREP or later. Konflux flow: the shipment MR is merged, or the MR's
prod release succeeded (its label ``prod-release-success``, or the job of stage
``prod-release-triggers`` in its latest pipeline) and the rpm and rhcos advisories are at
REL_PREP or later. Values in, a :class:`Shipment` with one line per item out.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from oar.integrations.errata import AdvisoryState
from oar.integrations.gitlab import (
    PROD_RELEASE_LABEL,
    PROD_RELEASE_STAGE,
    MergeRequestState,
    PipelineJob,
    PipelineStatus,
)
from oar.jsonvalue import JSON
from oar.release.checklist import Flow

# REL_PREP and every state after it: the advisory has left QE's hands.
SHIPPABLE = frozenset(
    {
        AdvisoryState.REL_PREP,
        AdvisoryState.PUSH_READY,
        AdvisoryState.IN_PUSH,
        AdvisoryState.SHIPPED_LIVE,
    }
)
# The advisories a Konflux release still ships through Errata Tool.
KONFLUX_IMPETUSES = ("rpm", "rhcos")


@dataclass(frozen=True, kw_only=True)
class AdvisoryCheck:
    """One advisory's state, as the rule reads it."""

    impetus: str
    advisory_id: int
    state: AdvisoryState


@dataclass(frozen=True, kw_only=True)
class Item:
    """One thing the verdict looked at: whether it counts as shipped, and why."""

    name: str  # "advisory 150101 (rpm)", "shipment MR !301", "prod release"
    ok: bool
    detail: str  # "REL_PREP", "opened", "success"

    def to_data(self) -> dict[str, JSON]:
        return {"item": self.name, "ok": self.ok, "detail": self.detail}

    @property
    def line(self) -> str:
        return f"  {'✓' if self.ok else '✗'} {self.name}: {self.detail}"


@dataclass(frozen=True, kw_only=True)
class Shipment:
    """The verdict: shipped or not, in which flow, and each item it rests on."""

    shipped: bool
    flow: Flow
    items: tuple[Item, ...]

    @property
    def verdict(self) -> str:
        return "shipped" if self.shipped else "not shipped"

    def report(self, release: str) -> str:
        """One verdict line, then one line per item."""
        head = f"{release} is {self.verdict} ({self.flow.value} flow)"
        return "\n".join([head, *(item.line for item in self.items)])

    def to_data(self) -> dict[str, JSON]:
        """The original tool's shape: ``{shipped, flow_type, details}``."""
        return {
            "shipped": self.shipped,
            "flow_type": self.flow.value,
            "details": [item.to_data() for item in self.items],
        }


def advisory_item(check: AdvisoryCheck) -> Item:
    return Item(
        name=f"advisory {check.advisory_id} ({check.impetus})",
        ok=check.state in SHIPPABLE,
        detail=check.state.value,
    )


def _counted(advisories: Sequence[AdvisoryCheck]) -> list[AdvisoryCheck]:
    return [a for a in advisories if a.state is not AdvisoryState.DROPPED_NO_SHIP]


def errata_shipment(advisories: Sequence[AdvisoryCheck]) -> Shipment:
    """Errata flow: shipped when every advisory not dropped is at REL_PREP or later (a
    release with no advisory is not shipped)."""
    counted = _counted(advisories)
    items = tuple(advisory_item(a) for a in counted)
    if not items:
        items = (Item(name="advisories", ok=False, detail="none recorded"),)
    return Shipment(shipped=all(i.ok for i in items), flow=Flow.ERRATA, items=items)


def prod_release_status(jobs: Sequence[PipelineJob]) -> PipelineStatus | None:
    """The status of the pipeline's prod release job (the first of stage
    ``prod-release-triggers``, jobs newest first); None when it has none."""
    job = next((j for j in jobs if j.stage == PROD_RELEASE_STAGE), None)
    return None if job is None else job.status


def konflux_shipment(
    *,
    mr_iid: int,
    mr_state: MergeRequestState,
    mr_labels: Sequence[str] = (),
    prod_release: PipelineStatus | None = None,
    advisories: Sequence[AdvisoryCheck] = (),
) -> Shipment:
    """Konflux flow: shipped when the shipment MR is merged, or when its prod release
    succeeded and the rpm and rhcos advisories are at REL_PREP or later."""
    merged = mr_state is MergeRequestState.MERGED
    items = [Item(name=f"shipment MR !{mr_iid}", ok=merged, detail=mr_state.value)]
    if merged:
        return Shipment(shipped=True, flow=Flow.KONFLUX, items=tuple(items))
    if PROD_RELEASE_LABEL in mr_labels:
        prod = Item(name="prod release", ok=True, detail=f"label {PROD_RELEASE_LABEL}")
    else:
        shown = "not started" if prod_release is None else prod_release.value
        prod = Item(name="prod release", ok=prod_release is PipelineStatus.SUCCESS, detail=shown)
    items.append(prod)
    wanted = [a for a in _counted(advisories) if a.impetus in KONFLUX_IMPETUSES]
    items.extend(advisory_item(a) for a in wanted)
    shipped = prod.ok and all(advisory_item(a).ok for a in wanted)
    return Shipment(shipped=shipped, flow=Flow.KONFLUX, items=tuple(items))


# --- the recorded verdict (the release's metadata, key "shipment") ---------------------------
RECORD_KEY = "shipment"


def record(
    shipment: Shipment, *, checked_at: datetime, advisories: Sequence[AdvisoryCheck] = ()
) -> dict[str, JSON]:
    """What the release's metadata keeps of the last verdict, for the dashboard: the
    verdict, when, and each advisory's state then (``advisory_states``: id → state)."""
    states: dict[str, JSON] = {str(a.advisory_id): a.state.value for a in advisories}
    return {**shipment.to_data(), "checked_at": checked_at.isoformat(), "advisory_states": states}


@dataclass(frozen=True, kw_only=True)
class Badge:
    """The release page's shipment badge: Shipped / Not shipped / unknown, and when."""

    label: str
    css: str
    checked_at: datetime | None

    @classmethod
    def of(cls, metadata: Mapping[str, object]) -> Badge:
        """The badge of a release's metadata: unknown when no verdict is recorded."""
        found = metadata.get(RECORD_KEY)
        if not isinstance(found, Mapping) or not isinstance(found.get("shipped"), bool):
            return cls(label="unknown", css="unknown", checked_at=None)
        when = None
        with contextlib.suppress(TypeError, ValueError):
            when = datetime.fromisoformat(str(found.get("checked_at")))
        if found["shipped"]:
            return cls(label="Shipped", css="shipped", checked_at=when)
        return cls(label="Not shipped", css="not-shipped", checked_at=when)
