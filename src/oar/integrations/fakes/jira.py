"""An in-memory Jira with a small workflow (the port is :mod:`oar.integrations.jira`).

:class:`FakeJira` is also the state of the sandbox's Jira stand-in; JQL is evaluated by
:mod:`oar.integrations.jql`, transitions chosen as the adapter chooses them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from oar.errors import IntegrationError, IntegrationNotFoundError
from oar.integrations.jira import (
    SYSTEM,
    JiraComment,
    JiraIssue,
    JiraUser,
    RemoteLink,
    StatusChange,
    Transition,
    choose_transition,
)
from oar.integrations.jql import compile_jql

# The sandbox workflow: from each status, the transitions Jira offers (name -> status).
DEFAULT_WORKFLOW: dict[str, dict[str, str]] = {
    "New": {"Start Progress": "In Progress", "Close": "Closed"},
    "To Do": {"Start Progress": "In Progress", "Close": "Closed"},
    "In Progress": {"Stop Progress": "To Do", "Close": "Closed"},
    "ON_QA": {"Verify": "Verified", "Reject": "ASSIGNED", "Close": "Closed"},
    "ASSIGNED": {"Move to ON_QA": "ON_QA", "Close": "Closed"},
    "Verified": {"Close": "Closed", "Reopen": "ASSIGNED"},
    "Closed": {"Reopen": "To Do"},
}


@dataclass(kw_only=True)
class FakeJira:
    """In memory, with a small workflow; also the state behind the sandbox's stand-in."""

    issues: dict[str, JiraIssue] = field(default_factory=dict)
    users: list[JiraUser] = field(default_factory=list)
    # key -> the issue's remote links (Jira keeps them apart from the issue's fields)
    links: dict[str, tuple[RemoteLink, ...]] = field(default_factory=dict)
    workflow: dict[str, dict[str, str]] = field(default_factory=lambda: dict(DEFAULT_WORKFLOW))
    me: JiraUser = field(
        default_factory=lambda: JiraUser(account_id="557058:oar-bot", display_name="OAR bot")
    )
    clock: Any = field(default=None)  # () -> datetime; None: the wall clock
    _comment_ids: int = 10000

    def _now(self) -> datetime:
        now: datetime = self.clock() if self.clock is not None else datetime.now(UTC)
        return now

    def _issue(self, key: str) -> JiraIssue:
        issue = self.issues.get(key)
        if issue is None:
            raise IntegrationNotFoundError(
                SYSTEM, f"Issue does not exist or you do not have permission to see it: {key}"
            )
        return issue

    def _user(self, account_id: str | None) -> JiraUser | None:
        if account_id is None:
            return None
        for user in self.users:
            if user.account_id == account_id:
                return user
        raise IntegrationError(SYSTEM, f"no user with accountId {account_id!r}", status_code=400)

    def _touch(self, key: str, **changes: Any) -> JiraIssue:
        issue = dataclasses.replace(self._issue(key), updated=self._now(), **changes)
        self.issues[key] = issue
        return issue

    def _view(self, issue: JiraIssue, changelog: bool) -> JiraIssue:
        return issue if changelog else dataclasses.replace(issue, status_changes=())

    async def search(
        self, jql: str, *, changelog: bool = False, page_size: int = 100
    ) -> list[JiraIssue]:
        matches = compile_jql(jql)
        return [
            self._view(i, changelog)
            for i in sorted(self.issues.values(), key=_key_order)
            if matches(i)
        ]

    async def get_issue(self, key: str, *, changelog: bool = False) -> JiraIssue:
        return self._view(self._issue(key), changelog)

    async def remote_links(self, key: str) -> list[RemoteLink]:
        self._issue(key)
        return list(self.links.get(key, ()))

    async def add_comment(self, key: str, body: str) -> JiraComment:
        issue = self._issue(key)
        self._comment_ids += 1
        comment = JiraComment(
            id=str(self._comment_ids), body=body, created=self._now(), author=self.me
        )
        self._touch(key, comments=(*issue.comments, comment))
        return comment

    async def transitions(self, key: str) -> list[Transition]:
        issue = self._issue(key)
        options = self.workflow.get(issue.status, {})
        return [
            Transition(id=str(_transition_id(name)), name=name, to_status=status)
            for name, status in options.items()
        ]

    async def transition(self, key: str, target: str) -> None:
        chosen = choose_transition(key, target, await self.transitions(key))
        await self.apply_transition(key, chosen.id)

    async def apply_transition(self, key: str, transition_id: str) -> None:
        """Apply a transition by ID (what ``POST /issue/{key}/transitions`` carries)."""
        issue = self._issue(key)
        for transition in await self.transitions(key):
            if transition.id == transition_id:
                change = StatusChange(
                    at=self._now(), from_status=issue.status, to_status=transition.to_status
                )
                self._touch(
                    key,
                    status=transition.to_status,
                    status_changes=(*issue.status_changes, change),
                )
                return
        raise IntegrationError(
            SYSTEM, f"transition {transition_id} is not valid for {key}", status_code=400
        )

    async def assign(self, key: str, account_id: str | None) -> None:
        self._touch(key, assignee=self._user(account_id))

    async def set_qa_contact(self, key: str, account_id: str | None) -> None:
        self._touch(key, qa_contact=self._user(account_id))

    async def set_need_info_from(self, key: str, account_ids: Sequence[str]) -> None:
        users = tuple(u for u in (self._user(a) for a in account_ids) if u is not None)
        self._touch(key, need_info_from=users)

    async def set_labels(self, key: str, labels: Sequence[str]) -> None:
        self._touch(key, labels=tuple(labels))

    async def find_users(self, query: str) -> list[JiraUser]:
        wanted = query.casefold()
        return [
            u
            for u in self.users
            if wanted in u.display_name.casefold() or wanted in (u.email or "").casefold()
        ]

    async def subtasks(self, key: str) -> list[JiraIssue]:
        return [self._view(self._issue(sub), False) for sub in self._issue(key).subtasks]


def _transition_id(name: str) -> int:
    """A stable small number per transition name (Jira's IDs are per workflow)."""
    return 11 + sum(ord(c) for c in name) % 900


def _key_order(issue: JiraIssue) -> tuple[str, int]:
    project, _, number = issue.key.rpartition("-")
    return (project, int(number) if number.isdigit() else 0)
