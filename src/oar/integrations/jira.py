"""Jira: the bugs of a release, the ART ticket's QE subtasks, the ON_QA escalations.

The port has what the release commands and the Jira notificator do: JQL search (every
page, Cloud's ``nextPageToken`` pagination), read an issue with its comments and status
history, its remote links (the notificator's pre-merge check finds the bug's pull requests
there), comment, move through the workflow, assign, set the QA contact and Need Info From
custom fields, labels, find users, and list an issue's subtasks.

:class:`JiraClient` runs on the ``jira`` library (what the original tool used) in a worker
thread; the in-memory fake is :class:`oar.integrations.fakes.jira.FakeJira`, and the contract
tests hold both to the same behaviour.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from oar.errors import ConfigurationError, IntegrationError
from oar.integrations.calls import CallPolicy, Failure, call_sync, failure_for_status
from oar.integrations.calls import Kind as FailureKind
from oar.integrations.http import classify_requests

if TYPE_CHECKING:
    import jira as jira_library

    from oar.settings import Settings

SYSTEM = "Jira"
CREDENTIAL = "JIRA_TOKEN"
QA_CONTACT_FIELD = "customfield_10470"
TARGET_VERSION_FIELD = "customfield_10855"  # "Target Version" (a list of versions)
NEED_INFO_FROM_FIELD = "customfield_10482"
RELEASE_BLOCKER_FIELD = "customfield_10847"  # a select list: Approved, Proposed, Rejected
SFDC_CASES_COUNTER_FIELD = "customfield_10978"  # a number, null when no case is linked
SFDC_CASES_LINKS_FIELD = "customfield_10979"  # free text (case links), null when none
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S.%f%z"


@dataclass(frozen=True, kw_only=True)
class JiraUser:
    account_id: str
    display_name: str
    email: str | None = None  # Jira Cloud hides it unless the user allows it
    active: bool = True


@dataclass(frozen=True, kw_only=True)
class JiraComment:
    id: str
    body: str
    created: datetime
    author: JiraUser | None = None


@dataclass(frozen=True, kw_only=True)
class StatusChange:
    """One status transition from the issue's changelog."""

    at: datetime
    from_status: str
    to_status: str


@dataclass(frozen=True, kw_only=True)
class RemoteLink:
    """A link from an issue to something outside Jira (a GitHub pull request, say)."""

    id: str
    url: str
    title: str = ""


@dataclass(frozen=True, kw_only=True)
class Transition:
    id: str
    name: str
    to_status: str


@dataclass(frozen=True, kw_only=True)
class JiraIssue:
    key: str
    summary: str
    status: str
    issue_type: str = "Bug"
    assignee: JiraUser | None = None
    reporter: JiraUser | None = None
    qa_contact: JiraUser | None = None
    need_info_from: tuple[JiraUser, ...] = ()
    labels: tuple[str, ...] = ()
    priority: str | None = None  # "Blocker", "Critical", "Major", …
    release_blocker: str | None = None  # the Release Blocker option: "Approved", …
    sfdc_cases_counter: float | None = None  # SFDC Cases Counter
    sfdc_cases_links: str | None = None  # SFDC Cases Links
    target_versions: tuple[str, ...] = ()
    parent: str | None = None
    subtasks: tuple[str, ...] = ()
    comments: tuple[JiraComment, ...] = ()
    # Only filled when asked for (``changelog=True``): it costs Jira a join.
    status_changes: tuple[StatusChange, ...] = ()
    created: datetime | None = None
    updated: datetime | None = None


class Jira(Protocol):
    """What OAR needs from Jira."""

    async def search(
        self, jql: str, *, changelog: bool = False, page_size: int = 100
    ) -> list[JiraIssue]:
        """Every issue matching ``jql`` (all pages), in Jira's order."""

    async def get_issue(self, key: str, *, changelog: bool = False) -> JiraIssue:
        """One issue; :class:`~oar.errors.IntegrationNotFoundError` if there is none."""

    async def remote_links(self, key: str) -> list[RemoteLink]:
        """The issue's remote links, in Jira's order; not found if there is no issue."""

    async def add_comment(self, key: str, body: str) -> JiraComment:
        """Comment on an issue as the configured user."""

    async def transitions(self, key: str) -> list[Transition]:
        """The workflow transitions available from the issue's current status."""

    async def transition(self, key: str, target: str) -> None:
        """Apply the transition named ``target`` or leading to status ``target``."""

    async def assign(self, key: str, account_id: str | None) -> None:
        """Set (or clear, with None) the assignee."""

    async def set_qa_contact(self, key: str, account_id: str | None) -> None:
        """Set (or clear) the QA Contact custom field."""

    async def set_need_info_from(self, key: str, account_ids: Sequence[str]) -> None:
        """Replace the Need Info From custom field with these users."""

    async def set_labels(self, key: str, labels: Sequence[str]) -> None:
        """Replace the issue's labels."""

    async def find_users(self, query: str) -> list[JiraUser]:
        """Users whose name or email matches ``query``."""

    async def subtasks(self, key: str) -> list[JiraIssue]:
        """The subtasks of an issue (the ART ticket's QE tasks, say)."""


# --- raw shapes (Jira REST API v2) ---------------------------------------------------------


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.strptime(value, _DATE_FORMAT)


def format_time(value: datetime) -> str:
    stamp = value.astimezone(UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}+0000"


def parse_user(raw: Mapping[str, Any] | None) -> JiraUser | None:
    if not raw:
        return None
    return JiraUser(
        account_id=str(raw.get("accountId", "")),
        display_name=str(raw.get("displayName", "")),
        email=raw.get("emailAddress"),
        active=bool(raw.get("active", True)),
    )


def render_user(user: JiraUser, base_url: str = "") -> dict[str, Any]:
    raw: dict[str, Any] = {
        "self": f"{base_url}/rest/api/2/user?accountId={user.account_id}",
        "accountId": user.account_id,
        "displayName": user.display_name,
        "active": user.active,
        "accountType": "atlassian",
    }
    if user.email is not None:
        raw["emailAddress"] = user.email
    return raw


def parse_comment(raw: Mapping[str, Any]) -> JiraComment:
    created = parse_time(raw.get("created"))
    return JiraComment(
        id=str(raw["id"]),
        body=str(raw.get("body", "")),
        created=created or datetime.fromtimestamp(0, UTC),
        author=parse_user(raw.get("author")),
    )


def render_comment(comment: JiraComment, base_url: str = "") -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": comment.id,
        "body": comment.body,
        "created": format_time(comment.created),
        "updated": format_time(comment.created),
    }
    if comment.author is not None:
        raw["author"] = render_user(comment.author, base_url)
    return raw


def parse_remote_link(raw: Mapping[str, Any]) -> RemoteLink:
    """A :class:`RemoteLink` from ``GET /rest/api/2/issue/{key}/remotelink``'s JSON."""
    target: Mapping[str, Any] = raw.get("object") or {}
    return RemoteLink(
        id=str(raw.get("id", "")),
        url=str(target.get("url") or ""),
        title=str(target.get("title") or ""),
    )


def render_remote_link(link: RemoteLink, *, key: str, base_url: str = "") -> dict[str, Any]:
    """Jira's JSON for one remote link of issue ``key`` (Jira's ``id`` is a number)."""
    return {
        "id": int(link.id) if link.id.isdigit() else link.id,
        "self": f"{base_url}/rest/api/2/issue/{key}/remotelink/{link.id}",
        "object": {"url": link.url, "title": link.title},
    }


def _option_value(raw: Any) -> str | None:
    """A select-list field's value: Jira sends ``{"value": "Approved", "id": …}``."""
    if raw is None:
        return None
    value = raw.get("value") if isinstance(raw, Mapping) else raw
    text = str(value).strip() if value is not None else ""
    return text or None


def _number(raw: Any) -> float | None:
    """A number field (Jira sends ``2.0``); None when unset or not a number."""
    if raw is None or isinstance(raw, bool):
        return None
    try:
        return float(raw)
    except (TypeError, ValueError):
        return None


def _text(raw: Any) -> str | None:
    """A text field; None when unset or blank (a list is joined, one entry a line)."""
    if raw is None:
        return None
    if isinstance(raw, list):
        raw = "\n".join(str(v) for v in raw if v is not None)
    text = str(raw).strip()
    return text or None


def parse_issue(raw: Mapping[str, Any]) -> JiraIssue:
    """A :class:`JiraIssue` from Jira's JSON (``GET /rest/api/2/issue/{key}``)."""
    fields: Mapping[str, Any] = raw.get("fields") or {}
    changes: list[StatusChange] = []
    for history in (raw.get("changelog") or {}).get("histories", []):
        at = parse_time(history.get("created"))
        for item in history.get("items", []):
            if item.get("field") == "status" and at is not None:
                changes.append(
                    StatusChange(
                        at=at,
                        from_status=str(item.get("fromString") or ""),
                        to_status=str(item.get("toString") or ""),
                    )
                )
    need_info = fields.get(NEED_INFO_FROM_FIELD) or []
    return JiraIssue(
        key=str(raw["key"]),
        summary=str(fields.get("summary", "")),
        status=str((fields.get("status") or {}).get("name", "")),
        issue_type=str((fields.get("issuetype") or {}).get("name", "")),
        assignee=parse_user(fields.get("assignee")),
        reporter=parse_user(fields.get("reporter")),
        qa_contact=parse_user(fields.get(QA_CONTACT_FIELD)),
        need_info_from=tuple(u for u in (parse_user(r) for r in need_info) if u is not None),
        labels=tuple(fields.get("labels") or ()),
        priority=_option_value((fields.get("priority") or {}).get("name")),
        release_blocker=_option_value(fields.get(RELEASE_BLOCKER_FIELD)),
        sfdc_cases_counter=_number(fields.get(SFDC_CASES_COUNTER_FIELD)),
        sfdc_cases_links=_text(fields.get(SFDC_CASES_LINKS_FIELD)),
        target_versions=tuple(
            str(v.get("name", "")) for v in fields.get(TARGET_VERSION_FIELD) or ()
        ),
        parent=(fields.get("parent") or {}).get("key"),
        subtasks=tuple(str(s["key"]) for s in fields.get("subtasks") or ()),
        comments=tuple(parse_comment(c) for c in (fields.get("comment") or {}).get("comments", [])),
        status_changes=tuple(sorted(changes, key=lambda c: c.at)),
        created=parse_time(fields.get("created")),
        updated=parse_time(fields.get("updated")),
    )


def render_issue(
    issue: JiraIssue, *, base_url: str, subtasks: Iterable[JiraIssue] = (), changelog: bool
) -> dict[str, Any]:
    """Jira's JSON for ``issue`` (what :func:`parse_issue` reads back)."""
    key_number = issue.key.rsplit("-", 1)[-1]

    def user_or_none(user: JiraUser | None) -> dict[str, Any] | None:
        return render_user(user, base_url) if user is not None else None

    fields: dict[str, Any] = {
        "summary": issue.summary,
        "status": {"name": issue.status},
        "issuetype": {"name": issue.issue_type, "subtask": issue.parent is not None},
        "assignee": user_or_none(issue.assignee),
        "reporter": user_or_none(issue.reporter),
        QA_CONTACT_FIELD: user_or_none(issue.qa_contact),
        NEED_INFO_FROM_FIELD: [render_user(u, base_url) for u in issue.need_info_from] or None,
        "labels": list(issue.labels),
        "priority": _render_priority(issue.priority, base_url),
        RELEASE_BLOCKER_FIELD: _render_option(issue.release_blocker, base_url),
        SFDC_CASES_COUNTER_FIELD: issue.sfdc_cases_counter,
        SFDC_CASES_LINKS_FIELD: issue.sfdc_cases_links,
        TARGET_VERSION_FIELD: [{"name": v} for v in issue.target_versions] or None,
        "subtasks": [
            {
                "id": s.key.rsplit("-", 1)[-1],
                "key": s.key,
                "fields": {"summary": s.summary, "status": {"name": s.status}},
            }
            for s in subtasks
        ],
        "comment": {
            "comments": [render_comment(c, base_url) for c in issue.comments],
            "startAt": 0,
            "maxResults": len(issue.comments),
            "total": len(issue.comments),
        },
        "created": format_time(issue.created) if issue.created else None,
        "updated": format_time(issue.updated) if issue.updated else None,
    }
    if issue.parent is not None:
        fields["parent"] = {"key": issue.parent}
    raw: dict[str, Any] = {
        "id": key_number,
        "key": issue.key,
        "self": f"{base_url}/rest/api/2/issue/{key_number}",
        "fields": fields,
    }
    if changelog:
        raw["changelog"] = {
            "startAt": 0,
            "maxResults": len(issue.status_changes),
            "total": len(issue.status_changes),
            "histories": [
                {
                    "id": str(n),
                    "created": format_time(change.at),
                    "items": [
                        {
                            "field": "status",
                            "fieldtype": "jira",
                            "fromString": change.from_status,
                            "toString": change.to_status,
                        }
                    ],
                }
                for n, change in enumerate(issue.status_changes, start=1)
            ],
        }
    return raw


# Jira Cloud's default priority scheme (name -> id), for rendering.
_PRIORITY_IDS = {"Blocker": "1", "Critical": "2", "Major": "3", "Normal": "3", "Minor": "4"}
_RELEASE_BLOCKER_IDS = {"Approved": "27901", "Proposed": "27902", "Rejected": "27903"}


def _render_priority(name: str | None, base_url: str) -> dict[str, Any] | None:
    if name is None:
        return None
    priority_id = _PRIORITY_IDS.get(name, "10200")
    return {
        "self": f"{base_url}/rest/api/2/priority/{priority_id}",
        "iconUrl": f"{base_url}/images/icons/priorities/{name.lower()}.svg",
        "name": name,
        "id": priority_id,
    }


def _render_option(value: str | None, base_url: str) -> dict[str, Any] | None:
    if value is None:
        return None
    option_id = _RELEASE_BLOCKER_IDS.get(value, "27999")
    return {
        "self": f"{base_url}/rest/api/2/customFieldOption/{option_id}",
        "value": value,
        "id": option_id,
    }


# --- the real adapter ------------------------------------------------------------------------


def classify(exc: BaseException) -> Failure | None:
    """What a ``jira`` library (or ``requests``) exception means."""
    from jira.exceptions import JIRAError

    if isinstance(exc, JIRAError):
        if exc.status_code is None:
            return Failure(kind=FailureKind.PERMANENT, message=str(exc.text or exc))
        headers = exc.response.headers if exc.response is not None else {}
        from oar.integrations.calls import parse_retry_after

        return failure_for_status(
            int(exc.status_code),
            f"HTTP {exc.status_code}: {_error_text(exc.text)}",
            retry_after=parse_retry_after(headers.get("Retry-After")),
        )
    return classify_requests(exc)


def _error_text(text: object) -> str:
    """Jira's ``errorMessages`` when the body has them, else the body, shortened."""
    raw = str(text or "")
    try:
        body = json.loads(raw)
    except ValueError:
        return raw[:200]
    if isinstance(body, dict):
        messages = list(body.get("errorMessages") or []) + [
            f"{k}: {v}" for k, v in (body.get("errors") or {}).items()
        ]
        if messages:
            return "; ".join(str(m) for m in messages)[:200]
    return raw[:200]


def policy_from_settings(settings: Settings) -> CallPolicy:
    return CallPolicy(
        system=SYSTEM,
        credential=CREDENTIAL,
        timeout=settings.integration_timeout,
        retries=settings.integration_retries,
    )


class JiraClient:
    """The port on the ``jira`` library (Jira Cloud: basic auth with email + API token)."""

    def __init__(
        self, url: str, *, username: str, token: str, policy: CallPolicy | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self._username = username
        self._token = token
        self.policy = policy or CallPolicy(system=SYSTEM, credential=CREDENTIAL)
        self._client: jira_library.JIRA | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> JiraClient:
        missing = [
            name
            for name, value in (
                ("JIRA_USERNAME", settings.jira_username),
                ("JIRA_TOKEN", settings.jira_token),
            )
            if not value
        ]
        if missing:
            raise ConfigurationError(
                f"Jira needs {' and '.join(missing)} (the user's email and an API token)",
                variables=missing,
            )
        token, username = settings.jira_token, settings.jira_username
        if token is None or username is None:  # for the type checker: checked above
            raise ConfigurationError("Jira needs JIRA_USERNAME and JIRA_TOKEN")
        return cls(
            settings.jira_url,
            username=username,
            token=token.get_secret_value(),
            policy=policy_from_settings(settings),
        )

    def _jira(self) -> jira_library.JIRA:
        """The library's client, built on first use (it asks the server what it is)."""
        with self._lock:
            if self._client is None:
                from jira import JIRA

                self._client = JIRA(
                    server=self.url,
                    basic_auth=(self._username, self._token),
                    max_retries=0,  # ours are the only retries (calls.py)
                    timeout=self.policy.timeout,
                    get_server_info=True,
                    logging=False,
                )
            return self._client

    async def aclose(self) -> None:
        """Close the library's HTTP session (its pooled connections)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()  # type: ignore[no-untyped-call]  # jira leaves close() untyped

    async def __aenter__(self) -> JiraClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _run(self, operation: str, function: Any) -> Any:
        return await call_sync(self.policy, operation, function, classify)

    async def search(
        self, jql: str, *, changelog: bool = False, page_size: int = 100
    ) -> list[JiraIssue]:
        issues: list[JiraIssue] = []
        token: str | None = None
        while True:
            # One call per page: a transient failure retries that page, not the search.
            def page(token: str | None = token) -> dict[str, Any]:
                result = self._jira().enhanced_search_issues(
                    jql,
                    nextPageToken=token,
                    maxResults=page_size,
                    fields=["*all"],
                    expand="changelog" if changelog else None,
                    json_result=True,
                )
                assert isinstance(result, dict)
                return result

            body: dict[str, Any] = await self._run("search", page)
            issues.extend(parse_issue(raw) for raw in body.get("issues", []))
            token = body.get("nextPageToken")
            if not token or body.get("isLast", False):
                return issues

    async def get_issue(self, key: str, *, changelog: bool = False) -> JiraIssue:
        def get() -> dict[str, Any]:
            issue = self._jira().issue(key, expand="changelog" if changelog else None)
            return dict(issue.raw)

        return parse_issue(await self._run("get_issue", get))

    async def remote_links(self, key: str) -> list[RemoteLink]:
        def get() -> list[dict[str, Any]]:
            return [dict(link.raw) for link in self._jira().remote_links(key)]

        return [parse_remote_link(raw) for raw in await self._run("remote_links", get)]

    async def add_comment(self, key: str, body: str) -> JiraComment:
        def add() -> dict[str, Any]:
            return dict(self._jira().add_comment(key, body).raw)

        return parse_comment(await self._run("add_comment", add))

    async def transitions(self, key: str) -> list[Transition]:
        def get() -> list[dict[str, Any]]:
            return list(self._jira().transitions(key))

        raw = await self._run("transitions", get)
        return [
            Transition(id=str(t["id"]), name=str(t["name"]), to_status=str(t["to"]["name"]))
            for t in raw
        ]

    async def transition(self, key: str, target: str) -> None:
        chosen = choose_transition(key, target, await self.transitions(key))

        def apply() -> None:
            self._jira().transition_issue(key, chosen.id)

        await self._run("transition", apply)

    async def _update_fields(self, operation: str, key: str, fields: dict[str, Any]) -> None:
        def update() -> None:
            # GET then PUT /issue/{key}: the library's public way to edit fields.
            issue = self._jira().issue(key, fields="summary")
            issue.update(fields=fields)

        await self._run(operation, update)

    async def assign(self, key: str, account_id: str | None) -> None:
        value = {"accountId": account_id} if account_id else None
        await self._update_fields("assign", key, {"assignee": value})

    async def set_qa_contact(self, key: str, account_id: str | None) -> None:
        value = {"accountId": account_id} if account_id else None
        await self._update_fields("set_qa_contact", key, {QA_CONTACT_FIELD: value})

    async def set_need_info_from(self, key: str, account_ids: Sequence[str]) -> None:
        users = [{"accountId": a} for a in account_ids]
        await self._update_fields("set_need_info_from", key, {NEED_INFO_FROM_FIELD: users})

    async def set_labels(self, key: str, labels: Sequence[str]) -> None:
        await self._update_fields("set_labels", key, {"labels": list(labels)})

    async def find_users(self, query: str) -> list[JiraUser]:
        def find() -> list[dict[str, Any]]:
            return [dict(u.raw) for u in self._jira().search_users(query=query, maxResults=50)]

        raw = await self._run("find_users", find)
        return [u for u in (parse_user(r) for r in raw) if u is not None]

    async def subtasks(self, key: str) -> list[JiraIssue]:
        parent = await self.get_issue(key)
        return [await self.get_issue(sub) for sub in parent.subtasks]


def choose_transition(key: str, target: str, available: Sequence[Transition]) -> Transition:
    """The transition named ``target`` or leading to status ``target`` (case-insensitive)."""
    wanted = target.casefold()
    for transition in available:
        if wanted in (transition.name.casefold(), transition.to_status.casefold()):
            return transition
    names = ", ".join(f"{t.name} (to {t.to_status})" for t in available) or "none"
    raise IntegrationError(
        SYSTEM, f"{key} has no transition to {target!r}; available: {names}", status_code=400
    )
