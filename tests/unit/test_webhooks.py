"""Webhook signatures and parsing, pure: GitHub's test vector and recorded deliveries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oar.errors import WebhookRequestError, WebhookSignatureError
from oar.github.webhooks import parse, sign, verify

FIXTURES = Path(__file__).parents[1] / "fixtures" / "github"


def test_githubs_documented_test_vector() -> None:
    """docs.github.com: validating webhook deliveries."""
    secret, body = "It's a Secret to Everybody", b"Hello, World!"
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert sign(secret, body) == expected
    verify(body, secret=secret, signature_256=expected)


@pytest.mark.parametrize(
    ("signature_256", "signature_1", "allow_sha1", "message"),
    [
        (None, None, False, "not signed"),
        ("sha256=" + "0" * 64, None, False, "does not match"),
        (None, "sha1=abc", False, "X-Hub-Signature-256 is required"),
        (None, "sha1=abc", True, "X-Hub-Signature does not match"),
    ],
)
def test_missing_or_wrong_signatures_are_refused(
    signature_256: str | None, signature_1: str | None, allow_sha1: bool, message: str
) -> None:
    with pytest.raises(WebhookSignatureError, match=message):
        verify(
            b"{}",
            secret="s3cret",
            signature_256=signature_256,
            signature_1=signature_1,
            allow_sha1=allow_sha1,
        )


def test_sha1_only_when_allowed() -> None:
    body = b'{"zen": "Keep it logically awesome."}'
    verify(
        body,
        secret="s",
        signature_256=None,
        signature_1=sign("s", body, algorithm="sha1"),
        allow_sha1=True,
    )


def test_no_secret_means_refusal_unless_unsigned_is_explicitly_allowed() -> None:
    with pytest.raises(WebhookSignatureError, match="no webhook secret is configured"):
        verify(b"{}", secret=None, signature_256="sha256=whatever")
    verify(b"{}", secret=None, signature_256=None, allow_unsigned=True)


@pytest.mark.parametrize(
    ("event", "action", "keys"),
    [
        ("push", None, ("push",)),
        ("issues", "opened", ("issues", "issues.opened")),
        ("pull_request", "labeled", ("pull_request", "pull_request.labeled")),
    ],
)
def test_recorded_deliveries_parse(event: str, action: str | None, keys: tuple[str, ...]) -> None:
    body = (FIXTURES / f"{event}.json").read_bytes()
    delivery = parse(
        {
            "x-github-event": event,
            "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
            "x-github-hook-id": "292430182",
            "content-type": "application/json",
        },
        body,
    )
    assert delivery.event == event
    assert delivery.action == action
    assert delivery.keys == keys
    assert delivery.installation_id == 5150
    assert delivery.hook_id == "292430182"
    assert delivery.payload == json.loads(body)


@pytest.mark.parametrize(
    ("headers", "body", "message"),
    [
        ({"x-github-delivery": "d1"}, b"{}", "missing X-GitHub-Event"),
        ({"x-github-event": "push"}, b"{}", "missing X-GitHub-Delivery"),
        ({"x-github-event": "push", "x-github-delivery": "d1"}, b"{not json", "not valid JSON"),
        ({"x-github-event": "push", "x-github-delivery": "d1"}, b"[1, 2]", "a JSON object"),
        (
            {
                "x-github-event": "push",
                "x-github-delivery": "d1",
                "content-type": "application/x-www-form-urlencoded",
            },
            b"payload=%7B%7D",
            "form-encoded",
        ),
    ],
)
def test_malformed_deliveries_are_refused(
    headers: dict[str, str], body: bytes, message: str
) -> None:
    with pytest.raises(WebhookRequestError, match=message):
        parse(headers, body)


_HEADERS = {"x-github-event": "installation", "x-github-delivery": "d-hostile"}


def test_a_body_nested_100k_deep_is_a_400_not_a_recursion_error() -> None:
    """Issue 13 item 11: a signed body of 100k nested arrays crashed the receiver (500)."""
    body = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(WebhookRequestError, match="nests deeper than 100 levels") as caught:
        parse(_HEADERS, body)
    assert caught.value.status_code == 400


def test_a_body_nesting_past_the_limit_within_the_parsers_reach_is_refused_too() -> None:
    body = json.dumps({"a": json.loads("[" * 150 + "]" * 150)}).encode()
    with pytest.raises(WebhookRequestError, match="nests deeper than 100 levels"):
        parse(_HEADERS, body)


@pytest.mark.parametrize("installation_id", [2**63, 2**64 + 5, 0, -1])
def test_an_installation_id_no_github_id_can_be_is_a_400(installation_id: int) -> None:
    """Issue 13 item 11: installation.id >= 2**63 reached the database and gave a 500."""
    body = json.dumps({"action": "created", "installation": {"id": installation_id}}).encode()
    with pytest.raises(WebhookRequestError, match="not a GitHub installation ID") as caught:
        parse(_HEADERS, body)
    assert caught.value.status_code == 400


@pytest.mark.parametrize(("value", "expected"), [(2**63 - 1, 2**63 - 1), ("7", None), (True, None)])
def test_the_largest_installation_id_passes_and_non_numbers_mean_none(
    value: object, expected: int | None
) -> None:
    body = json.dumps({"installation": {"id": value}}).encode()
    assert parse(_HEADERS, body).installation_id == expected
