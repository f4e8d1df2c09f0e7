"""Log output: stable event names with fields, secrets scrubbed, JSON on request."""

from __future__ import annotations

import io
import json
import logging

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
