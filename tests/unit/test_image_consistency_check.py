"""``image-consistency-check`` on fake ports: the Prow state mapping, the Pyxis grading
rule, the health summary, the follow kind's checks and finish, and the command's body."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from oar.errors import ConfigurationError, IntegrationError, OarError
from oar.integrations.fakes import FakeGitLab, FakeNotifier, FakeProwJobs, FakePyxis
from oar.integrations.prow import ProwJobState, ProwJobStatus
from oar.integrations.pyxis import FreshnessGrade, PyxisImage, Vulnerability
from oar.release import imagehealth
from oar.release.checklist import TaskStatus
from oar.release.commands import command
from oar.release.commands.images import image_consistency_check
from oar.release.follows import Check, FollowInfo, FollowStatus
from oar.release.imagecheck import (
    JOB,
    ImageConsistencyKind,
    Verdict,
    follow_key,
    prow_verdict,
    triggered_text,
)
from oar.release.imagehealth import (
    UNKNOWN,
    HealthReport,
    ImageGrade,
    ShipmentImage,
    current_grade,
    health_comment,
    is_unhealthy,
    vulnerability_rows,
)
from oar.sandbox import seed
from oar.sandbox.gitlab import seed_gitlab
from oar.sandbox.pyxis import seed_pyxis
from oar.testing.release import FakeFollows
from tests.unit.release_world import release_context, running_follow, seeded_ports

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
PAYLOAD = f"quay.io/openshift-release-dev/ocp-release:{seed.RELEASE}-x86_64"
GROUP = "4.19-qe-leads"
CHANNEL = "#team-qe-release"


def grade(letter: str, days_ago: float | None) -> FreshnessGrade:
    start = None if days_ago is None else NOW - timedelta(days=days_ago)
    return FreshnessGrade(grade=letter, start_date=start)


# --- the Prow state mapping -------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "verdict"),
    [
        (ProwJobState.TRIGGERED, Verdict.PENDING),
        (ProwJobState.PENDING, Verdict.PENDING),
        (ProwJobState.SUCCESS, Verdict.PASSED),
        (ProwJobState.FAILURE, Verdict.FAILED),
        (ProwJobState.ABORTED, Verdict.FAILED),
        (ProwJobState.ERROR, Verdict.FAILED),
    ],
)
def test_every_prow_job_state_maps_to_pending_passed_or_failed(
    state: ProwJobState, verdict: Verdict
) -> None:
    assert prow_verdict(state) is verdict


def test_every_prow_job_state_is_mapped() -> None:
    assert {prow_verdict(s) for s in ProwJobState} == set(Verdict)


# --- the grading rule -------------------------------------------------------------------


def test_the_grade_in_force_is_the_latest_started_one() -> None:
    grades = [grade("A", 300), grade("C", 10), grade("B", 100)]
    assert current_grade(grades, NOW) == "C"


def test_a_grade_that_has_not_started_yet_is_not_in_force() -> None:
    assert current_grade([grade("A", 30), grade("D", -1)], NOW) == "A"


def test_no_grade_in_force_is_unknown() -> None:
    assert current_grade([], NOW) == UNKNOWN
    assert current_grade([grade("A", -5), grade("B", None)], NOW) == UNKNOWN


def test_the_end_date_is_ignored_as_in_the_original() -> None:
    ended = FreshnessGrade(grade="B", start_date=NOW - timedelta(days=9), end_date=NOW)
    assert current_grade([grade("A", 20), ended], NOW + timedelta(days=1)) == "B"


@pytest.mark.parametrize(
    ("letter", "unhealthy"),
    [("A", False), ("B", False), ("C", True), ("D", True), ("E", True), ("F", True)],
)
def test_a_and_b_are_healthy_c_and_worse_are_not(letter: str, unhealthy: bool) -> None:
    assert is_unhealthy(letter) is unhealthy


def test_an_unknown_grade_is_unhealthy() -> None:
    assert is_unhealthy(UNKNOWN)


# --- the shipment's images and the health check -----------------------------------------


def test_the_shipment_file_lists_its_snapshot_images() -> None:
    text = """
shipment:
  snapshot:
    spec:
      components:
        - name: ose-cli
          containerImage: quay.io/x/y@sha256:aaaa
        - name: no-image
        - name: ose-tools
          containerImage: quay.io/x/y:latest
"""
    images = imagehealth.shipment_images(text)
    assert [(i.component, i.digest) for i in images] == [("ose-cli", "aaaa"), ("ose-tools", None)]


def test_fbc_files_and_non_yaml_files_are_not_scanned() -> None:
    paths = ["a/4.19.3.image.yaml", "a/4.19.3.fbc.yaml", "README.md", "b/x.yml"]
    assert imagehealth.scanned_paths(paths) == ["a/4.19.3.image.yaml", "b/x.yml"]


class BrokenPyxis(FakePyxis):
    async def image(self, digest: str) -> PyxisImage | None:
        raise IntegrationError("Pyxis", "HTTP 503")


async def test_an_image_whose_lookup_fails_counts_as_unknown_instead_of_passing() -> None:
    image = ShipmentImage(component="ose-cli", pull_spec=f"quay.io/x@sha256:{'ab' * 32}")
    report = await imagehealth.check_images(BrokenPyxis(), [image], NOW)
    assert not report.healthy
    assert report.missed == 1
    assert report.grades[0].note == "lookup failed: Pyxis: HTTP 503"


async def test_vulnerabilities_are_fetched_for_unhealthy_images_only() -> None:
    pyxis = FakePyxis()
    vuln = Vulnerability(cve_id="CVE-1", severity="Low", affected=(("zlib", "1.2"),))
    good, bad = "aa" * 32, "bb" * 32
    pyxis.add(good, grades=(grade("A", 1),), vulnerabilities=[vuln])
    pyxis.add(bad, grades=(grade("D", 1),), vulnerabilities=[vuln])
    images = [
        ShipmentImage(component="good", pull_spec=f"q@sha256:{good}"),
        ShipmentImage(component="bad", pull_spec=f"q@sha256:{bad}"),
    ]
    report = await imagehealth.check_images(pyxis, images, NOW)
    assert [g.grade for g in report.grades] == ["A", "D"]
    assert [g.image.component for g in report.unhealthy] == ["bad"]
    assert report.vulnerabilities == (vuln,)


def test_vulnerability_rows_group_by_package_worst_severity_first() -> None:
    rows = vulnerability_rows(
        [
            Vulnerability(
                cve_id="CVE-3",
                severity="Moderate",
                affected=(("openssl", "3.0"), ("zlib", "1.2")),
                srpm_nevras=("openssl-3.1.src",),
            ),
            Vulnerability(
                cve_id="CVE-1",
                severity="Critical",
                affected=(("openssl", "3.0"),),
                srpm_nevras=("openssl-3.2.src", "openssl-3.2b.src"),
            ),
            Vulnerability(cve_id="CVE-3", severity="Moderate", affected=(("zlib", "1.2"),)),
            Vulnerability(cve_id="CVE-9", severity="Whatever", affected=(("aaa", "1"),)),
        ]
    )
    assert [r.markdown() for r in rows] == [
        "| openssl-3.0 | Critical | CVE-1, CVE-3 | openssl-3.2.src, openssl-3.2b.src |",
        "| zlib-1.2 | Moderate | CVE-3 | openssl-3.1.src |",
        "| aaa-1 | Whatever | CVE-9 | N/A |",
    ]


def test_the_mr_comment_of_a_healthy_release_has_three_lines_with_hard_breaks() -> None:
    image = ShipmentImage(component="ose-cli", pull_spec="q@sha256:aa")
    report = HealthReport(grades=(ImageGrade(image=image, grade="A", architecture="amd64"),))
    assert health_comment(report) == (
        "Images scanned: 1.  \nUnhealthy components detected: 0.  \nHealth info missed: 0.  \n"
    )


def test_the_mr_comment_lists_unhealthy_components_and_the_vulnerability_table() -> None:
    good = ImageGrade(image=ShipmentImage(component="a", pull_spec="q@sha256:1"), grade="B")
    bad = ImageGrade(
        image=ShipmentImage(component="b", pull_spec="q@sha256:2"), grade="C", architecture="arm64"
    )
    lost = ImageGrade(image=ShipmentImage(component="c", pull_spec="q@sha256:3"), grade=UNKNOWN)
    vuln = Vulnerability(cve_id="CVE-1", severity="Important", affected=(("zlib", "1.2"),))
    comment = health_comment(HealthReport(grades=(good, bad, lost), vulnerabilities=(vuln,)))
    assert comment.splitlines() == [
        "Images scanned: 3.  ",
        "Unhealthy components detected: 2.  ",
        "Health info missed: 1.  ",
        "Unhealthy components:  ",
        "b (grade C, arch arm64) - q@sha256:2.  ",
        "c (grade Unknown, arch unknown) - q@sha256:3.  ",
        "  ",
        "Vulnerabilities summary:  ",
        "| Affected Package | Severity | CVEs | Suggested Package |  ",
        "|-----------------|----------|------|-------------------|  ",
        "| zlib-1.2 | Important | CVE-1 | N/A |  ",
    ]


# --- the follow kind ---------------------------------------------------------------------


def follow(**data: Any) -> FollowInfo:
    return running_follow(
        kind="image-consistency-check",
        key=follow_key(seed.RELEASE),
        subject=seed.RELEASE,
        release=seed.RELEASE,
        task="image-consistency-check",
        channel=CHANNEL,
        started_at=NOW,
        deadline=timedelta(hours=6),
        interval=300.0,
        started_by="lead",
        interface="slack",
        slack_channel="C0RELEASE1",
        slack_thread="1700000000.000100",
        data={
            "payload": PAYLOAD,
            "mr_id": seed.SHIPMENT_MR_IID,
            "shipment_mr": seed.SHIPMENT_MR_URL,
            "group": GROUP,
            **data,
        },
    )


class World:
    def __init__(self) -> None:
        self.prow = FakeProwJobs()
        self.gitlab: FakeGitLab = seed_gitlab()
        self.pyxis = seed_pyxis()
        self.notifier = FakeNotifier(groups={GROUP: "S0419QELDS"})
        self.kind = ImageConsistencyKind(
            prow=self.prow,
            gitlab=self.gitlab,
            pyxis=self.pyxis,
            notifier=self.notifier,
            clock=lambda: NOW,
        )

    def notes(self) -> list[str]:
        return [
            n.body for n in self.gitlab.project(seed.SHIPMENT_PROJECT).notes[seed.SHIPMENT_MR_IID]
        ]


def sent(notifier: FakeNotifier) -> list[str]:
    return [m.text for m in notifier.messages]


async def test_the_first_check_triggers_the_job_with_the_payload_and_the_mr() -> None:
    world = World()
    check = await world.kind.check(follow(), 1)
    assert not check.done
    assert world.prow.triggered == [
        (
            JOB,
            {
                "MULTISTAGE_PARAM_OVERRIDE_PAYLOAD_URL": PAYLOAD,
                "MULTISTAGE_PARAM_OVERRIDE_MERGE_REQUEST_ID": str(seed.SHIPMENT_MR_IID),
            },
        )
    ]
    job_id = check.data["job_id"]
    assert f"Triggered image consistency check Prow job: {job_id}" in check.line
    assert "announced" not in check.data  # Prow has no URL for it yet


async def test_a_known_job_is_read_not_triggered_and_its_url_announced_once() -> None:
    world = World()
    job_id = await world.prow.trigger(JOB, envs={})
    world.prow.triggered.clear()
    world.prow.set_state(job_id, ProwJobState.PENDING, url="https://prow.example/job/1")
    check = await world.kind.check(follow(job_id=job_id), 2)
    assert not check.done
    assert world.prow.triggered == []
    assert check.data == {"announced": True, "job_url": "https://prow.example/job/1"}
    text = triggered_text(seed.RELEASE, "<!subteam^S0419QELDS>", "https://prow.example/job/1")
    assert sent(world.notifier) == [text, text]  # the release channel and the thread
    again = await world.kind.check(follow(job_id=job_id, **check.data), 3)
    assert "announced" not in again.data
    assert len(world.notifier.messages) == 2


@pytest.mark.parametrize("state", [ProwJobState.FAILURE, ProwJobState.ABORTED, ProwJobState.ERROR])
async def test_a_job_that_ended_badly_fails_with_its_state(state: ProwJobState) -> None:
    world = World()
    job_id = await world.prow.trigger(JOB, envs={})
    world.prow.set_state(job_id, state, url="https://prow.example/job/2")
    check = await world.kind.check(follow(job_id=job_id, announced=True), 4)
    assert check.done
    finished = await world.kind.finish(follow(job_id=job_id), check)
    assert not finished.ok
    assert finished.error == (
        f"Prow job {job_id} ended with state '{state.value}' (https://prow.example/job/2)"
    )
    assert world.notes()[-1].startswith("Shipment MR")  # no health check, no comment


async def test_a_successful_job_with_healthy_images_passes_and_comments_the_mr() -> None:
    world = World()
    job_id = await world.prow.trigger(JOB, envs={})
    world.prow.set_state(job_id, ProwJobState.SUCCESS)
    check = await world.kind.check(follow(job_id=job_id, announced=True), 5)
    assert check.done
    finished = await world.kind.finish(follow(job_id=job_id), check)
    assert finished.ok, finished.line
    assert "all 3 images are graded A or B" in finished.line
    assert "ose-installer" in finished.line  # the grades table
    assert world.notes()[-1] == (
        "Images scanned: 3.  \nUnhealthy components detected: 0.  \nHealth info missed: 0.  \n"
    )


async def test_a_successful_job_with_an_unhealthy_image_fails_with_the_grades() -> None:
    world = World()
    installer = next(i for i in seed.SHIPMENT_IMAGES if i.component == "ose-installer")
    world.pyxis.set_grades(installer.digest, (grade("A", 300), grade("D", 1)))
    job_id = await world.prow.trigger(JOB, envs={})
    world.prow.set_state(job_id, ProwJobState.SUCCESS)
    check = await world.kind.check(follow(job_id=job_id, announced=True), 5)
    finished = await world.kind.finish(follow(job_id=job_id), check)
    assert not finished.ok
    assert finished.error == (
        "image health check failed: 1 of 3 images are unhealthy: ose-installer (D)"
    )
    comment = world.notes()[-1]
    assert "Unhealthy components detected: 1.  \n" in comment
    assert (
        f"ose-installer (grade D, arch amd64) - {seed.KONFLUX_IMAGE_REPOSITORY}@sha256:" in comment
    )
    assert "| openssl-libs-3.2.2-6.el9_5 | Important | CVE-2026-10001, CVE-2026-10002 |" in comment


async def test_the_summary_texts() -> None:
    world = World()
    info = follow(job_url="https://prow.example/job/9")
    passed = await world.kind.summary(info, FollowStatus.SUCCEEDED, None, world.notifier)
    failed = await world.kind.summary(info, FollowStatus.FAILED, "boom", world.notifier)
    assert passed == (
        f"[{seed.RELEASE}] Hello <!subteam^S0419QELDS>, image consistency check passed:"
        " Prow job https://prow.example/job/9 succeeded and every image is healthy"
    )
    assert failed.endswith("image consistency check failed: boom")


# --- the command's body -----------------------------------------------------------------


async def run(tmp_path: Path, ports: Any, **options: Any) -> Any:
    ctx = await release_context(tmp_path, seed.RELEASE, ports, task="image-consistency-check")
    await ctx.state.ensure_release(seed.RELEASE)  # as the tracked run does before the body
    return await image_consistency_check(ctx, **options), ctx


async def test_the_command_starts_the_follow_and_returns_at_once(tmp_path: Path) -> None:
    follows, prow = FakeFollows(), FakeProwJobs()
    outcome, ctx = await run(tmp_path, seeded_ports(follows=follows, prow=prow))
    assert outcome.status is TaskStatus.IN_PROGRESS
    assert "started: image consistency check of 4.19.3" in outcome.message
    assert prow.triggered == []  # the follow's first check triggers it
    (request,) = follows.requests
    assert request.key == follow_key(seed.RELEASE)
    assert request.task == "image-consistency-check"
    assert request.data["payload"] == PAYLOAD
    assert request.data["mr_id"] == seed.SHIPMENT_MR_IID
    assert follows.kept_alive == [request.key]
    assert ctx.done == [f"started follow {request.key}, which triggers and follows the Prow job"]


async def test_a_second_invocation_joins_the_running_follow(tmp_path: Path) -> None:
    follows = FakeFollows()
    ports = seeded_ports(follows=follows)
    await run(tmp_path, ports)
    outcome, ctx = await run(tmp_path, ports)
    assert "joined it, nothing triggered" in outcome.message
    assert len(follows.follows) == 1
    assert ctx.done == []


async def test_an_already_passed_check_is_not_triggered_again(tmp_path: Path) -> None:
    follows = FakeFollows()
    ctx = await release_context(
        tmp_path, seed.RELEASE, seeded_ports(follows=follows), task="image-consistency-check"
    )
    await ctx.state.ensure_release(seed.RELEASE)
    await ctx.state.finish_task(seed.RELEASE, "image-consistency-check", TaskStatus.PASS)
    outcome = await image_consistency_check(ctx)
    assert outcome.status is TaskStatus.PASS
    assert "already passed" in outcome.message
    assert follows.requests == []


async def test_attaching_to_a_job_follows_it(tmp_path: Path) -> None:
    prow = FakeProwJobs([ProwJobStatus(job_id="abc", job_name=JOB, state=ProwJobState.PENDING)])
    follows = FakeFollows()
    outcome, _ = await run(tmp_path, seeded_ports(follows=follows, prow=prow), job_id="abc")
    assert "following Prow job abc" in outcome.message
    assert follows.requests[0].data["job_id"] == "abc"


async def test_attaching_to_an_unknown_job_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OarError, match="Job nope not found or Prow API error"):
        await run(tmp_path, seeded_ports(follows=FakeFollows()), job_id="nope")


def test_the_command_is_registered_for_the_konflux_flow_with_its_option() -> None:
    registered = command("image-consistency-check")
    assert [o.flags for o in registered.options] == [("-i", "--job-id")]
    assert "follows" in registered.all_ports
    assert "prow" in registered.all_ports


def test_a_check_answer_keeps_what_it_learnt() -> None:
    assert Check.pending("x", job_id="1").data == {"job_id": "1"}


class TokenlessProw(FakeProwJobs):
    async def trigger(self, job_name: str, **kwargs: Any) -> str:
        raise ConfigurationError("APITOKEN is not set", variables=["APITOKEN"])


async def test_without_a_gangway_token_in_the_worker_the_follow_fails_at_once() -> None:
    world = World()
    world.kind.prow = TokenlessProw()
    check = await world.kind.check(follow(), 1)
    assert check.done
    finished = await world.kind.finish(follow(), check)
    assert (finished.ok, finished.error) == (False, "APITOKEN is not set")
