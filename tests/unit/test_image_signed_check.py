"""``image-signed-check``'s rules on fake ports: digest handling, each signature lookup
state, the command's pass at once / start / join, and the follow kind's checks and texts
(a missing digest is looked up again at the next check: no retry result is lost)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from oar.errors import IntegrationError, IntegrationUnavailableError, InvalidArgumentError
from oar.integrations.fakes import FakeNotifier, FakeReleaseStreams, FakeSignatures
from oar.integrations.releasecontroller import Release
from oar.integrations.signatures import check_digest, signature_path, signature_url
from oar.release.checklist import TaskStatus
from oar.release.commands.signed import image_signed_check
from oar.release.follows import FollowInfo, FollowStatus
from oar.release.signing import (
    Lookup,
    SignatureKind,
    follow_key,
    look,
    payload_digest,
)
from oar.release.tracking import ReleaseContext
from oar.release.versions import ReleaseVersion
from oar.sandbox import seed
from oar.testing.release import FakeFollows
from tests.unit.release_world import release_context, running_follow, seeded_ports

DIGEST = "sha256:" + "0123456789abcdef" * 4
MIRROR = "https://mirror.openshift.com/pub/openshift-v4/signatures/openshift/release/"
QE_RELEASE = "#team-qe-release"
VERSION = ReleaseVersion.parse(seed.RELEASE)


def build(name: str = seed.RELEASE, digest: str | None = DIGEST) -> Release:
    details: dict[str, Any] = {"name": name, "phase": "Accepted"}
    if digest is not None:
        details["changeLogJson"] = {"to": {"name": name, "digest": digest}}
    return Release.from_json(details)


def streams(*builds: Release) -> FakeReleaseStreams:
    return FakeReleaseStreams({("amd64", "4-stable"): list(builds)})


# --- digests ----------------------------------------------------------------------------------
def test_a_digest_becomes_the_mirrors_path() -> None:
    assert signature_path(DIGEST) == f"sha256={DIGEST[7:]}/signature-1"
    assert signature_url(MIRROR, DIGEST) == f"{MIRROR}sha256={DIGEST[7:]}/signature-1"
    assert check_digest(f"  {DIGEST}\n") == DIGEST


@pytest.mark.parametrize(
    "bad", ["", "sha256:", "sha256:abc", "sha512:" + "a" * 64, DIGEST.upper(), DIGEST + "0"]
)
def test_anything_but_a_sha256_digest_is_refused(bad: str) -> None:
    with pytest.raises(InvalidArgumentError, match="not a payload digest"):
        check_digest(bad)


def test_the_digest_comes_from_the_builds_change_log() -> None:
    assert payload_digest(build()) == DIGEST
    assert payload_digest(build(digest=None)) is None
    assert payload_digest(Release.from_json({"name": "4.19.3", "changeLogJson": {}})) is None
    with pytest.raises(IntegrationError, match="malformed payload digest 'sha256:zz'"):
        payload_digest(build(digest="sha256:zz"))


# --- each lookup state --------------------------------------------------------------------------
async def test_no_stable_build_yet() -> None:
    found = await look(streams(build("4.19.2")), FakeSignatures(), VERSION)
    assert (found.state, found.digest) == (Lookup.NO_RELEASE, None)
    assert found.text() == "the release controller has no stable build 4.19.3 yet"


async def test_a_build_without_a_digest_yet() -> None:
    found = await look(streams(build(digest=None)), FakeSignatures(), VERSION)
    assert (found.state, found.digest) == (Lookup.NO_DIGEST, None)


async def test_a_digest_not_signed_yet_then_signed() -> None:
    signatures = FakeSignatures()
    found = await look(streams(build()), signatures, VERSION)
    assert (found.state, found.digest) == (Lookup.NOT_SIGNED, DIGEST)
    assert found.url == f"{MIRROR}sha256={DIGEST[7:]}/signature-1"
    assert not found.state.done
    signatures.publish(DIGEST)
    signed = await look(streams(build()), signatures, VERSION)
    assert signed.state is Lookup.SIGNED
    assert signed.state.done
    assert signed.text() == f"the payload {DIGEST} is signed: {found.url}"


async def test_a_signature_server_error_is_raised_not_read_as_unsigned() -> None:
    signatures = FakeSignatures(error=IntegrationUnavailableError("signature server", "503"))
    with pytest.raises(IntegrationUnavailableError):
        await look(streams(build()), signatures, VERSION)


# --- the command --------------------------------------------------------------------------------
async def context(tmp_path: Path, **ports: Any) -> ReleaseContext:
    opened = seeded_ports(
        **{
            "notifier": FakeNotifier(groups={"4.19-qe-leads": "S0419QELDS"}),
            "follows": FakeFollows(),
            "releases": streams(),
            "signatures": FakeSignatures(),
            **ports,
        }
    )
    return await release_context(tmp_path, seed.RELEASE, opened, task="image-signed-check")


async def test_a_signed_payload_passes_at_once_and_the_channel_hears_it(tmp_path: Path) -> None:
    signatures = FakeSignatures()
    signatures.publish(DIGEST)
    ctx = await context(tmp_path, releases=streams(build()), signatures=signatures)

    outcome = await image_signed_check(ctx)

    assert outcome.status is TaskStatus.PASS
    assert outcome.message == f"Signature check PASSED: the payload {DIGEST} is signed: " + (
        f"{MIRROR}sha256={DIGEST[7:]}/signature-1"
    )
    follows: FakeFollows = ctx.ports.follows  # type: ignore[assignment]
    assert follows.requests == []
    notifier: FakeNotifier = ctx.ports.notifier  # type: ignore[assignment]
    (message,) = notifier.channel_messages(QE_RELEASE)
    assert message.text.startswith(
        f"[{seed.RELEASE}] Hello <!subteam^S0419QELDS>, image signed check passed: the payload"
    )


async def test_a_release_not_promoted_yet_starts_a_follow(tmp_path: Path) -> None:
    ctx = await context(tmp_path)

    outcome = await image_signed_check(ctx)

    assert outcome.status is TaskStatus.IN_PROGRESS
    assert outcome.message.startswith(
        "started: the release controller has no stable build 4.19.3 yet; follow"
        f" {follow_key(seed.RELEASE)} checks every 300s until"
    )
    assert outcome.message.endswith(f"and I will report in {QE_RELEASE}")
    follows: FakeFollows = ctx.ports.follows  # type: ignore[assignment]
    (request,) = follows.requests
    assert (request.kind, request.key, request.task, request.run_id) == (
        "image-signature",
        "image-signed-check:4.19.3",
        "image-signed-check",
        ctx.run_id,
    )
    assert (request.interval, request.deadline) == (300.0, 43200.0)
    assert request.data == {"group": "4.19-qe-leads"}
    assert follows.kept_alive == [request.key]
    notifier: FakeNotifier = ctx.ports.notifier  # type: ignore[assignment]
    assert notifier.messages == []


async def test_from_slack_the_outcome_is_promised_in_the_thread(tmp_path: Path) -> None:
    ctx = await context(tmp_path, releases=streams(build()))
    ctx.slack_channel, ctx.slack_thread = "C0QE", "1700000000.000100"

    outcome = await image_signed_check(ctx)

    assert f"and I will report in this thread and {QE_RELEASE}" in outcome.message
    follows: FakeFollows = ctx.ports.follows  # type: ignore[assignment]
    assert (follows.requests[0].slack_channel, follows.requests[0].slack_thread) == (
        "C0QE",
        "1700000000.000100",
    )


async def test_a_second_run_joins_the_running_follow(tmp_path: Path) -> None:
    follows = FakeFollows()
    await image_signed_check(await context(tmp_path, follows=follows))
    second = await context(tmp_path, follows=follows)
    second.run_id = 2

    outcome = await image_signed_check(second)

    assert outcome.status is TaskStatus.IN_PROGRESS
    assert outcome.message.startswith("already scheduled: follow image-signed-check:4.19.3")
    assert "this run joined it" in outcome.message
    assert len(follows.follows) == 1
    assert outcome.data["joined"] is True


async def test_a_failed_first_look_still_starts_the_follow(tmp_path: Path) -> None:
    signatures = FakeSignatures(error=IntegrationUnavailableError("signature server", "503"))
    ctx = await context(tmp_path, releases=streams(build()), signatures=signatures)

    outcome = await image_signed_check(ctx)

    assert outcome.status is TaskStatus.IN_PROGRESS
    assert outcome.message.startswith("started: the first look failed (signature server: 503)")


# --- the follow kind ----------------------------------------------------------------------------
def follow(log: list[str] | None = None) -> FollowInfo:
    return running_follow(
        kind="image-signature",
        key="image-signed-check:4.19.3",
        subject=seed.RELEASE,
        release=seed.RELEASE,
        task="image-signed-check",
        channel=QE_RELEASE,
        started_at=datetime(2026, 11, 26, 8, 0, tzinfo=UTC),
        deadline=timedelta(hours=12),
        interval=300,
        log=log,
        data={"group": "4.19-qe-leads"},
    )


async def test_the_follow_looks_again_until_the_digest_and_then_the_signature_appear() -> None:
    releases, signatures = streams(), FakeSignatures()
    kind = SignatureKind(streams=releases, signatures=signatures)

    first = await kind.check(follow(), 1)
    assert not first.done
    assert first.line == "check #1: the release controller has no stable build 4.19.3 yet"

    releases.streams[("amd64", "4-stable")] = [build(digest=None)]
    second = await kind.check(follow(), 2)
    assert (second.done, second.data["state"]) == (False, "no digest")

    releases.streams[("amd64", "4-stable")] = [build()]
    third = await kind.check(follow(), 3)
    assert (third.done, third.data["digest"]) == (False, DIGEST)
    assert third.line.startswith(f"check #3: the signature of {DIGEST} is not published yet")

    signatures.publish(DIGEST)
    fourth = await kind.check(follow(), 4)
    assert fourth.done
    finished = await kind.finish(follow(), fourth)
    assert finished.ok
    assert finished.line == f"Signature check PASSED: {MIRROR}sha256={DIGEST[7:]}/signature-1"
    assert signatures.lookups == 2


async def test_the_outcome_texts() -> None:
    kind = SignatureKind(streams=streams(), signatures=FakeSignatures())
    notifier = FakeNotifier(groups={"4.19-qe-leads": "S0419QELDS"})
    waited = follow(
        ["2026-11-26T20:00:00Z: check #144: the signature of sha256:ab is not published yet at u"]
    )

    timed_out = await kind.summary(waited, FollowStatus.TIMED_OUT, None, notifier)
    assert timed_out == (
        f"[{seed.RELEASE}] Hello <!subteam^S0419QELDS>, image signed check failed: no"
        " signature by the deadline (the signature of sha256:ab is not published yet at u)"
    )
    assert kind.final_line(waited, FollowStatus.TIMED_OUT, None) == (
        "image signed check failed: no signature by 2026-11-26 20:00:00 UTC (the signature of"
        " sha256:ab is not published yet at u)"
    )
    signed = dataclasses.replace(
        waited, log=["2026-11-26T09:00:00Z: check #13: the payload d is signed: u"]
    )
    passed = await kind.summary(signed, FollowStatus.SUCCEEDED, None, notifier)
    assert passed.endswith("image signed check passed: the payload d is signed: u")
    cancelled = await kind.summary(waited, FollowStatus.CANCELLED, "cancelled by x", notifier)
    assert cancelled.endswith("image signed check failed: cancelled by x")
    assert kind.started_line(waited).startswith(
        "follow started for the payload signature of 4.19.3: checking every 300s"
    )


async def test_once_signed_a_run_still_joins_the_running_follow_which_reports_once(
    tmp_path: Path,
) -> None:
    follows, signatures = FakeFollows(), FakeSignatures()
    await image_signed_check(await context(tmp_path, follows=follows, signatures=signatures))
    signatures.publish(DIGEST)
    second = await context(
        tmp_path, follows=follows, signatures=signatures, releases=streams(build())
    )

    outcome = await image_signed_check(second)

    assert outcome.status is TaskStatus.IN_PROGRESS  # the follow records the Pass
    assert "this run joined it" in outcome.message
    assert signatures.lookups == 0  # not even looked: the follow decides
    notifier: FakeNotifier = second.ports.notifier  # type: ignore[assignment]
    assert notifier.messages == []
