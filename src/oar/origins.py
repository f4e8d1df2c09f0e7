"""Hosts and origins, sans I/O: is a request addressed to this server, from its own page?

Without an API token the HTTP API trusts the machine it runs on, so it must tell a request
from the machine apart from one a web page in the operator's browser makes:

* the ``Host`` header must name this server (a loopback name or the bind address) and its
  port, which defeats DNS rebinding (a hostile name resolving to 127.0.0.1 still sends its
  own name as Host);
* a browser's ``Origin`` must be the server's own origin or one the operator allowed,
  which defeats cross-site form posts and WebSocket connections
  (https://fetch.spec.whatwg.org/#origin-header).
"""

from __future__ import annotations

from collections.abc import Collection

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})
_WEB_SCHEME = {"ws": "http", "wss": "https", "http": "http", "https": "https"}


def split_host_port(value: str) -> tuple[str, int | None] | None:
    """``host``, ``host:port`` or ``[v6]:port`` → (lower-case host, port or ``None``);
    ``None`` when it is none of those (a path, user info, an empty host, a bad port)."""
    value = value.lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        host, rest = value[: end + 1], value[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port_text = rest[1:] if rest else None
    else:
        host, colon, after = value.partition(":")
        port_text = after if colon else None
    if not host or not host.isprintable() or any(c in host for c in "/?#@\\ "):
        return None
    if port_text is None:
        return host, None
    if not (port_text.isascii() and port_text.isdigit()) or len(port_text) > 5:
        return None
    port = int(port_text)
    return (host, port) if 0 < port <= 65535 else None


def host_name(address: str) -> str:
    """How a bind address appears in a Host header (IPv6 in brackets), in lower case."""
    address = address.lower()
    return f"[{address}]" if ":" in address and not address.startswith("[") else address


def normalize_origin(origin: str) -> str | None:
    """``scheme://host:port`` in lower case with the port spelled out, or ``None`` when
    ``origin`` is not an http(s) origin (``null``, a path, user info)."""
    scheme, sep, rest = origin.strip().lower().partition("://")
    if not sep or scheme not in ("http", "https") or not rest:
        return None
    split = split_host_port(rest)
    if split is None:
        return None
    host, port = split
    return f"{scheme}://{host}:{port if port is not None else DEFAULT_PORTS[scheme]}"


def host_allowed(
    host: str | None, *, names: Collection[str], port: int | None, scheme: str
) -> bool:
    """Whether a ``Host`` header names this server: one of ``names`` on ``port`` (the port
    the request arrived on; ``None`` when the server cannot tell, then any port)."""
    if not host:
        return False
    split = split_host_port(host)
    if split is None:
        return False
    name, given = split
    if name not in names:
        return False
    if port is None:
        return True
    return (given if given is not None else DEFAULT_PORTS.get(scheme)) == port


def origin_allowed(
    origin: str | None, *, host: str | None, scheme: str, allowed: Collection[str]
) -> bool:
    """Whether a request's ``Origin`` is the server's own (``scheme://host``) or one of
    ``allowed`` (normalized origins). No ``Origin`` header: not a browser's cross-site
    request, allowed."""
    if origin is None:
        return True
    given = normalize_origin(origin)
    if given is None:
        return False  # "null" (sandboxed pages, file://) or garbage
    if given in allowed:
        return True
    own = normalize_origin(f"{_WEB_SCHEME.get(scheme, scheme)}://{host}") if host else None
    return given == own
