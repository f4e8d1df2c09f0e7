"""Which credentials a command needs, checked all at once before any work starts.

A command declares ``requires=("JIRA_TOKEN", "GITLAB_TOKEN", …)`` by variable name; the
check reports every missing one in one error, instead of failing on the first after
half the work is done. Present is not enough before an irreversible step: there each
credential is proven with one cheap authenticated call (:func:`prove_credentials`), so a
wrong token fails before anything changes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from pydantic import SecretStr

from oar.errors import ConfigurationError, CredentialsRefusedError, IntegrationAuthError
from oar.logs import get_logger
from oar.settings import Settings, env_name

log = get_logger(__name__)


@cache
def _fields_by_variable() -> dict[str, str]:
    return {env_name(field): field for field in Settings.model_fields}


def missing_credentials(settings: Settings, names: Iterable[str]) -> list[str]:
    """The variables among ``names`` that are unset or empty, in the order given."""
    fields = _fields_by_variable()
    missing: list[str] = []
    for name in names:
        field = fields.get(name)
        if field is None:
            raise ValueError(f"{name} is not a setting OAR knows (see oar.settings.Settings)")
        value = getattr(settings, field)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is None or value in ("", ()):
            missing.append(name)
    return list(dict.fromkeys(missing))


def require_credentials(settings: Settings, names: Iterable[str], *, command: str) -> None:
    """Raise one ConfigurationError naming every missing variable ``command`` needs."""
    missing = missing_credentials(settings, names)
    if missing:
        raise ConfigurationError(
            f"{command} needs {', '.join(missing)}: set "
            + ("it" if len(missing) == 1 else "them")
            + " in the environment or .env (see docs/configuration.md)",
            variables=missing,
        )


@dataclass(frozen=True, kw_only=True)
class AccessCheck:
    """One cheap authenticated call that proves a credential works (a read, never a change)."""

    variable: str  # the credential it proves: ERRATA_TOKEN
    what: str  # what the call reads, for people: "read advisory 150002"
    call: Callable[[], Awaitable[object]]


async def prove_credentials(checks: Sequence[AccessCheck], *, command: str) -> list[str]:
    """Run every check; raise one :class:`CredentialsRefusedError` naming every credential
    that was refused. Errors other than a refusal (an outage) propagate as they are.
    Returns what was proven, one line per check."""
    refused: list[str] = []
    variables: list[str] = []
    proven: list[str] = []
    for check in checks:
        try:
            await check.call()
        except IntegrationAuthError as exc:
            refused.append(f"{exc.message} (while trying to {check.what})")
            variables.append(exc.variable)
            continue
        proven.append(f"{check.variable} works ({check.what})")
        log.info("credentials.proven", variable=check.variable, check=check.what)
    if refused:
        raise CredentialsRefusedError(command, refused, variables=variables)
    return proven
