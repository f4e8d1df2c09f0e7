"""What httpx's exceptions mean, for the adapters built directly on httpx (release
controller, Gangway and Prow, payload metadata URLs)."""

from __future__ import annotations

import httpx

from oar.integrations.calls import Failure, Kind, failure_for_status, parse_retry_after


def classify_httpx(exc: BaseException) -> Failure | None:
    """An HTTP status by its usual meaning; timeouts as timeouts; any other transport
    error (refused, reset, DNS) as transient."""
    if isinstance(exc, httpx.HTTPStatusError):
        response = exc.response
        return failure_for_status(
            response.status_code,
            f"HTTP {response.status_code} from {exc.request.method} {exc.request.url.path}",
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )
    if isinstance(exc, httpx.TimeoutException):
        return Failure(kind=Kind.TIMEOUT, message=f"the HTTP client timed out ({exc!r})")
    if isinstance(exc, httpx.TransportError):
        return Failure(kind=Kind.TRANSIENT, message=f"connection failed ({type(exc).__name__})")
    return None
