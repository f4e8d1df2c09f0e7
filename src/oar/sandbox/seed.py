"""The fictional release every stand-in serves, so that the systems agree with each other.

Y-stream 4.19 has shipped 4.19.1 and 4.19.2; **4.19.3 is in progress** on the Konflux flow
(a shipment merge request, rpm and rhcos advisories in QE). 4.18.40 is in progress on the
older errata flow (six advisories, no shipment MR). Each release has a mix of bugs
(:data:`BUGS`), most ON_QA with QA contacts whose managers are in LDAP. Stand-ins build
their state from these values; tests name them instead of repeating literals.
ocp-build-data's ``releases.yml`` for both y-streams lives next to this module in
``data/ocp-build-data/openshift-<y>/releases.yml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

Y_STREAM = "4.19"
RELEASE = "4.19.3"
SHIPPED_RELEASES = ("4.19.1", "4.19.2")
PRERELEASE = "4.19.0-rc.1"
ERRATA_Y_STREAM = "4.18"
ERRATA_RELEASE = "4.18.40"
ARCHITECTURES = ("amd64", "arm64", "multi", "ppc64le", "s390x")

# impetus -> advisory ID, as in releases.yml (group/advisories).
ADVISORIES: dict[str, dict[str, int]] = {
    RELEASE: {"rpm": 150101, "rhcos": 150102},
    ERRATA_RELEASE: {
        "extras": 140201,
        "image": 140202,
        "metadata": 140203,
        "rpm": 140204,
        "rhcos": 140205,
        "microshift": 140206,
    },
}
JIRA_TICKETS = {RELEASE: "ART-20003", ERRATA_RELEASE: "ART-19940"}
# The kernel inside each release's RHCOS build (Brew metadata.json); none is stop-ship.
RHCOS_KERNELS = {
    RELEASE: "kernel-5.14.0-570.62.1.el9_6",
    ERRATA_RELEASE: "kernel-5.14.0-427.98.1.el9_4",
}


def rhcos_build(release: str) -> str:
    """The NVR of the release's RHCOS build, as its rhcos advisory lists it."""
    compact = release.rsplit(".", 1)[0].replace(".", "")
    return f"rhcos-x86_64-{compact}.96.202611180000-0"


RELEASE_DATES = {RELEASE: "2026-Nov-26", ERRATA_RELEASE: "2026-Nov-25"}

# The shipment merge request of the Konflux release (project path, MR iid).
SHIPMENT_PROJECT = "hybrid-platforms/art/ocp-shipment-data"
SHIPMENT_MR_IID = 301
SHIPMENT_MR_URL = (
    f"https://gitlab.cee.redhat.com/{SHIPMENT_PROJECT}/-/merge_requests/{SHIPMENT_MR_IID}"
)

# Candidate (nightly) builds per architecture, as in releases.yml (basis/reference_releases).
NIGHTLY_BUILD = "4.19.0-0.nightly-2026-11-18-101010"
CANDIDATE_BUILDS = {
    "x86_64": f"registry.ci.openshift.org/ocp/release:{NIGHTLY_BUILD}",
    "aarch64": "registry.ci.openshift.org/ocp-arm64/release-arm64:"
    "4.19.0-0.nightly-arm64-2026-11-18-101010",
    "ppc64le": "registry.ci.openshift.org/ocp-ppc64le/release-ppc64le:"
    "4.19.0-0.nightly-ppc64le-2026-11-18-101010",
    "s390x": "registry.ci.openshift.org/ocp-s390x/release-s390x:"
    "4.19.0-0.nightly-s390x-2026-11-18-101010",
    "multi": "registry.ci.openshift.org/ocp-multi/release-multi:"
    "4.19.0-0.nightly-multi-2026-11-18-101010",
}


@dataclass(frozen=True, kw_only=True)
class Person:
    email: str
    name: str
    uid: str  # LDAP uid and Slack display name
    jira_account_id: str
    slack_user_id: str
    manager_email: str | None


PEOPLE = (
    Person(
        email="mlead@example.com",
        name="Morgan Lead",
        uid="mlead",
        jira_account_id="557058:lead-0001",
        slack_user_id="U0LEAD0001",
        manager_email=None,
    ),
    Person(
        email="qa.alice@example.com",
        name="Alice QA",
        uid="aqa",
        jira_account_id="557058:alice-0002",
        slack_user_id="U0ALICE002",
        manager_email="mlead@example.com",
    ),
    Person(
        email="qa.bob@example.com",
        name="Bob QA",
        uid="bqa",
        jira_account_id="557058:bob-0003",
        slack_user_id="U0BOB00003",
        manager_email="mlead@example.com",
    ),
    Person(
        email="dev.carol@example.com",
        name="Carol Dev",
        uid="cdev",
        jira_account_id="557058:carol-0004",
        slack_user_id="U0CAROL004",
        manager_email="mlead@example.com",
    ),
    Person(
        email="release.owner@example.com",
        name="Riley Owner",
        uid="rowner",
        jira_account_id="557058:riley-0005",
        slack_user_id="U0RILEY005",
        manager_email="mlead@example.com",
    ),
)
RELEASE_OWNER = "release.owner@example.com"


@dataclass(frozen=True, kw_only=True)
class Bug:
    key: str
    summary: str
    status: str
    qa_contact: str | None
    assignee: str | None
    target_version: str
    on_qa_since: str  # ISO 8601, UTC
    advisory: int | None  # the advisory the bug is attached to
    # Whether the Konflux shipment YAML lists it (only bugs of the Konflux y-stream can be).
    in_shipment: bool = True
    priority: str = "Major"
    labels: tuple[str, ...] = ()
    release_blocker: str | None = None
    sfdc_cases_counter: float | None = None
    sfdc_cases_links: str | None = None


# The release's bugs, a mix per flow: ON_QA for two QA contacts (and one without a QA
# contact), verified and closed ones, a CVE tracker, a critical (Blocker / Critical
# priority) bug, a customer-case bug, and per release a CVE tracker that elliott reports
# but that is attached to no advisory and no shipment file (MISSING_CVE_TRACKERS).
BUGS = (
    Bug(
        key="OCPBUGS-50001",
        summary="kube-apiserver restarts during upgrade from 4.19.2",
        status="ON_QA",
        qa_contact="qa.alice@example.com",
        assignee="dev.carol@example.com",
        target_version="4.19.z",
        on_qa_since="2026-11-16T09:00:00Z",
        advisory=150101,
    ),
    Bug(
        key="OCPBUGS-50002",
        summary="console shows stale operator status",
        status="ON_QA",
        qa_contact="qa.bob@example.com",
        assignee="dev.carol@example.com",
        target_version="4.19.z",
        on_qa_since="2026-11-18T15:30:00Z",
        advisory=150101,
    ),
    Bug(
        key="OCPBUGS-50003",
        summary="rhcos: chrony fails to sync behind proxy",
        status="Verified",
        qa_contact="qa.alice@example.com",
        assignee="dev.carol@example.com",
        target_version="4.19.z",
        on_qa_since="2026-11-12T11:00:00Z",
        advisory=150102,
    ),
    Bug(
        key="OCPBUGS-50004",
        summary="installer ignores additionalTrustBundle on ppc64le",
        status="ON_QA",
        qa_contact=None,
        assignee="dev.carol@example.com",
        target_version="4.19.z",
        on_qa_since="2026-11-17T08:00:00Z",
        advisory=150101,
    ),
    Bug(
        key="OCPBUGS-50005",
        summary="CVE-2026-31001 openshift-golang: net/http: excessive memory use [openshift-4.19]",
        status="ON_QA",
        qa_contact="qa.alice@example.com",
        assignee="dev.carol@example.com",
        target_version="4.19.z",
        on_qa_since="2026-11-18T10:00:00Z",
        advisory=150101,
        priority="Major",
        labels=("CVE-2026-31001", "SecurityTracking", "pscomponent:openshift-golang"),
    ),
    Bug(
        key="OCPBUGS-50006",
        summary="ovn-kubernetes drops egress traffic after node reboot",
        status="ON_QA",
        qa_contact="qa.bob@example.com",
        assignee="dev.carol@example.com",
        target_version="4.19.z",
        on_qa_since="2026-11-19T08:00:00Z",
        advisory=None,  # only in the shipment YAML
        priority="Blocker",
    ),
    Bug(
        key="OCPBUGS-50007",
        summary="oc adm must-gather times out on large clusters",
        status="MODIFIED",
        qa_contact="qa.bob@example.com",
        assignee="dev.carol@example.com",
        target_version="4.19.z",
        on_qa_since="2026-11-19T12:00:00Z",
        advisory=150102,
        sfdc_cases_counter=2.0,
        sfdc_cases_links="https://access.redhat.com/support/cases/#/case/04012345",
    ),
    Bug(
        key="OCPBUGS-50008",
        summary="CVE-2026-31002 openshift-clients: path traversal in oc cp [openshift-4.19]",
        status="ON_QA",
        qa_contact="qa.alice@example.com",
        assignee="dev.carol@example.com",
        target_version="4.19.z",
        on_qa_since="2026-11-18T11:00:00Z",
        advisory=None,
        in_shipment=False,  # missing from the release: check-cve-tracker-bug finds it
        labels=("CVE-2026-31002", "SecurityTracking"),
    ),
    Bug(
        key="OCPBUGS-49001",
        summary="etcd defrag alert fires too early",
        status="ON_QA",
        qa_contact="qa.bob@example.com",
        assignee="dev.carol@example.com",
        target_version="4.18.z",
        on_qa_since="2026-11-15T10:00:00Z",
        advisory=140204,
    ),
    Bug(
        key="OCPBUGS-49002",
        summary="CVE-2026-31003 openshift-router: header smuggling in haproxy [openshift-4.18]",
        status="ON_QA",
        qa_contact="qa.alice@example.com",
        assignee="dev.carol@example.com",
        target_version="4.18.z",
        on_qa_since="2026-11-16T10:00:00Z",
        advisory=140202,
        labels=("CVE-2026-31003", "SecurityTracking"),
    ),
    Bug(
        key="OCPBUGS-49003",
        summary="machine-config-operator degrades on RHEL 9.4 workers",
        status="Verified",
        qa_contact="qa.alice@example.com",
        assignee="dev.carol@example.com",
        target_version="4.18.z",
        on_qa_since="2026-11-12T10:00:00Z",
        advisory=140202,
    ),
    Bug(
        key="OCPBUGS-49004",
        summary="kubelet leaks memory with many projected volumes",
        status="ON_QA",
        qa_contact="qa.alice@example.com",
        assignee="dev.carol@example.com",
        target_version="4.18.z",
        on_qa_since="2026-11-17T10:00:00Z",
        advisory=140201,
        priority="Critical",
        labels=("TestBlocker",),
        release_blocker="Approved",
    ),
    Bug(
        key="OCPBUGS-49005",
        summary="image registry pruner deletes images still in use",
        status="POST",
        qa_contact="qa.bob@example.com",
        assignee="dev.carol@example.com",
        target_version="4.18.z",
        on_qa_since="2026-11-18T10:00:00Z",
        advisory=140203,
        sfdc_cases_counter=1.0,
    ),
    Bug(
        key="OCPBUGS-49006",
        summary="CVE-2026-31004 openshift-apiserver: audit log leaks tokens [openshift-4.18]",
        status="ON_QA",
        qa_contact="qa.bob@example.com",
        assignee="dev.carol@example.com",
        target_version="4.18.z",
        on_qa_since="2026-11-18T09:00:00Z",
        advisory=None,  # missing from the release: check-cve-tracker-bug finds it
        labels=("CVE-2026-31004", "SecurityTracking"),
    ),
)
# Per release, the CVE tracker elliott reports that is attached to nothing of the release.
MISSING_CVE_TRACKERS = {RELEASE: "OCPBUGS-50008", ERRATA_RELEASE: "OCPBUGS-49006"}


# Slack: channels (name -> ID) and user groups (handle -> ID), as the config names them.
SLACK_TEAM_ID = "T0SANDBOX1"
SLACK_BOT_USER_ID = "U0OARBOT01"
SLACK_CHANNELS = {
    "team-qe-release": "C0QERELEAS",
    "forum-ocp-art": "C0OCPART01",
    "forum-qe": "C0FORUMQE1",
    "oar-sandbox": "C0SANDBOX1",
}
SLACK_USER_GROUPS = {
    "4.19-qe-leads": ("S0419QELDS", ("U0LEAD0001", "U0ALICE002")),
    "4.18-qe-leads": ("S0418QELDS", ("U0LEAD0001", "U0BOB00003")),
    "openshift-art": ("S0ART00001", ("U0CAROL004",)),
}


def build_data(y_stream: str) -> str:
    """ocp-build-data's ``releases.yml`` text for ``y_stream`` (4.19 or 4.18)."""
    path = resources.files("oar.sandbox") / "data" / "ocp-build-data" / f"openshift-{y_stream}"
    return (path / "releases.yml").read_text()


def build_data_files() -> dict[str, str]:
    """Every seed y-stream's ``releases.yml`` text, by y-stream (what a build data fake or
    the stand-in serves)."""
    return {y: build_data(y) for y in (Y_STREAM, ERRATA_Y_STREAM)}
