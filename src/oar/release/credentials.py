"""Which credentials a command needs, checked all at once before any work starts.

A command declares ``requires=("JIRA_TOKEN", "GITLAB_TOKEN", …)`` by variable name; the
check reports every missing one in one error, instead of failing on the first after
half the work is done.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from pydantic import SecretStr

from oar.errors import ConfigurationError
from oar.settings import Settings, env_name


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
