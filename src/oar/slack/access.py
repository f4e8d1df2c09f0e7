"""Who may run which command from Slack. Pure: the policy is data, the decision a function.

A command's key is its command path as click resolves it (``oar change-advisory-status``,
``oarctl tasks list``); an approval button's is ``approve <type>``. Service administration
(:data:`SERVICE_ADMINISTRATION`) is refused first, whatever the rules say. Then rules are
matched in order; a rule's pattern covers a key or any of its groups (``oarctl tasks``
covers ``oarctl tasks list``), and the first rule that covers the key decides. A rule
admits the asker when they are one of its ``users`` or a member of one of its ``groups``
(no users and no groups: anyone), in one of its ``channels`` (none: any). Keys no rule
covers follow ``default``. ``help`` lists only what the asker may run.

A rule with ``"deny": true`` refuses what it covers to those it admits. Without an access
file the policy is :data:`DEFAULT_RULES` with ``default`` deny: release work (``oar`` but its
StateBox export, ``jobctl``, approval buttons) and read-only ``oarctl`` commands.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from oar.errors import ConfigurationError

_VARIABLE = "OAR_SLACK_ACCESS_FILE"

# Commands that run, expose or reconfigure the service itself (listeners, workers, the
# database schema, decrypted secrets, signed webhooks from local files): never from Slack.
SERVICE_ADMINISTRATION = (
    "oarctl serve",
    "oarctl worker",
    "oarctl bot",
    "oarctl sandbox",
    "oarctl db",
    "oarctl config",
    "oarctl github",
)
# Not open by default although under ``oar``: the StateBox export writes a file anywhere
# on the bot's host (-o) or commits to the team's repository (--write); ``release delete``
# removes a release and everything recorded for it.
DEFAULT_DENIED = ("oar statebox", "oar release")
# What Slack may run when no access file is set: the release checklist and Prow jobs (as
# the original bot did), the approval buttons, the programs' own --help and --version,
# and the read-only views of oarctl. Anything else needs a rule in OAR_SLACK_ACCESS_FILE.
DEFAULT_COMMANDS = (
    "oar",
    "oar *",
    "jobctl",
    "jobctl *",
    "approve *",
    "oarctl",
    "oarctl tasks list",
    "oarctl tasks show",
    "oarctl approvals list",
    "oarctl approvals show",
    "oarctl follows list",
    "oarctl follows show",
    "oarctl watches list",
    "oarctl watches show",
)


@dataclass(frozen=True, kw_only=True)
class Asker:
    user_id: str
    user_name: str | None = None
    groups: frozenset[str] = frozenset()  # user-group handles and IDs
    channel_id: str | None = None
    channel_name: str | None = None


@dataclass(frozen=True, kw_only=True)
class Rule:
    commands: tuple[str, ...]
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    deny: bool = False  # refuses what it covers (to whoever it admits)

    def covers(self, key: str) -> bool:
        return any(
            fnmatch.fnmatchcase(scope, pattern)
            for scope in _scopes(key)
            for pattern in self.commands
        )

    def admits(self, asker: Asker) -> bool:
        if self.users or self.groups:
            named = asker.user_id in self.users or (
                asker.user_name is not None and asker.user_name in self.users
            )
            if not named and not asker.groups.intersection(self.groups):
                return False
        if self.channels:
            names = {asker.channel_id, asker.channel_name, f"#{asker.channel_name}"}
            if not names.intersection(self.channels):
                return False
        return True


@dataclass(frozen=True, kw_only=True)
class Decision:
    allowed: bool
    reason: str


DEFAULT_RULES = (Rule(commands=DEFAULT_DENIED, deny=True), Rule(commands=DEFAULT_COMMANDS))


def administers(key: str) -> bool:
    """Whether ``key`` is (under) a command that administers the service."""
    return any(scope in SERVICE_ADMINISTRATION for scope in _scopes(key))


def _scopes(key: str) -> list[str]:
    """``oarctl tasks list`` → ``oarctl tasks``, ``oarctl tasks list``: the key and the
    groups it is in (a bare program is only itself, so ``oarctl`` covers ``oarctl
    --version``, not every oarctl command)."""
    words = key.split()
    if len(words) <= 1:
        return [key]
    return [" ".join(words[:end]) for end in range(2, len(words) + 1)]


@dataclass(frozen=True, kw_only=True)
class AccessPolicy:
    """The rules in force; the defaults are the policy without an access file."""

    rules: tuple[Rule, ...] = DEFAULT_RULES
    default_allow: bool = False
    from_file: bool = False
    needs_groups: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "needs_groups", any(rule.groups for rule in self.rules))

    def decide(self, key: str, asker: Asker) -> Decision:
        if administers(key):
            return Decision(
                allowed=False,
                reason=f"`{key}` administers the service and is never run from Slack,"
                " whatever the access rules say; run it on the service's host",
            )
        for rule in self.rules:
            if not rule.covers(key):
                continue
            admitted = rule.admits(asker)
            if rule.deny:
                if not admitted:
                    continue  # the refusal is for others
                if self.from_file:
                    return Decision(
                        allowed=False,
                        reason=f"`{key}` is closed to you by the access rules; ask a release lead",
                    )
                return Decision(
                    allowed=False,
                    reason=f"`{key}` is not open from Slack by default (it writes files or"
                    f" commits); to open it, set {_VARIABLE} to an access file with a rule"
                    " for it",
                )
            if admitted:
                return Decision(allowed=True, reason="allowed by rule")
            return Decision(
                allowed=False,
                reason=f"you are not allowed to run `{key}`"
                + (" in this channel" if rule.channels else "")
                + "; ask a release lead",
            )
        if self.default_allow:
            return Decision(allowed=True, reason="allowed by default")
        if self.from_file:
            return Decision(
                allowed=False,
                reason=f"`{key}` is not open to anyone here; a release lead can open it with"
                f" a rule in the access file ({_VARIABLE})",
            )
        return Decision(
            allowed=False,
            reason=f"`{key}` is not open from Slack by default (release commands and"
            f" read-only views are); to open it, set {_VARIABLE} to an access file with a"
            " rule for it",
        )

    def permitted(self, keys: Iterable[str], asker: Asker) -> list[str]:
        return [key for key in keys if self.decide(key, asker).allowed]


def policy_from_data(data: Any) -> AccessPolicy:
    """Build a policy from parsed JSON; errors name the file's variable and the rule."""
    if not isinstance(data, Mapping):
        raise _bad("the file must hold a JSON object with 'rules' and 'default'")
    default = data.get("default", "allow")
    if default not in ("allow", "deny"):
        raise _bad(f"'default' must be 'allow' or 'deny', not {default!r}")
    raw_rules = data.get("rules", [])
    if not isinstance(raw_rules, list):
        raise _bad("'rules' must be a list")
    rules = []
    for index, raw in enumerate(raw_rules, start=1):
        if not isinstance(raw, Mapping):
            raise _bad(f"rule {index} must be an object")
        unknown = set(raw) - {"commands", "users", "groups", "channels", "deny"}
        if unknown:
            raise _bad(f"rule {index} has unknown keys {sorted(unknown)}")
        values = {}
        for name in ("commands", "users", "groups", "channels"):
            value = raw.get(name, [])
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise _bad(f"rule {index}: '{name}' must be a list of strings")
            values[name] = tuple(value)
        if not values["commands"]:
            raise _bad(f"rule {index} names no commands")
        deny = raw.get("deny", False)
        if not isinstance(deny, bool):
            raise _bad(f"rule {index}: 'deny' must be true or false")
        rules.append(Rule(**values, deny=deny))
    return AccessPolicy(rules=tuple(rules), default_allow=default == "allow", from_file=True)


def parse_policy(text: str) -> AccessPolicy:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _bad(f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return policy_from_data(data)


def _bad(problem: str) -> ConfigurationError:
    return ConfigurationError(f"{_VARIABLE}: {problem}", variables=[_VARIABLE])
