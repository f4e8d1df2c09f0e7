"""Who may call the HTTP API and the WebSocket, decided from a request's head, sans I/O.

One policy for every route, applied by :class:`oar.web.auth.AccessMiddleware` before a
route runs or its body is read, so a new route cannot forget it:

* With ``OAR_API_TOKEN``, every request needs ``Authorization: Bearer <token>`` (the
  WebSocket may send ``?token=`` instead, as browsers cannot set its headers), except the
  public paths (health, the OpenAPI docs, ``/metrics`` with ``OAR_METRICS_PUBLIC``) and the
  receivers that check their own signatures (GitHub webhooks, Slack events).
* Without a token the server only listens on loopback (checked at start-up), and a request
  must name this server in ``Host`` (DNS rebinding) and, on ``/ws`` and every method but
  GET and HEAD, come from no browser page or from the server's own origin (or one in
  ``OAR_ALLOWED_ORIGINS``).
* A URL with a NUL character is refused (422): no database stores one.
* The dashboard's pages (``/``, ``/releases/…``, ``/dashboard/…``) also accept the session
  cookie its login page sets (a browser cannot send a bearer header): its value is an HMAC
  of the token, the cookie is ``HttpOnly`` and ``SameSite=Strict``, and a request it
  authenticates must, on every method but GET and HEAD and on a WebSocket, come from the
  server's own origin (CSRF). A page request with neither is sent to the login page. The
  JSON API never accepts the cookie.

The identity a request authenticated as (``api-token``, or ``local`` without a token) is
what OAR records as the actor of what the request does.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, quote, unquote_to_bytes

from oar.origins import LOOPBACK_NAMES, host_allowed, host_name, origin_allowed

TOKEN_IDENTITY = "api-token"  # noqa: S105 (a name recorded as actor, not a secret)
LOCAL_IDENTITY = "local"
ANONYMOUS_IDENTITY = "anonymous"  # a public path, with a token configured and none sent
SIGNED_IDENTITY = "signed"  # a receiver that verifies its own signature

_SAFE_METHODS = frozenset({"GET", "HEAD"})
_SINGLE_HEADERS = ("host", "origin", "authorization")
_TOKEN_HINT = "send Authorization: Bearer <OAR_API_TOKEN>"  # noqa: S105 (a hint)


@dataclass(frozen=True, kw_only=True)
class RequestHead:
    """What the policy looks at: an HTTP request or WebSocket handshake before its body."""

    kind: Literal["http", "websocket"]
    method: str
    path: str
    query_string: bytes = b""
    headers: Mapping[str, tuple[bytes, ...]] = field(default_factory=dict)
    scheme: str = "http"
    server_port: int | None = None
    server_host: str | None = None

    def header(self, name: str) -> bytes | None:
        values = self.headers.get(name)
        return values[0] if values else None


@dataclass(frozen=True, kw_only=True)
class Allowed:
    """Go ahead as ``identity``; ``limit_body`` says whether the body cap applies."""

    identity: str
    limit_body: bool = True


@dataclass(frozen=True, kw_only=True)
class Refused:
    """Answer ``status`` with an error of ``kind`` and a one-line ``message``."""

    status: int
    kind: str
    message: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, kw_only=True)
class DashboardAccess:
    """Which paths are the dashboard's (they accept the session cookie) and its login."""

    page_paths: frozenset[str] = frozenset()
    page_prefixes: tuple[str, ...] = ()
    login_path: str = "/dashboard/login"
    cookie: str = "oar_session"

    def covers(self, path: str) -> bool:
        return path in self.page_paths or path.startswith(self.page_prefixes)


def session_value(token: bytes) -> str:
    """The dashboard cookie's value for ``token``: proves the token was given, is not it."""
    return hmac.new(token, b"oar-dashboard-session-v1", hashlib.sha256).hexdigest()


@dataclass(frozen=True, kw_only=True)
class AccessPolicy:
    """The rules of one running app (from Settings and the routes it mounted)."""

    token: bytes | None = field(repr=False)
    bind_host: str = "127.0.0.1"
    allowed_origins: frozenset[str] = frozenset()
    public_paths: frozenset[str] = frozenset()
    signed_paths: frozenset[str] = frozenset()
    public_prefixes: tuple[str, ...] = ()
    dashboard: DashboardAccess = field(default_factory=DashboardAccess)

    def decide(self, head: RequestHead) -> Allowed | Refused:
        if head.kind == "http" and head.path in self.signed_paths:
            return Allowed(identity=SIGNED_IDENTITY, limit_body=False)
        for name in _SINGLE_HEADERS:
            if len(head.headers.get(name, ())) > 1:
                return Refused(
                    status=400, kind="BadRequest", message=f"the {name} header is repeated"
                )
        if self.token is None:
            identity = LOCAL_IDENTITY
            if refused := self._check_host(head):
                return refused
            if refused := self._check_origin(head):
                return refused
        else:
            verdict = self._authenticate(head)
            if isinstance(verdict, Refused):
                return verdict
            identity = verdict
        if url_has_nul(head.path, head.query_string):
            return Refused(
                status=422,
                kind="InvalidRequest",
                message="the URL contains a NUL character (%00), which OAR refuses",
            )
        return Allowed(identity=identity)

    def _authenticate(self, head: RequestHead) -> str | Refused:
        """With a token configured: who the request is, or why it is refused."""
        if head.path in self.public_paths or head.path.startswith(self.public_prefixes):
            return ANONYMOUS_IDENTITY
        if self._token_matches(head):
            return TOKEN_IDENTITY
        if self.dashboard.covers(head.path) and self._session_matches(head):
            return self._check_origin(head) or TOKEN_IDENTITY
        if (
            self.dashboard.covers(head.path)
            and head.kind == "http"
            and head.method in _SAFE_METHODS
        ):
            target = quote(head.path, safe="/")
            return Refused(
                status=303,
                kind="LoginRequired",
                message="the dashboard needs the API token once: log in",
                headers=(("location", f"{self.dashboard.login_path}?next={target}"),),
            )
        return Refused(
            status=401,
            kind="Unauthorized",
            message=f"a valid API token is required: {_TOKEN_HINT}"
            + (" or connect with ?token=" if head.kind == "websocket" else ""),
            headers=(("www-authenticate", "Bearer"),),
        )

    def _token_matches(self, head: RequestHead) -> bool:
        assert self.token is not None
        header = head.header("authorization") or b""
        scheme, _, given = header.partition(b" ")
        if scheme.lower() != b"bearer" and head.kind == "websocket":
            given = query_value(head.query_string, "token")
        elif scheme.lower() != b"bearer":
            return False
        # Constant time: how much of a guess matched must not show in the answer's timing.
        return hmac.compare_digest(given.strip(), self.token)

    def _session_matches(self, head: RequestHead) -> bool:
        assert self.token is not None
        given = cookie_value(head.header("cookie"), self.dashboard.cookie)
        expected = session_value(self.token).encode()
        return given is not None and hmac.compare_digest(given, expected)

    def _check_host(self, head: RequestHead) -> Refused | None:
        names = LOOPBACK_NAMES | {host_name(self.bind_host)}
        if head.server_host:
            names |= {host_name(head.server_host)}
        host = (head.header("host") or b"").decode("latin-1")
        if host_allowed(host, names=names, port=head.server_port, scheme=head.scheme):
            return None
        return Refused(
            status=403,
            kind="ForbiddenHost",
            message=f"Host {host!r} does not name this server: without OAR_API_TOKEN, OAR"
            f" answers only requests to {', '.join(sorted(names))} on its own port",
        )

    def _check_origin(self, head: RequestHead) -> Refused | None:
        if head.kind == "http" and head.method in _SAFE_METHODS:
            return None
        raw = head.header("origin")
        origin = raw.decode("latin-1") if raw is not None else None
        host = (head.header("host") or b"").decode("latin-1")
        if origin_allowed(origin, host=host, scheme=head.scheme, allowed=self.allowed_origins):
            return None
        return Refused(
            status=403,
            kind="ForbiddenOrigin",
            message=f"a page from {origin!r} may not use this API: without OAR_API_TOKEN,"
            " only the server's own origin and OAR_ALLOWED_ORIGINS may",
        )


def url_has_nul(path: str, query_string: bytes) -> bool:
    """Whether the (decoded) path or the query string carries a NUL character."""
    return "\x00" in path or b"\x00" in unquote_to_bytes(query_string)


def cookie_value(header: bytes | None, name: str) -> bytes | None:
    """The value of cookie ``name`` in a ``Cookie`` header (None when absent)."""
    for part in (header or b"").split(b";"):
        key, sep, value = part.strip().partition(b"=")
        if sep and key.decode("latin-1") == name:
            return value
    return None


def query_value(query_string: bytes, name: str) -> bytes:
    """The first value of ``name`` in a query string (empty when absent)."""
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if key == name:
            return value.encode("latin-1", errors="replace")
    return b""
