"""How an approval request looks in Slack when its requester worded the question."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from oar.engine.approvals import ApprovalInfo, ApprovalStatus, Resolution
from oar.slack.approvals import outcome_blocks, request_blocks, request_message

NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


def info(context: object, status: ApprovalStatus = ApprovalStatus.PENDING) -> ApprovalInfo:
    return ApprovalInfo(
        id="a-1",
        run_id="4.19.3 OCPBUGS-1",
        session_id=None,
        approval_type="drop-bug",
        context=context,  # type: ignore[arg-type]
        status=status,
        resolution=Resolution.APPROVED if status is ApprovalStatus.RESOLVED else None,
        feedback=None,
        modifications=None,
        created_at=NOW,
        expires_at=NOW + timedelta(days=2),
        resolved_at=None,
        requested_by="lead",
        requested_via="cli",
        resolved_by="slack:U1" if status is ApprovalStatus.RESOLVED else None,
        resolved_via=None,
        workflow_id=None,
        announce_channel=None,
        announce_ts=None,
    )


def texts(blocks: list[dict[str, object]]) -> list[str]:
    return [str(b["text"]["text"]) for b in blocks if b["type"] == "section"]  # type: ignore[index]


def test_the_question_is_shown_as_mrkdwn_so_the_mention_notifies() -> None:
    asked = info({"message": "Hello <@U0ALICE002>, may OAR drop *OCPBUGS-1*?", "bug": "X"})
    assert request_message(asked) == "Hello <@U0ALICE002>, may OAR drop *OCPBUGS-1*?"
    blocks = request_blocks(asked)
    assert texts(blocks)[1] == "Hello <@U0ALICE002>, may OAR drop *OCPBUGS-1*?"  # not in ```
    assert blocks[-1]["type"] == "actions"
    decided = outcome_blocks(info(asked.context, ApprovalStatus.RESOLVED))
    assert all(b["type"] != "actions" for b in decided)
    assert "Hello <@U0ALICE002>" in texts(decided)[1]


def test_without_a_question_the_request_is_as_before() -> None:
    for context in ({"release": "4.19.3"}, ["a"], {"message": "  "}, {"message": 3}):
        plain = info(context)
        assert request_message(plain) is None
        assert len(request_blocks(plain)) == 3
