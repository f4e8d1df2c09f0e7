"""The release's bugs: which Jira issues the release ships, and how each is classified.

Reference: oar-commands.md §0.1.2, §3.3, §3.4 and §3.7. The release's bug collection is
every Jira key attached to the advisories of its advisory set (microshift and
DROPPED_NO_SHIP advisories left out) and, in the Konflux flow, every issue with source
``redhat.atlassian.net`` under ``shipment.data.releaseNotes.issues.fixed[]`` of each YAML
file the shipment MR changes, read at the MR's source branch. Each bug remembers where it
came from (advisory ids, shipment files).

Unlike the original, one unreadable shipment file does not turn into an ``AttributeError``
for the whole listing: a YAML file that is not shipment data (no such path) lists no issue,
and a file that is not valid YAML is a :class:`~oar.errors.ShipmentDataError` naming it
(guessing its bugs would mark attached bugs as detached). The customer-case rule is
null-safe (the errata branch raised ``TypeError`` on a null counter).

The rules are pure functions on values; fetching is in the small async functions at the
end, which take ports.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from oar.errors import IntegrationAuthError, IntegrationNotFoundError, ShipmentDataError
from oar.logs import get_logger
from oar.release import advisories as _advisories

if TYPE_CHECKING:
    # Types only: the release state (and so ``oar -r X status``) imports this module, and
    # must not pay for the client libraries' modules.
    from oar.integrations.errata import Errata
    from oar.integrations.gitlab import GitLab
    from oar.integrations.jira import Jira, JiraIssue, JiraUser

log = get_logger(__name__)

# The advisory set's rule is oar.release.advisories' (one definition), also named here.
EXCLUDED_IMPETUS = _advisories.EXCLUDED_IMPETUS
advisory_impetuses = _advisories.advisory_impetuses
advisory_set = _advisories.advisory_set

# The shipment YAML's issue source for Jira (Bugzilla and others are not bugs of ours).
JIRA_SOURCE = "redhat.atlassian.net"
NEEDS_VERIFICATION = "ON_QA"
# Finished: verified, or further along. "Release Pending" counts as finished: OCPBUGS
# reaches it only from Verified (the fix is verified and waits for the advisory to ship),
# so dropping it would drop a verified fix; main's drop-bugs counts it finished too, the
# errata branch's did not (and dropped it).
FINISHED_STATUSES = frozenset({"Verified", "Closed", "Release Pending"})
CRITICAL_PRIORITIES = frozenset({"Critical", "Blocker"})
TEST_BLOCKER_LABEL = "TestBlocker"
RELEASE_BLOCKER_VALUES = frozenset({"Approved", "Proposed"})
CVE_PREFIX = "CVE"


class Severity(enum.StrEnum):
    """Why a bug is high severity (a bug may be several)."""

    CVE_TRACKER = "cve_tracker"
    CRITICAL = "critical"
    CUSTOMER_CASE = "customer_case"


@dataclass(frozen=True, kw_only=True)
class Attachment:
    """Where one Jira key is attached in the release: advisories, shipment files."""

    key: str
    advisories: tuple[int, ...] = ()
    shipment_files: tuple[str, ...] = ()

    @property
    def sources(self) -> tuple[str, ...]:
        """Each place as text: ``advisory 150101``, ``shipment <path>``."""
        return (
            *(f"advisory {a}" for a in self.advisories),
            *(f"shipment {p}" for p in self.shipment_files),
        )


@dataclass(frozen=True, kw_only=True)
class Bug:
    """A bug of the release: its Jira fields the rules need, and where it is attached."""

    key: str
    summary: str
    status: str
    priority: str | None = None
    labels: tuple[str, ...] = ()
    qa_contact: str | None = None  # e-mail (Jira Cloud may hide it: then the display name)
    assignee: str | None = None  # e-mail, or the display name
    release_blocker: str | None = None
    sfdc_cases_counter: float | None = None
    sfdc_cases_links: str | None = None
    advisories: tuple[int, ...] = ()
    shipment_files: tuple[str, ...] = ()

    @classmethod
    def of(cls, issue: JiraIssue, attachment: Attachment | None = None) -> Bug:
        """The bug of a Jira issue, attached where ``attachment`` says."""
        return cls(
            key=issue.key,
            summary=issue.summary,
            status=issue.status,
            priority=issue.priority,
            labels=issue.labels,
            qa_contact=person(issue.qa_contact),
            assignee=person(issue.assignee),
            release_blocker=issue.release_blocker,
            sfdc_cases_counter=issue.sfdc_cases_counter,
            sfdc_cases_links=issue.sfdc_cases_links,
            advisories=attachment.advisories if attachment else (),
            shipment_files=attachment.shipment_files if attachment else (),
        )

    @property
    def severity(self) -> frozenset[Severity]:
        return severity(self)

    @property
    def high_severity(self) -> bool:
        return is_high_severity(self)


def person(user: JiraUser | None) -> str | None:
    """How a Jira user is kept: the e-mail, else the display name, else None."""
    if user is None:
        return None
    return user.email or user.display_name or None


# --- classification (pure) --------------------------------------------------------------------
def finished_status(status: str) -> bool:
    """Verified, Closed or Release Pending: nothing left to verify."""
    return status in FINISHED_STATUSES


def is_finished(bug: Bug) -> bool:
    """The bug's status is finished (:func:`finished_status`)."""
    return finished_status(bug.status)


def needs_verification(bug: Bug) -> bool:
    """ON_QA: the fix is in and waits for QE."""
    return bug.status == NEEDS_VERIFICATION


def is_cve_tracker(bug: Bug) -> bool:
    """A CVE tracker: the summary or any label starts with ``CVE``."""
    return bug.summary.startswith(CVE_PREFIX) or any(
        label.startswith(CVE_PREFIX) for label in bug.labels
    )


def is_critical(bug: Bug) -> bool:
    """Priority Critical or Blocker, the TestBlocker label, or Release Blocker
    Approved / Proposed."""
    return (
        bug.priority in CRITICAL_PRIORITIES
        or TEST_BLOCKER_LABEL in bug.labels
        or bug.release_blocker in RELEASE_BLOCKER_VALUES
    )


def is_customer_case(bug: Bug) -> bool:
    """A customer case: SFDC Cases Counter above 0, or SFDC Cases Links set (null-safe)."""
    counter = bug.sfdc_cases_counter
    return (counter is not None and counter > 0) or bool(bug.sfdc_cases_links)


def severity(bug: Bug) -> frozenset[Severity]:
    """Every reason the bug is high severity (empty when it is not)."""
    reasons = set()
    if is_cve_tracker(bug):
        reasons.add(Severity.CVE_TRACKER)
    if is_critical(bug):
        reasons.add(Severity.CRITICAL)
    if is_customer_case(bug):
        reasons.add(Severity.CUSTOMER_CASE)
    return frozenset(reasons)


def is_high_severity(bug: Bug) -> bool:
    """A CVE tracker, a critical bug or a customer case: never dropped silently."""
    return bool(severity(bug))


def unverified(bugs: Iterable[Bug]) -> list[Bug]:
    """The bugs not finished (candidates for verification or dropping)."""
    return [b for b in bugs if not is_finished(b)]


def by_qa_contact(bugs: Iterable[Bug]) -> dict[str | None, list[Bug]]:
    """The bugs grouped per QA contact (None: nobody), contacts in first-seen order."""
    groups: dict[str | None, list[Bug]] = {}
    for bug in bugs:
        groups.setdefault(bug.qa_contact, []).append(bug)
    return groups


# --- the collection (pure) --------------------------------------------------------------------
@dataclass(kw_only=True)
class Collection:
    """The release's Jira keys and where each is attached, built source by source."""

    _advisories: dict[str, list[int]] = field(default_factory=dict)
    _files: dict[str, list[str]] = field(default_factory=dict)

    def add_advisory(self, advisory_id: int, keys: Iterable[str]) -> None:
        for key in keys:
            found = self._advisories.setdefault(key, [])
            if advisory_id not in found:
                found.append(advisory_id)

    def add_shipment_file(self, path: str, keys: Iterable[str]) -> None:
        for key in keys:
            found = self._files.setdefault(key, [])
            if path not in found:
                found.append(path)

    def attachments(self) -> list[Attachment]:
        """Each key once, sorted by project and number, with its sources sorted."""
        keys = sorted(self._advisories.keys() | self._files.keys(), key=key_order)
        return [
            Attachment(
                key=key,
                advisories=tuple(sorted(self._advisories.get(key, ()))),
                shipment_files=tuple(sorted(self._files.get(key, ()))),
            )
            for key in keys
        ]


def key_order(key: str) -> tuple[str, int, str]:
    """``OCPBUGS-9`` before ``OCPBUGS-10``."""
    project, _, number = key.rpartition("-")
    return (project, int(number) if number.isdigit() else 0, key)


def shipment_issue_keys(text: str, *, path: str) -> list[str]:
    """The Jira keys a shipment YAML lists as fixed (``shipment.data.releaseNotes.issues
    .fixed[]`` with source redhat.atlassian.net), sorted, each once. A YAML document
    without that path lists none; text that is not YAML is a ShipmentDataError."""
    import yaml  # only when shipment data is read (see the TYPE_CHECKING note above)

    try:
        document: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ShipmentDataError(path, f"not valid YAML: {exc}") from exc
    fixed: Any = document
    for step in ("shipment", "data", "releaseNotes", "issues", "fixed"):
        fixed = fixed.get(step) if isinstance(fixed, dict) else None
    if not isinstance(fixed, list):
        return []
    keys = {
        str(entry["id"]).strip()
        for entry in fixed
        if isinstance(entry, dict) and entry.get("source") == JIRA_SOURCE and entry.get("id")
    }
    return sorted(keys, key=key_order)


def is_shipment_yaml(path: str) -> bool:
    return path.endswith((".yaml", ".yml"))


# --- fetching (I/O at the edge, ports in) -----------------------------------------------------
async def collect_from_advisories(
    errata: Errata, advisory_ids: Iterable[int], collection: Collection
) -> None:
    """Add every Jira key attached to each advisory."""
    for advisory_id in advisory_ids:
        issues = await errata.jira_issues(advisory_id)
        collection.add_advisory(advisory_id, (i.key for i in issues))


async def collect_from_shipment(gitlab: GitLab, shipment_mr: str, collection: Collection) -> None:
    """Add the Jira keys of each YAML file the shipment MR changes, read at its source
    branch (a file the MR deletes has nothing to ship)."""
    from oar.integrations.gitlab import merge_request_ref

    project, iid = merge_request_ref(shipment_mr)
    mr = await gitlab.get_merge_request(project, iid)
    for change in await gitlab.changed_files(project, iid):
        if change.deleted_file or not is_shipment_yaml(change.path):
            continue
        text = await gitlab.file_content(project, change.path, ref=mr.source_branch)
        if text is None:
            raise ShipmentDataError(
                change.path, f"not found on the MR's source branch {mr.source_branch}"
            )
        collection.add_shipment_file(change.path, shipment_issue_keys(text, path=change.path))


async def collect(
    errata: Errata,
    advisory_ids: Iterable[int],
    *,
    gitlab: GitLab | None = None,
    shipment_mr: str | None = None,
) -> list[Attachment]:
    """The release's Jira keys, each with where it is attached: the advisories' issues and,
    given a shipment MR (Konflux), its shipment files' issues."""
    collection = Collection()
    await collect_from_advisories(errata, advisory_ids, collection)
    if shipment_mr is not None:
        if gitlab is None:
            raise ValueError("a shipment MR needs the GitLab port")
        await collect_from_shipment(gitlab, shipment_mr, collection)
    return collection.attachments()


@dataclass(frozen=True, kw_only=True)
class Fetched:
    """The bugs read from Jira, and the keys Jira would not show (404 / 403)."""

    bugs: tuple[Bug, ...]
    unreadable: tuple[str, ...] = ()


async def fetch(jira: Jira, attachments: Sequence[Attachment]) -> Fetched:
    """Read each attached key's issue. A key the token cannot see (Jira Cloud answers 404,
    Server 403) is reported as unreadable, as the original skipped it; a refused
    credential (401) still fails."""
    bugs: list[Bug] = []
    unreadable: list[str] = []
    for attachment in attachments:
        try:
            issue = await jira.get_issue(attachment.key)
        except IntegrationNotFoundError:
            unreadable.append(attachment.key)
            log.warning("bugs.unreadable", issue=attachment.key, reason="not_found")
            continue
        except IntegrationAuthError as exc:
            if exc.status_code != 403:
                raise
            unreadable.append(attachment.key)
            log.warning("bugs.unreadable", issue=attachment.key, reason="forbidden")
            continue
        bugs.append(Bug.of(issue, attachment))
    return Fetched(bugs=tuple(bugs), unreadable=tuple(unreadable))


async def release_bugs(
    errata: Errata,
    jira: Jira,
    advisories: Mapping[str, int],
    *,
    gitlab: GitLab | None = None,
    shipment_mr: str | None = None,
) -> tuple[list[Attachment], Fetched]:
    """The release's attachments and their bugs: the advisory set's issues and (Konflux)
    the shipment files' issues, read from Jira."""
    members = await advisory_set(errata, advisories)
    attachments = await collect(errata, members.values(), gitlab=gitlab, shipment_mr=shipment_mr)
    return attachments, await fetch(jira, attachments)
