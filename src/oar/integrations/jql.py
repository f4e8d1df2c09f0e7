"""The JQL that OAR writes, evaluated in memory: the fake Jira's (and the stand-in's) search.

A subset, enough for OAR's queries and for tests: ``field = v``, ``!=``, ``in (…)``,
``not in (…)``, ``is EMPTY``, ``is not EMPTY``, ``status changed to X after YYYY-MM-DD``,
``AND``, ``OR``, parentheses and a trailing ``ORDER BY`` (ignored: results come in key
order). Fields: project, key, status, issuetype, labels, parent, assignee, reporter,
"QA Contact", "Target Version", summary (``~`` contains). Anything else is refused with
an error naming it, so a test never passes on a query the fake silently misread.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from oar.errors import IntegrationError

if TYPE_CHECKING:
    from oar.integrations.jira import JiraIssue, JiraUser

Predicate = Callable[["JiraIssue"], bool]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>!=|!~|=|~|\(|\)|,)
      | (?P<word>[^\s=!~(),"']+)
    )""",
    re.VERBOSE,
)


def JqlError(message: str) -> IntegrationError:
    """Jira's answer to a query it cannot run: HTTP 400 naming the problem."""
    return IntegrationError("Jira", f"JQL: {message}", status_code=400)


def _tokens(jql: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    text = jql.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise JqlError(f"cannot read {text[position:]!r}")
        position = match.end()
        if match.group("string"):
            tokens.append("\0" + match.group("string")[1:-1].replace('\\"', '"'))
        else:
            tokens.append(match.group("op") or match.group("word"))
    return tokens


def _value(token: str) -> str:
    return token[1:] if token.startswith("\0") else token


def _user_values(user: JiraUser | None) -> set[str]:
    if user is None:
        return set()
    values = {user.account_id.casefold(), user.display_name.casefold()}
    if user.email:
        values.add(user.email.casefold())
    return values


def _field_values(issue: JiraIssue, name: str) -> set[str] | None:
    """The issue's values for a field (lower case); None for an unknown field."""
    project = issue.key.rpartition("-")[0]
    simple: dict[str, set[str]] = {
        "project": {project.casefold()},
        "key": {issue.key.casefold()},
        "issuekey": {issue.key.casefold()},
        "status": {issue.status.casefold()},
        "issuetype": {issue.issue_type.casefold()},
        "type": {issue.issue_type.casefold()},
        "labels": {label.casefold() for label in issue.labels},
        "parent": {issue.parent.casefold()} if issue.parent else set(),
        "assignee": _user_values(issue.assignee),
        "reporter": _user_values(issue.reporter),
        "qa contact": _user_values(issue.qa_contact),
        "target version": {v.casefold() for v in issue.target_versions},
        "summary": {issue.summary.casefold()},
    }
    return simple.get(name.casefold())


class _Parser:
    def __init__(self, jql: str) -> None:
        self.tokens = _tokens(jql)
        self.position = 0

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise JqlError("the query ends too early")
        self.position += 1
        return token

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and not token.startswith("\0") and token.upper() in words:
            self.position += 1
            return True
        return False

    def parse(self) -> Predicate:
        if self.peek() is None:
            return lambda issue: True
        predicate = self.disjunction()
        if self.keyword("ORDER"):
            if not self.keyword("BY"):
                raise JqlError("ORDER must be followed by BY")
            self.position = len(self.tokens)  # the order is not evaluated
        if self.peek() is not None:
            raise JqlError(f"unexpected {_value(self.take())!r}")
        return predicate

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while self.keyword("OR"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda i: any(p(i) for p in parts))

    def conjunction(self) -> Predicate:
        parts = [self.term()]
        while self.keyword("AND"):
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else (lambda i: all(p(i) for p in parts))

    def term(self) -> Predicate:
        if self.keyword("NOT"):
            inner = self.term()
            return lambda i: not inner(i)
        if self.peek() == "(":
            self.take()
            inner = self.disjunction()
            if self.take() != ")":
                raise JqlError("missing )")
            return inner
        return self.clause()

    def values(self) -> list[str]:
        if self.peek() != "(":
            return [_value(self.take()).casefold()]
        self.take()
        found = []
        while True:
            found.append(_value(self.take()).casefold())
            separator = self.take()
            if separator == ")":
                return found
            if separator != ",":
                raise JqlError(f"expected , or ) in a list, not {_value(separator)!r}")

    def clause(self) -> Predicate:
        name = _value(self.take())
        probe = _field_values_probe(name)
        if self.keyword("CHANGED"):
            return self.changed(name)
        if self.keyword("IS"):
            negate = self.keyword("NOT")
            if not self.keyword("EMPTY", "NULL"):
                raise JqlError("IS must be followed by EMPTY or NOT EMPTY")
            return lambda i: bool(probe(i)) == negate
        if self.keyword("NOT"):
            if not self.keyword("IN"):
                raise JqlError("NOT must be followed by IN here")
            wanted = set(self.values())
            return lambda i: not (probe(i) & wanted)
        if self.keyword("IN"):
            wanted = set(self.values())
            return lambda i: bool(probe(i) & wanted)
        operator = self.take()
        value = _value(self.take()).casefold()
        if operator == "=":
            return lambda i: value in probe(i)
        if operator == "!=":
            return lambda i: value not in probe(i)
        if operator == "~":
            return lambda i: any(value in v for v in probe(i))
        if operator == "!~":
            return lambda i: not any(value in v for v in probe(i))
        raise JqlError(f"unsupported operator {operator!r}")

    def changed(self, name: str) -> Predicate:
        if name.casefold() != "status":
            raise JqlError(f"CHANGED is supported for status only, not {name!r}")
        to_status: str | None = None
        after: datetime | None = None
        while True:
            if self.keyword("TO"):
                to_status = _value(self.take()).casefold()
            elif self.keyword("AFTER"):
                text = _value(self.take())
                try:
                    after = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
                except ValueError as exc:
                    raise JqlError(f"AFTER needs a YYYY-MM-DD date, not {text!r}") from exc
            else:
                break

        def predicate(issue: JiraIssue) -> bool:
            return any(
                (to_status is None or change.to_status.casefold() == to_status)
                and (after is None or change.at > after)
                for change in issue.status_changes
            )

        return predicate


def _field_values_probe(name: str) -> Callable[[JiraIssue], set[str]]:
    from oar.integrations.jira import JiraIssue

    sample = JiraIssue(key="X-1", summary="", status="")
    if _field_values(sample, name) is None:
        raise JqlError(f"field {name!r} is not supported by the in-memory Jira")

    def probe(issue: JiraIssue) -> set[str]:
        return _field_values(issue, name) or set()

    return probe


def compile_jql(jql: str) -> Predicate:
    """A predicate over issues for ``jql``.

    Raises an HTTP-400 :class:`~oar.errors.IntegrationError` for what it cannot evaluate.
    """
    return _Parser(jql).parse()
