"""Who may call the API, decided from a request's head: tokens, Host, Origin, NUL."""

from __future__ import annotations

import pytest

from oar.origins import host_allowed, normalize_origin, origin_allowed, split_host_port
from oar.web.access import (
    AccessPolicy,
    Allowed,
    DashboardAccess,
    Refused,
    RequestHead,
    session_value,
)

TOKEN = b"0123456789abcdef-token"
PUBLIC = frozenset({"/healthz", "/readyz", "/openapi.json"})


def head(
    path: str = "/api/tasks",
    *,
    method: str = "GET",
    kind: str = "http",
    query: bytes = b"",
    port: int = 8080,
    **headers: str,
) -> RequestHead:
    names = {"host": f"127.0.0.1:{port}", **headers}
    return RequestHead(
        kind=kind,  # type: ignore[arg-type]
        method=method,
        path=path,
        query_string=query,
        headers={k.replace("_", "-"): (v.encode("latin-1"),) for k, v in names.items()},
        server_host="127.0.0.1",
        server_port=port,
    )


guarded = AccessPolicy(
    token=TOKEN, public_paths=PUBLIC, signed_paths=frozenset({"/webhooks/github"})
)
local = AccessPolicy(
    token=None, public_paths=PUBLIC, allowed_origins=frozenset({"http://localhost:3000"})
)


def refusal(verdict: Allowed | Refused) -> tuple[int, str]:
    assert isinstance(verdict, Refused), verdict
    return verdict.status, verdict.kind


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_with_a_token_every_request_needs_it_reads_included(method: str) -> None:
    assert refusal(guarded.decide(head(method=method))) == (401, "Unauthorized")
    assert refusal(guarded.decide(head(method=method, authorization="Bearer "))) == (
        401,
        "Unauthorized",
    )
    assert refusal(guarded.decide(head(method=method, authorization="Bearer nope"))) == (
        401,
        "Unauthorized",
    )
    good = guarded.decide(head(method=method, authorization=f"Bearer {TOKEN.decode()}"))
    assert good == Allowed(identity="api-token")


def test_the_websocket_may_send_the_token_in_the_query() -> None:
    assert refusal(guarded.decide(head("/ws", kind="websocket"))) == (401, "Unauthorized")
    assert guarded.decide(head("/ws", kind="websocket", query=b"token=" + TOKEN)) == Allowed(
        identity="api-token"
    )
    # Plain HTTP does not: a token in a URL ends up in logs.
    assert refusal(guarded.decide(head(query=b"token=" + TOKEN))) == (401, "Unauthorized")


def test_public_and_signed_paths_need_no_token() -> None:
    assert guarded.decide(head("/healthz")) == Allowed(identity="anonymous")
    assert guarded.decide(head("/webhooks/github", method="POST")) == Allowed(
        identity="signed", limit_body=False
    )
    assert refusal(guarded.decide(head("/metrics"))) == (401, "Unauthorized")


def test_without_a_token_the_identity_is_local() -> None:
    assert local.decide(head(method="POST")) == Allowed(identity="local")


@pytest.mark.parametrize(
    "host", ["evil.example:8080", "127.0.0.1:9999", "localhost.evil.example:8080", "", "a/b"]
)
def test_without_a_token_a_host_that_does_not_name_this_server_is_refused(host: str) -> None:
    """DNS rebinding: the browser sends the attacker's name as Host."""
    assert refusal(local.decide(head(host=host))) == (403, "ForbiddenHost")


@pytest.mark.parametrize(
    "host", ["127.0.0.1:8080", "localhost:8080", "LOCALHOST:8080", "[::1]:8080"]
)
def test_loopback_names_on_the_servers_port_are_accepted(host: str) -> None:
    assert local.decide(head(host=host)) == Allowed(identity="local")


@pytest.mark.parametrize(
    ("method", "kind", "origin", "refused"),
    [
        ("POST", "http", "http://evil.example", True),
        ("POST", "http", "null", True),
        ("POST", "http", "http://127.0.0.1:8080", False),
        ("POST", "http", "http://localhost:3000", False),  # OAR_ALLOWED_ORIGINS
        ("GET", "http", "http://evil.example", False),  # reads: the Host check guards them
        ("GET", "websocket", "http://evil.example", True),
        ("GET", "websocket", "http://127.0.0.1:8080", False),
    ],
)
def test_without_a_token_only_the_servers_own_origin_may_mutate_or_open_the_websocket(
    method: str, kind: str, origin: str, refused: bool
) -> None:
    path = "/ws" if kind == "websocket" else "/api/tasks"
    verdict = local.decide(head(path, method=method, kind=kind, origin=origin))
    if refused:
        assert refusal(verdict) == (403, "ForbiddenOrigin")
    else:
        assert isinstance(verdict, Allowed)


def test_no_origin_header_is_not_a_browser_page_and_is_allowed() -> None:
    assert local.decide(head(method="POST")) == Allowed(identity="local")


@pytest.mark.parametrize(
    ("path", "query"),
    [("/api/approvals/a\x00b", b""), ("/api/tasks", b"name=a%00b"), ("/api/tasks", b"x=\x00")],
)
def test_a_nul_in_the_url_is_a_422(path: str, query: bytes) -> None:
    assert refusal(local.decide(head(path, query=query))) == (422, "InvalidRequest")
    authorized = head(path, query=query, authorization=f"Bearer {TOKEN.decode()}")
    assert refusal(guarded.decide(authorized)) == (422, "InvalidRequest")
    # Authentication comes first: no token, no hint about the URL.
    assert refusal(guarded.decide(head(path, query=query))) == (401, "Unauthorized")


def test_an_encoded_percent_sign_is_not_a_nul() -> None:
    assert local.decide(head(query=b"name=a%2500b")) == Allowed(identity="local")


def test_repeated_security_headers_are_refused() -> None:
    twice = RequestHead(
        kind="http",
        method="GET",
        path="/api/tasks",
        headers={"host": (b"127.0.0.1:8080", b"evil.example")},
        server_port=8080,
    )
    assert refusal(local.decide(twice)) == (400, "BadRequest")


def test_the_policy_repr_never_shows_the_token() -> None:
    assert TOKEN.decode() not in repr(guarded)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("localhost", ("localhost", None)),
        ("LocalHost:80", ("localhost", 80)),
        ("[::1]:8080", ("[::1]", 8080)),
        ("host:0", None),
        ("host:99999", None),
        ("user@host", None),
        ("[::1", None),
        (":80", None),
    ],
)
def test_host_headers_are_split_strictly(
    value: str, expected: tuple[str, int | None] | None
) -> None:
    assert split_host_port(value) == expected


def test_origins_compare_with_their_default_ports_spelled_out() -> None:
    assert normalize_origin("HTTP://Example.COM") == "http://example.com:80"
    assert normalize_origin("file://") is None
    assert origin_allowed("http://127.0.0.1", host="127.0.0.1:80", scheme="http", allowed=())
    assert origin_allowed("http://127.0.0.1:8080", host="127.0.0.1:8080", scheme="ws", allowed=())
    assert not origin_allowed(
        "https://127.0.0.1:8080", host="127.0.0.1:8080", scheme="http", allowed=()
    )
    assert host_allowed("localhost", names={"localhost"}, port=80, scheme="http")
    assert not host_allowed("localhost", names={"localhost"}, port=8080, scheme="http")
    assert host_allowed("localhost:1234", names={"localhost"}, port=None, scheme="http")


# --- the dashboard's session cookie --------------------------------------------------------

dashboard_policy = AccessPolicy(
    token=TOKEN,
    public_paths=PUBLIC | {"/dashboard/login"},
    public_prefixes=("/static/",),
    dashboard=DashboardAccess(
        page_paths=frozenset({"/"}), page_prefixes=("/releases/", "/dashboard/")
    ),
)
SESSION = f"oar_session={session_value(TOKEN)}"


def test_a_dashboard_page_without_the_cookie_is_sent_to_the_login_page() -> None:
    verdict = dashboard_policy.decide(head("/releases/4.18.3"))
    assert refusal(verdict) == (303, "LoginRequired")
    assert isinstance(verdict, Refused)
    assert dict(verdict.headers)["location"] == "/dashboard/login?next=/releases/4.18.3"
    # An action is not redirected: refused.
    post = head("/dashboard/approvals/a/resolve", method="POST", origin="http://127.0.0.1:8080")
    assert refusal(dashboard_policy.decide(post)) == (401, "Unauthorized")
    assert dashboard_policy.decide(head("/static/htmx.min.js")) == Allowed(identity="anonymous")


def test_the_session_cookie_opens_the_dashboard_only_and_not_from_another_site() -> None:
    assert dashboard_policy.decide(head("/", cookie=f"a=b; {SESSION}")) == Allowed(
        identity="api-token"
    )
    wrong = f"oar_session={session_value(b'another-token')}"
    assert refusal(dashboard_policy.decide(head("/", cookie=wrong))) == (303, "LoginRequired")
    assert refusal(dashboard_policy.decide(head("/api/releases", cookie=SESSION))) == (
        401,
        "Unauthorized",
    )
    path = "/dashboard/approvals/a/resolve"
    same = head(path, method="POST", cookie=SESSION, origin="http://127.0.0.1:8080")
    assert dashboard_policy.decide(same) == Allowed(identity="api-token")
    forged = head(path, method="POST", cookie=SESSION, origin="https://evil.example")
    assert refusal(dashboard_policy.decide(forged)) == (403, "ForbiddenOrigin")
    socket = head("/dashboard/ws", kind="websocket", cookie=SESSION, origin="https://evil.example")
    assert refusal(dashboard_policy.decide(socket)) == (403, "ForbiddenOrigin")
    assert TOKEN.decode() not in session_value(TOKEN)
