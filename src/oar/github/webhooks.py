"""GitHub webhook deliveries, sans I/O: sign, verify, parse. Values in, values or errors out.

Rules from GitHub's documentation (``validating-webhook-deliveries``,
``webhook-events-and-payloads``):

* ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>``, compared in
  constant time; the legacy ``X-Hub-Signature`` (SHA-1) only when explicitly allowed;
* ``X-GitHub-Event`` names the event, the payload's top-level ``action`` the action;
* ``X-GitHub-Delivery`` is a GUID that stays the same on redelivery (the dedupe key);
* GitHub never delivers a payload over 25 MB;
* ``installation.id`` is a positive 64-bit integer (GitHub's IDs are bigints).

A signed body can still be hostile (a leaked secret, a replayed test delivery): a body
that nests deeper than any GitHub payload, or an installation ID no database column
holds, is a 400, not a crash further in.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from oar.errors import WebhookRequestError, WebhookSignatureError
from oar.jsonvalue import MAX_DEPTH, nests_deeper_than

MAX_BODY_BYTES = 25 * 1024 * 1024
MAX_INSTALLATION_ID = 2**63 - 1
_DELIVERY_ID_MAX = 100


def sign(secret: str, body: bytes, *, algorithm: str = "sha256") -> str:
    """The signature header value GitHub sends for ``body`` (``sha256=…``)."""
    digest = hmac.new(secret.encode(), body, getattr(hashlib, algorithm)).hexdigest()
    return f"{algorithm}={digest}"


def verify(
    body: bytes,
    *,
    secret: str | None,
    signature_256: str | None,
    signature_1: str | None = None,
    allow_sha1: bool = False,
    allow_unsigned: bool = False,
) -> None:
    """Check the delivery's signature; raise WebhookSignatureError when it does not hold.

    Half-configured security is an error, not a pass: with a secret, a delivery must be
    signed; without one, only ``allow_unsigned`` (a development switch) accepts it.
    """
    if secret is None:
        if allow_unsigned:
            return
        raise WebhookSignatureError("no webhook secret is configured to verify deliveries with")
    if signature_256:
        expected = sign(secret, body, algorithm="sha256")
        if hmac.compare_digest(signature_256.strip().encode(), expected.encode()):
            return
        raise WebhookSignatureError("X-Hub-Signature-256 does not match the body")
    if signature_1 and allow_sha1:
        expected = sign(secret, body, algorithm="sha1")
        if hmac.compare_digest(signature_1.strip().encode(), expected.encode()):
            return
        raise WebhookSignatureError("X-Hub-Signature does not match the body")
    if signature_1:
        raise WebhookSignatureError(
            "only X-Hub-Signature (SHA-1) was sent; X-Hub-Signature-256 is required"
        )
    raise WebhookSignatureError("the delivery is not signed (no X-Hub-Signature-256 header)")


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """One parsed delivery. Each request gets its own: nothing is shared between them."""

    event: str
    action: str | None
    delivery_id: str
    payload: dict[str, Any]
    installation_id: int | None
    hook_id: str | None

    @property
    def keys(self) -> tuple[str, ...]:
        """The handler keys this delivery matches: ``event`` and ``event.action``."""
        return (self.event, f"{self.event}.{self.action}") if self.action else (self.event,)


def parse(headers: Mapping[str, str], body: bytes) -> Delivery:
    """Parse a delivery whose signature was already verified. Header names are lowercase."""
    event = headers.get("x-github-event", "").strip()
    if not event:
        raise WebhookRequestError("missing X-GitHub-Event header: this is not a GitHub delivery")
    delivery_id = headers.get("x-github-delivery", "").strip()
    if not delivery_id:
        raise WebhookRequestError("missing X-GitHub-Delivery header")
    if len(delivery_id) > _DELIVERY_ID_MAX or not delivery_id.isprintable():
        raise WebhookRequestError("X-GitHub-Delivery is not a delivery GUID")
    content_type = headers.get("content-type", "application/json").split(";")[0].strip()
    if content_type == "application/x-www-form-urlencoded":
        raise WebhookRequestError(
            "form-encoded deliveries are not supported: set the webhook's content type to"
            " application/json"
        )
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookRequestError(f"the body is not valid JSON: {exc}") from None
    except RecursionError:  # the parser's own limit, near Python's recursion limit
        raise WebhookRequestError(
            f"the body nests deeper than {MAX_DEPTH} levels: this is not a GitHub payload"
        ) from None
    if not isinstance(payload, dict):
        raise WebhookRequestError("the body must be a JSON object")
    if nests_deeper_than(payload):
        raise WebhookRequestError(
            f"the body nests deeper than {MAX_DEPTH} levels: this is not a GitHub payload"
        )
    action = payload.get("action")
    return Delivery(
        event=event,
        action=action if isinstance(action, str) else None,
        delivery_id=delivery_id,
        payload=payload,
        installation_id=installation_id(payload),
        hook_id=headers.get("x-github-hook-id"),
    )


def installation_id(payload: dict[str, Any]) -> int | None:
    """``installation.id``; ``None`` when the payload names no installation (or not as a
    number); WebhookRequestError for a number outside 1..2**63-1, which no GitHub ID is."""
    installation = payload.get("installation")
    value = installation.get("id") if isinstance(installation, dict) else None
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    if not 1 <= value <= MAX_INSTALLATION_ID:
        raise WebhookRequestError(
            "installation.id is not a GitHub installation ID (an integer from 1 to 2**63-1)"
        )
    return value
