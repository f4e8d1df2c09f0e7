"""What HTTP client libraries fail with, as :class:`~oar.integrations.calls.Failure` values:
httpx (release controller, Gangway and Prow, payload metadata URLs, Errata) and the
requests-based libraries (jira, python-gitlab, python-jenkins).

Those libraries hide the response of a refused request behind their own exceptions
(python-jenkins turns 401, 403 and 500 into one message; python-gitlab drops the headers,
so ``Retry-After`` is lost). :func:`refusal_hook` is a ``requests`` response hook that
raises :class:`HttpRefusal` with the status and ``Retry-After`` before the library sees the
response, so every adapter classifies the same facts the same way.
"""

from __future__ import annotations

from typing import Any

import httpx
import requests

from oar.integrations.calls import Failure, Kind, failure_for_status, parse_retry_after

# Statuses the hook raises on: the ones whose handling is ours (credentials, retries).
# 404 and 409 stay with the library, which some calls rely on (Jenkins' optional crumb).
_REFUSED = frozenset({401, 403, 429, 500, 502, 503, 504})


class HttpRefusal(Exception):
    """The server answered with a status the adapter must handle itself."""

    def __init__(self, status_code: int, reason: str, *, retry_after: float | None) -> None:
        self.status_code = status_code
        self.retry_after = retry_after
        super().__init__(f"HTTP {status_code} {reason}".strip())


def refusal_hook(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    """A ``requests`` response hook: raise :class:`HttpRefusal` for a refused request."""
    if response.status_code in _REFUSED:
        response.close()  # the library never sees it: give the connection back
        raise HttpRefusal(
            response.status_code,
            response.reason or "",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    return response


def install_refusal_hook(session: requests.Session) -> None:
    hooks = session.hooks.setdefault("response", [])
    if refusal_hook not in hooks:
        hooks.append(refusal_hook)


def classify_requests(exc: BaseException) -> Failure | None:
    """The meaning of :class:`HttpRefusal` and of ``requests``' own exceptions; None otherwise."""
    if isinstance(exc, HttpRefusal):
        return failure_for_status(exc.status_code, str(exc), retry_after=exc.retry_after)
    if isinstance(exc, requests.Timeout):
        return Failure(kind=Kind.TIMEOUT, message=f"socket timeout: {exc}")
    if isinstance(exc, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        return Failure(kind=Kind.TRANSIENT, message=f"connection failed: {exc}")
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return failure_for_status(exc.response.status_code, str(exc))
    return None


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
