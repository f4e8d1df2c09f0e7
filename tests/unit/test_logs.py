"""Log output: stable event names with fields, secrets scrubbed, JSON on request."""

from __future__ import annotations

import io
import json
import logging

import pytest

from oar.logs import configure_logging, get_logger


def test_secret_values_and_secret_named_fields_are_masked() -> None:
    stream = io.StringIO()
    configure_logging(level="INFO", fmt="json", secrets=["tok-very-secret"], stream=stream)
    log = get_logger("oar.test")
    log.info("request.sent", url="https://x/?t=tok-very-secret", api_token="anything")
    logging.getLogger("thirdparty").warning("header Authorization: Bearer tok-very-secret")

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert "tok-very-secret" not in stream.getvalue()
    assert lines[0]["event"] == "request.sent"
    assert lines[0]["url"] == "https://x/?t=***"
    assert lines[0]["api_token"] == "***"
    assert lines[1]["event"] == "header Authorization: Bearer ***"
    assert lines[1]["logger"] == "thirdparty"


def _failing_call(scope: dict[str, object]) -> None:
    raise RuntimeError("upstream refused token tok-very-secret")


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_exceptions_are_plain_tracebacks_without_locals_and_scrubbed(fmt: str) -> None:
    stream = io.StringIO()
    configure_logging(level="INFO", fmt=fmt, secrets=["tok-very-secret"], stream=stream)
    scope = {"headers": [(b"authorization", b"Bearer tok-very-secret")]}
    try:
        _failing_call(scope)
    except RuntimeError:
        get_logger("oar.test").exception("call.failed")
        logging.getLogger("thirdparty").error("Exception in ASGI application", exc_info=True)

    output = stream.getvalue()
    assert output.count("Traceback (most recent call last)") == 2
    assert "RuntimeError: upstream refused token ***" in output
    assert "tok-very-secret" not in output
    assert "│" not in output  # rich's traceback draws each frame and its locals in boxes
    assert "b'authorization'" not in output


def test_secrets_inside_structured_values_are_masked() -> None:
    stream = io.StringIO()
    configure_logging(level="INFO", fmt="json", secrets=["tok-very-secret"], stream=stream)
    get_logger("oar.test").info(
        "request.sent",
        headers={"Authorization": "Bearer tok-very-secret", "Accept": "json"},
        urls=["https://x/?t=tok-very-secret"],
        error=RuntimeError("bad token tok-very-secret"),
    )

    line = json.loads(stream.getvalue())
    assert "tok-very-secret" not in stream.getvalue()
    assert line["headers"] == {"Authorization": "***", "Accept": "json"}
    assert line["urls"] == ["https://x/?t=***"]
    assert line["error"] == "RuntimeError('bad token ***')"
