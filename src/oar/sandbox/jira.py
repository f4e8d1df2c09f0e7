"""A Jira Cloud stand-in: enough of REST API v2 (and v3's enhanced search) for the ``jira``
library, over the fictional release's bugs and ART tickets.

State is a :class:`~oar.integrations.fakes.jira.FakeJira` (the port's fake), so the stand-in and
the fake cannot disagree about what an operation does; the stand-in adds the wire: paths,
JSON shapes, basic auth and Jira's error bodies.

Paths: ``GET /rest/api/2/serverInfo``, ``GET /rest/api/2/field``, ``GET|POST
/rest/api/{2,3}/search/jql`` (``nextPageToken`` pagination), ``GET|PUT
/rest/api/2/issue/{key}``, ``GET /rest/api/2/issue/{key}/remotelink``, ``POST
/rest/api/2/issue/{key}/comment``, ``GET|POST /rest/api/2/issue/{key}/transitions``, ``GET
/rest/api/2/user/search``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from oar.agents.escalation import Tier
from oar.errors import IntegrationError, IntegrationNotFoundError
from oar.integrations.fakes.jira import FakeJira
from oar.integrations.jira import (
    NEED_INFO_FROM_FIELD,
    QA_CONTACT_FIELD,
    RELEASE_BLOCKER_FIELD,
    SFDC_CASES_COUNTER_FIELD,
    SFDC_CASES_LINKS_FIELD,
    TARGET_VERSION_FIELD,
    JiraComment,
    JiraIssue,
    JiraUser,
    RemoteLink,
    StatusChange,
    render_comment,
    render_issue,
    render_remote_link,
    render_user,
)
from oar.sandbox import seed
from oar.sandbox.server import StandIn, basic_auth_matches

SANDBOX_USERNAME = "oar-bot@example.com"
SANDBOX_TOKEN = "sandbox-jira-token"  # noqa: S105 - the sandbox's published test credential
QE_SUBTASK_SUMMARIES = (
    "[Fri/Mon] QE moves advisories to REL_PREP",
    "[Wed-Fri] QE does release verification",
    "[Mon-Wed] QE notifies ON_QA bugzilla owners and analyze ci failures",
)
_API = ("/rest/api/2", "/rest/api/3")


def _parse_seed_time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def seed_users() -> list[JiraUser]:
    return [
        JiraUser(account_id=p.jira_account_id, display_name=p.name, email=p.email)
        for p in seed.PEOPLE
    ]


def seed_jira() -> FakeJira:
    """A :class:`FakeJira` holding the fictional release: bugs ON_QA, ART tickets, people."""
    users = {u.email: u for u in seed_users()}
    bot = JiraUser(account_id="557058:oar-bot", display_name="OAR bot", email=SANDBOX_USERNAME)
    lead = users[seed.PEOPLE[0].email]
    issues: dict[str, JiraIssue] = {}
    for bug in seed.BUGS:
        on_qa = _parse_seed_time(bug.on_qa_since)
        created = on_qa - timedelta(days=6)
        issues[bug.key] = JiraIssue(
            key=bug.key,
            summary=bug.summary,
            status=bug.status,
            issue_type="Bug",
            assignee=users.get(bug.assignee or ""),
            reporter=lead,
            qa_contact=users.get(bug.qa_contact or ""),
            labels=bug.labels,
            priority=bug.priority,
            release_blocker=bug.release_blocker,
            sfdc_cases_counter=bug.sfdc_cases_counter,
            sfdc_cases_links=bug.sfdc_cases_links,
            target_versions=(bug.target_version,),
            status_changes=(
                StatusChange(
                    at=created + timedelta(days=1), from_status="New", to_status="ASSIGNED"
                ),
                StatusChange(
                    at=on_qa - timedelta(hours=2), from_status="ASSIGNED", to_status="POST"
                ),
                StatusChange(at=on_qa, from_status="MODIFIED", to_status="ON_QA"),
                *(
                    (
                        StatusChange(
                            at=on_qa + timedelta(days=2), from_status="ON_QA", to_status=bug.status
                        ),
                    )
                    if bug.status != "ON_QA"
                    else ()
                ),
            ),
            created=created,
            updated=on_qa,
        )
    created = datetime(2026, 11, 10, 8, 0, tzinfo=UTC)
    for release, ticket in seed.JIRA_TICKETS.items():
        project, _, number = ticket.rpartition("-")
        subtask_keys = tuple(f"{project}-{int(number) + 100 + n}" for n in range(1, 4))
        issues[ticket] = JiraIssue(
            key=ticket,
            summary=f"Release {release} [{seed.RELEASE_DATES[release]}]",
            status="In Progress",
            issue_type="Story",
            reporter=lead,
            labels=("art:release",),
            subtasks=subtask_keys,
            created=created,
            updated=created,
        )
        for key, summary in zip(subtask_keys, QE_SUBTASK_SUMMARIES, strict=True):
            issues[key] = JiraIssue(
                key=key,
                summary=summary,
                status="To Do",
                issue_type="Sub-task",
                reporter=lead,
                parent=ticket,
                created=created,
                updated=created,
            )
    issues.update(notificator_bugs(users, bot, now=datetime.now(UTC)))
    return FakeJira(issues=issues, users=[*users.values(), bot], me=bot, links=notificator_links())


# Bugs for the Jira notificator, one per escalation step (target version 4.17.z, so no
# release's bug list sees them): (key, QA contact, assignee, ERT steps already posted).
NOTIFICATOR_BUGS = (
    ("OCPBUGS-47001", "qa.bob@example.com", "dev.carol@example.com", (Tier.QA_CONTACT,)),
    (
        "OCPBUGS-47002",
        "qa.alice@example.com",
        "dev.carol@example.com",
        (Tier.QA_CONTACT, Tier.TEAM_LEAD),
    ),
    (
        "OCPBUGS-47003",
        "qa.bob@example.com",
        "dev.carol@example.com",
        (Tier.QA_CONTACT, Tier.TEAM_LEAD, Tier.MANAGER),
    ),
    ("OCPBUGS-47004", None, None, ()),  # nobody to notify: the run reports it
    ("OCPBUGS-47005", "qa.alice@example.com", "dev.carol@example.com", ()),  # ON_QA just now
    # QA contact due, but its pull request carries ``verified``: skipped, pre-merge verified
    ("OCPBUGS-47006", "qa.alice@example.com", "dev.carol@example.com", ()),
)
NOTIFICATOR_TARGET_VERSION = "4.17.z"
PRE_MERGE_VERIFIED = "OCPBUGS-47006"
# Remote links of the notificator's bugs. The pull requests' labels are the GitHub
# stand-in's (``releasetests.PULL_REQUEST_LABELS``): origin#29001 is ``verified``, #29002
# ``verified-later`` (so OCPBUGS-47001 is still chased); an advisory is no pull request.
NOTIFICATOR_LINKS: dict[str, tuple[tuple[str, str], ...]] = {
    "OCPBUGS-47001": (
        ("https://github.com/openshift/origin/pull/29002", "openshift/origin#29002"),
        ("https://errata.example.com/advisory/150001", "RHBA-2026:150001"),
    ),
    PRE_MERGE_VERIFIED: (
        ("https://github.com/openshift/origin/pull/29001", "openshift/origin#29001"),
    ),
}


def notificator_links() -> dict[str, tuple[RemoteLink, ...]]:
    """The remote links of :data:`NOTIFICATOR_LINKS`, numbered as Jira numbers them."""
    links: dict[str, tuple[RemoteLink, ...]] = {}
    number = 10000
    for key, targets in NOTIFICATOR_LINKS.items():
        found = []
        for url, title in targets:
            number += 1
            found.append(RemoteLink(id=str(number), url=url, title=title))
        links[key] = tuple(found)
    return links


def notificator_bugs(
    users: dict[str | None, JiraUser], bot: JiraUser, *, now: datetime
) -> dict[str, JiraIssue]:
    """The notificator's bugs: ON_QA since 2026-11-09 with one ERT comment per step already
    posted, two weekdays apart; OCPBUGS-47005 entered ON_QA an hour before ``now``."""
    from oar.agents.escalation import comment_text

    bugs: dict[str, JiraIssue] = {}
    on_qa_since = datetime(2026, 11, 9, 9, 0, tzinfo=UTC)  # a Monday
    for n, (key, qa, assignee, steps) in enumerate(NOTIFICATOR_BUGS):
        on_qa = now - timedelta(hours=1) if key == "OCPBUGS-47005" else on_qa_since
        qa_user, assignee_user = users.get(qa or ""), users.get(assignee or "")
        comments = tuple(
            JiraComment(
                id=str(9000 + 10 * n + step_n),
                body=comment_text(tier, [u for u in (qa_user,) if u is not None]),
                created=on_qa + timedelta(days=2 * (step_n + 1)),
                author=bot,
            )
            for step_n, tier in enumerate(steps)
        )
        bugs[key] = JiraIssue(
            key=key,
            summary=f"notificator sandbox bug {n + 1}: waiting for QE",
            status="ON_QA",
            issue_type="Bug",
            assignee=assignee_user,
            reporter=None if key == "OCPBUGS-47004" else users.get(seed.PEOPLE[0].email),
            qa_contact=qa_user,
            target_versions=(NOTIFICATOR_TARGET_VERSION,),
            comments=comments,
            status_changes=(
                StatusChange(
                    at=on_qa - timedelta(days=1), from_status="ASSIGNED", to_status="MODIFIED"
                ),
                StatusChange(at=on_qa, from_status="MODIFIED", to_status="ON_QA"),
            ),
            created=on_qa - timedelta(days=5),
            updated=comments[-1].created if comments else on_qa,
        )
    return bugs


def _error(status: int, *messages: str) -> JSONResponse:
    return JSONResponse({"errorMessages": list(messages), "errors": {}}, status_code=status)


def _account(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict) and value.get("accountId"):
        return str(value["accountId"])
    raise IntegrationError("Jira", 'a user is given as {"accountId": …}', status_code=400)


class JiraStandIn(StandIn):
    name = "jira"

    def __init__(self) -> None:
        self.jira = seed_jira()
        super().__init__()

    def reset(self) -> None:
        self.jira = seed_jira()

    def environment(self, base_url: str) -> dict[str, str]:
        return {
            "OAR_JIRA_URL": base_url,
            "JIRA_USERNAME": SANDBOX_USERNAME,
            "JIRA_TOKEN": SANDBOX_TOKEN,
        }

    def _authorized(self, request: Request) -> bool:
        return basic_auth_matches(
            request.headers.get("authorization", ""), user=SANDBOX_USERNAME, token=SANDBOX_TOKEN
        )

    def _render(self, issue: JiraIssue, base_url: str, *, changelog: bool) -> dict[str, Any]:
        subtasks = [self.jira.issues[k] for k in issue.subtasks if k in self.jira.issues]
        raw = render_issue(issue, base_url=base_url, subtasks=subtasks, changelog=changelog)
        raw["self"] = f"{base_url}/rest/api/2/issue/{issue.key}"
        return raw

    def routes(self) -> None:  # noqa: PLR0915 - one closure per route
        app = self.app

        @app.middleware("http")
        async def authenticate(request: Request, call_next: Any) -> Response:
            if request.url.path.startswith("/rest/") and not self._authorized(request):
                return _error(401, "You are not authenticated. Authentication required.")
            response: Response = await call_next(request)
            return response

        @app.exception_handler(IntegrationError)
        async def refused(request: Request, exc: IntegrationError) -> Response:
            status = 404 if isinstance(exc, IntegrationNotFoundError) else exc.status_code
            return _error(status or 400, exc.message.removeprefix("Jira: "))

        def base(request: Request) -> str:
            return str(request.base_url).rstrip("/")

        @app.get("/rest/api/2/serverInfo")
        async def server_info(request: Request) -> dict[str, Any]:
            return {
                "baseUrl": base(request),
                "displayUrl": base(request),
                "version": "1001.0.0-SNAPSHOT",
                "versionNumbers": [1001, 0, 0],
                "deploymentType": "Cloud",
                "buildNumber": 100289,
                "serverTitle": "Jira (OAR sandbox)",
            }

        @app.get("/rest/api/2/field")
        async def fields() -> list[dict[str, Any]]:
            def field(id_: str, name: str, *, custom: bool = False) -> dict[str, Any]:
                return {
                    "id": id_,
                    "key": id_,
                    "name": name,
                    "custom": custom,
                    "clauseNames": [name.lower(), *([f"cf[{id_[12:]}]"] if custom else [])],
                }

            return [
                field("summary", "Summary"),
                field("status", "Status"),
                field("labels", "Labels"),
                field("priority", "Priority"),
                field(QA_CONTACT_FIELD, "QA Contact", custom=True),
                field(NEED_INFO_FROM_FIELD, "Need Info From", custom=True),
                field(TARGET_VERSION_FIELD, "Target Version", custom=True),
                field(RELEASE_BLOCKER_FIELD, "Release Blocker", custom=True),
                field(SFDC_CASES_COUNTER_FIELD, "SFDC Cases Counter", custom=True),
                field(SFDC_CASES_LINKS_FIELD, "SFDC Cases Links", custom=True),
            ]

        async def search(request: Request, params: dict[str, Any]) -> Any:
            jql = str(params.get("jql") or "")
            expand = str(params.get("expand") or "")
            size = max(1, min(int(params.get("maxResults") or 50), 100))
            start = int(params.get("nextPageToken") or 0)
            found = await self.jira.search(jql, changelog=True)
            page = found[start : start + size]
            body: dict[str, Any] = {
                "issues": [
                    self._render(i, base(request), changelog="changelog" in expand) for i in page
                ],
                "isLast": start + size >= len(found),
            }
            if start + size < len(found):
                body["nextPageToken"] = str(start + size)
            return body

        for prefix in _API:

            @app.get(prefix + "/search/jql")
            async def search_get(request: Request) -> Any:
                return await search(request, dict(request.query_params))

            @app.post(prefix + "/search/jql")
            async def search_post(request: Request) -> Any:
                return await search(request, await request.json())

        @app.get("/rest/api/2/issue/{key}")
        async def get_issue(key: str, request: Request) -> Any:
            changelog = "changelog" in request.query_params.get("expand", "")
            issue = await self.jira.get_issue(key, changelog=True)
            return self._render(issue, base(request), changelog=changelog)

        @app.put("/rest/api/2/issue/{key}")
        async def edit_issue(key: str, request: Request) -> Response:
            fields = (await request.json()).get("fields") or {}
            await self.jira.get_issue(key)
            for name, value in fields.items():
                if name == "assignee":
                    await self.jira.assign(key, _account(value))
                elif name == QA_CONTACT_FIELD:
                    await self.jira.set_qa_contact(key, _account(value))
                elif name == NEED_INFO_FROM_FIELD:
                    accounts = [_account(v) for v in value or []]
                    await self.jira.set_need_info_from(key, [a for a in accounts if a])
                elif name == "labels":
                    await self.jira.set_labels(key, [str(v) for v in value or []])
                else:
                    return JSONResponse(
                        {"errorMessages": [], "errors": {name: "Field cannot be set."}},
                        status_code=400,
                    )
            return Response(status_code=204)

        @app.get("/rest/api/2/issue/{key}/remotelink")
        async def remote_links(key: str, request: Request) -> Any:
            return [
                render_remote_link(link, key=key, base_url=base(request))
                for link in await self.jira.remote_links(key)
            ]

        @app.post("/rest/api/2/issue/{key}/comment", status_code=201)
        async def add_comment(key: str, request: Request) -> Any:
            body = (await request.json()).get("body")
            if not isinstance(body, str) or not body:
                return JSONResponse(
                    {"errorMessages": [], "errors": {"comment": "Comment body can not be empty!"}},
                    status_code=400,
                )
            comment = await self.jira.add_comment(key, body)
            raw = render_comment(comment, base(request))
            raw["self"] = f"{base(request)}/rest/api/2/issue/{key}/comment/{comment.id}"
            return JSONResponse(raw, status_code=201)

        @app.get("/rest/api/2/issue/{key}/transitions")
        async def transitions(key: str) -> Any:
            return {
                "expand": "transitions",
                "transitions": [
                    {"id": t.id, "name": t.name, "to": {"name": t.to_status}, "hasScreen": False}
                    for t in await self.jira.transitions(key)
                ],
            }

        @app.post("/rest/api/2/issue/{key}/transitions")
        async def do_transition(key: str, request: Request) -> Response:
            transition = (await request.json()).get("transition") or {}
            await self.jira.apply_transition(key, str(transition.get("id", "")))
            return Response(status_code=204)

        @app.get("/rest/api/2/user/search")
        async def user_search(request: Request) -> Any:
            query = request.query_params.get("query", "")
            if not query:
                return _error(400, "The query parameter 'query' is required.")
            return [render_user(u, base(request)) for u in await self.jira.find_users(query)]
