"""``oarctl github``: send a signed delivery, to test a deployment or drive the demo."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import click
import httpx

from oar.cli.console import err, fail, out, settings_or_exit
from oar.github.webhooks import MAX_BODY_BYTES, sign


@click.group()
def github() -> None:
    """GitHub webhooks."""


@github.command("send-webhook")
@click.option("--event", required=True, help="The X-GitHub-Event, e.g. push or issues.")
@click.option(
    "--file",
    "payload_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The JSON payload.",
)
@click.option("--delivery", help="The X-GitHub-Delivery (default: a new GUID).")
@click.option("--url", help="Where to send it (default: this service's webhook path).")
@click.option(
    "--secret", envvar="GITHUBAPP_WEBHOOK_SECRET", help="Signing secret (GITHUBAPP_WEBHOOK_SECRET)."
)
@click.option("--unsigned", is_flag=True, help="Send without a signature (to test refusal).")
@click.option(
    "--timeout", type=click.FloatRange(0, 600, min_open=True), default=30.0, show_default=True
)
def send_webhook(
    event: str,
    payload_file: Path,
    delivery: str | None,
    url: str | None,
    secret: str | None,
    unsigned: bool,
    timeout: float,
) -> None:
    """Sign a payload like GitHub does and POST it; print the answer."""
    settings = settings_or_exit(quiet=True)
    body = payload_file.read_bytes()
    if len(body) > MAX_BODY_BYTES:
        fail(f"{payload_file} is over GitHub's {MAX_BODY_BYTES}-byte limit", code=2)
    try:
        json.loads(body)
    except ValueError as exc:
        fail(f"{payload_file} is not valid JSON: {exc}", code=2)
    delivery = delivery or str(uuid.uuid4())
    target = url or f"http://{settings.host}:{settings.port}{settings.githubapp_webhook_path}"
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/oar-send-webhook",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
    }
    if not unsigned:
        if not secret:
            fail(
                "no signing secret: pass --secret or set GITHUBAPP_WEBHOOK_SECRET (or --unsigned)",
                code=2,
            )
        headers["X-Hub-Signature-256"] = sign(secret, body)
    try:
        response = httpx.post(target, content=body, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        fail(f"cannot deliver to {target}: {exc}")
    err.print(f"delivery {delivery} → HTTP {response.status_code}", highlight=False)
    try:
        out.print_json(data=response.json())
    except ValueError:
        out.print(response.text, highlight=False)
    if response.status_code >= 300:
        raise SystemExit(1)
