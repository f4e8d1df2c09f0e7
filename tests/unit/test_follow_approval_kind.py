"""The approval follow kind's rules on fake ports: its checks, its finish, its texts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from oar.integrations.errata import Advisory, AdvisoryState, SecurityAlerts
from oar.integrations.fakes.brew import FakeBrew
from oar.integrations.fakes.errata import FakeErrata
from oar.integrations.fakes.payloads import FakePayloadInspector
from oar.integrations.fakes.slack import FakeNotifier
from oar.release.follows import Check, FollowInfo, FollowStatus
from oar.release.watch import ApprovalKind

URL = "https://example.test/4.19/metadata.json"
STARTED = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def _advisory(
    advisory_id: int, state: AdvisoryState = AdvisoryState.QE, *, kind: str = "RHBA"
) -> Advisory:
    return Advisory(
        id=advisory_id,
        name=f"{kind}-2026:{advisory_id}",
        type=kind,
        state=state,
        synopsis="OpenShift 4.19.3",
        qe_owner="qe@example.com",
        qe_group="OpenShift QE",
        product="RHOSE",
        release="RHOSE ASYNC",
    )


def _follow(**values: Any) -> FollowInfo:
    fields: dict[str, Any] = {
        "id": "approve-release:4.19",
        "kind": "approval",
        "key": "approve-release:4.19",
        "subject": "4.19",
        "release": "4.19.3",
        "task": "change-advisory-status",
        "channel": "#team-qe-release",
        "status": FollowStatus.RUNNING,
        "started_at": STARTED,
        "deadline_at": STARTED + timedelta(days=2),
        "interval_seconds": 1800.0,
        "started_by": "lead",
        "interface": "cli",
        "slack_channel": None,
        "slack_thread": None,
        "checks": 0,
        "last_check_at": None,
        "next_check_at": None,
        "error": None,
        "log": [],
        "finished_at": None,
        "data": {"advisories": {"rpm": 1, "microshift": 3}, "group": "4.19-qe-leads"},
        **values,
    }
    return FollowInfo(**fields)


def _kind(*, live: bool, errata: FakeErrata | None = None) -> ApprovalKind:
    payloads = FakePayloadInspector({"4.19": URL}, accessible={URL} if live else set())
    if errata is None:
        errata = FakeErrata(advisories={1: _advisory(1), 3: _advisory(3)})
    return ApprovalKind(errata=errata, brew=FakeBrew(), payloads=payloads)


async def test_a_check_is_pending_until_the_metadata_url_answers() -> None:
    pending = await _kind(live=False).check(_follow(), 1)
    assert not pending.done
    assert pending.line == "check #1: payload metadata URL still not accessible"
    done = await _kind(live=True).check(_follow(), 2)
    assert done.done
    assert done.line == "check #2: payload metadata URL is now accessible"
    no_payload = ApprovalKind(errata=None, brew=FakeBrew(), payloads=FakePayloadInspector())
    answer = await no_payload.check(_follow(), 3)
    assert answer.line.endswith("still not accessible (no stable payload yet)")


async def test_finishing_moves_the_qe_advisories_but_not_microshift() -> None:
    errata = FakeErrata(advisories={1: _advisory(1), 3: _advisory(3)})
    finished = await _kind(live=True, errata=errata).finish(_follow(), Check.finished("live"))
    assert finished.ok
    assert finished.line == "advisories moved to REL_PREP: 1"
    assert errata.advisories[1].state is AdvisoryState.REL_PREP
    assert errata.advisories[3].state is AdvisoryState.QE


async def test_a_blocking_alert_fails_the_finish_and_moves_nothing() -> None:
    # Security alerts belong to RHSA advisories (oar.release.secalerts).
    errata = FakeErrata(
        advisories={1: _advisory(1, kind="RHSA")},
        alerts={1: SecurityAlerts(blocking=True, alerts=("CVE-2026-1",))},
    )
    finished = await _kind(live=True, errata=errata).finish(_follow(), Check.finished("live"))
    assert not finished.ok
    assert "blocking security alert: CVE-2026-1" in (finished.error or "")
    assert finished.line.startswith("moving the advisories failed: ")
    assert errata.advisories[1].state is AdvisoryState.QE


async def test_without_errata_the_finish_fails_with_the_reason() -> None:
    kind = ApprovalKind(
        errata=None,
        brew=FakeBrew(),
        payloads=FakePayloadInspector(),
        errata_problem="Errata Tool needs ERRATA_TOKEN",
    )
    finished = await kind.finish(_follow(), Check.finished("live"))
    assert not finished.ok
    assert finished.error == "Errata Tool needs ERRATA_TOKEN"


async def test_the_texts_are_the_originals() -> None:
    kind, follow = _kind(live=True), _follow()
    notifier = FakeNotifier(groups={"4.19-qe-leads": "S0LEADS"})
    completed = await kind.summary(follow, FollowStatus.SUCCEEDED, None, notifier)
    assert completed == (
        "Hello <!subteam^S0LEADS>, Release approval completed for 4.19.3. Payload metadata URL"
        " is now accessible and advisories have been moved to REL_PREP."
    )
    timeout = await kind.summary(follow, FollowStatus.TIMED_OUT, None, FakeNotifier())
    assert timeout.startswith("Hello @4.19-qe-leads, Release approval timeout for 4.19.3.")
    failed = await kind.summary(follow, FollowStatus.FAILED, "boom", notifier)
    assert failed.endswith("Release approval failed for 4.19.3. Error: boom")
    assert kind.final_line(follow, FollowStatus.CANCELLED, "cancelled by x") == (
        "Release approval failed with error: cancelled by x"
    )
    assert kind.started_line(follow) == (
        "watch started for 4.19: checking every 1800s until 2026-12-01 10:00:00 UTC or until"
        " the payload metadata URL is accessible"
    )
    assert replace(follow, slack_thread="1.2", slack_channel="C1").already_text("watch") == (
        "already scheduled: watch approve-release:4.19 for 4.19 runs since 2026-11-29 10:00:00"
        " UTC, started by lead via cli (Slack thread C1/1.2); 0 check(s) made"
    )
