"""LDAP: who manages a person, for the Jira notificator's escalation and the assignees'
managers.

Red Hat's directory answers anonymous searches: a person is found by ``rhatPrimaryMail``
and their ``manager`` attribute is the manager's DN, read in a second search.

:class:`LdapDirectory` runs on ldap3 in a worker thread (a fresh connection per lookup:
lookups are rare and a connection would go stale between them); the in-memory fake is
:class:`oar.integrations.fakes.ldap.FakeDirectory`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from oar.integrations.calls import CallPolicy, Failure, Kind, call_sync

if TYPE_CHECKING:
    from oar.settings import Settings

SYSTEM = "LDAP"
CREDENTIAL = "OAR_LDAP_URL"  # anonymous bind: a refusal means the wrong directory
BASE_DN = "dc=redhat,dc=com"
_ATTRIBUTES = ["uid", "cn", "rhatPrimaryMail", "mail", "manager"]
# LDAP result codes that mean "try again later" (RFC 4511 §A.1: busy, unavailable).
_TRANSIENT_RESULTS = frozenset({51, 52})
_AUTH_RESULTS = frozenset({48, 49, 50})  # inappropriateAuthentication, invalidCredentials, …


@dataclass(frozen=True, kw_only=True)
class DirectoryPerson:
    uid: str
    name: str
    email: str
    manager_dn: str | None = None


class Directory(Protocol):
    """What OAR needs from the corporate directory."""

    async def person(self, email: str) -> DirectoryPerson | None:
        """The person whose primary email is ``email``, or None."""

    async def manager_of(self, email: str) -> DirectoryPerson | None:
        """The manager of the person with this email; None if unknown or without one."""


def classify(exc: BaseException) -> Failure | None:
    """What an ldap3 exception means."""
    from ldap3.core import exceptions as ldap_errors

    if isinstance(exc, ldap_errors.LDAPOperationResult):
        code = int(exc.result or 0)
        message = f"result {code} {exc.description}: {exc.message}".strip()
        if code in _TRANSIENT_RESULTS:
            return Failure(kind=Kind.TRANSIENT, message=message)
        if code in _AUTH_RESULTS:
            return Failure(kind=Kind.AUTH, message=message, status_code=401)
        return Failure(kind=Kind.PERMANENT, message=message)
    if isinstance(exc, ldap_errors.LDAPBindError):
        return Failure(kind=Kind.AUTH, message=str(exc), status_code=401)
    if isinstance(exc, ldap_errors.LDAPResponseTimeoutError | ldap_errors.LDAPSocketReceiveError):
        return Failure(kind=Kind.TIMEOUT, message=f"socket timeout: {exc}")
    if isinstance(
        exc,
        ldap_errors.LDAPSocketOpenError
        | ldap_errors.LDAPSessionTerminatedByServerError
        | ldap_errors.LDAPSocketSendError,
    ):
        return Failure(kind=Kind.TRANSIENT, message=f"connection failed: {exc}")
    if isinstance(exc, ldap_errors.LDAPException):
        return Failure(kind=Kind.PERMANENT, message=str(exc))
    return None


def _first(attributes: dict[str, Any], name: str) -> str | None:
    value = attributes.get(name)
    if isinstance(value, list):
        return str(value[0]) if value else None
    return str(value) if value else None


def parse_person(attributes: dict[str, Any]) -> DirectoryPerson:
    """A person from a directory entry's attributes."""
    return DirectoryPerson(
        uid=_first(attributes, "uid") or "",
        name=_first(attributes, "cn") or "",
        email=_first(attributes, "rhatPrimaryMail") or _first(attributes, "mail") or "",
        manager_dn=_first(attributes, "manager"),
    )


class LdapDirectory:
    """The port on ldap3: anonymous bind, search by ``rhatPrimaryMail``, read the manager."""

    def __init__(self, url: str, *, base_dn: str = BASE_DN, policy: CallPolicy | None = None):
        self.url = url
        self.base_dn = base_dn
        self.policy = policy or CallPolicy(system=SYSTEM, credential=CREDENTIAL)

    @classmethod
    def from_settings(cls, settings: Settings) -> LdapDirectory:
        return cls(
            settings.ldap_url,
            policy=CallPolicy.from_settings(settings, SYSTEM, CREDENTIAL),
        )

    def _search(self, base: str, search_filter: str, *, scope: str) -> list[dict[str, Any]]:
        import ldap3

        server = ldap3.Server(self.url, get_info=ldap3.NONE, connect_timeout=self.policy.timeout)
        connection = ldap3.Connection(
            server,
            auto_bind=ldap3.AUTO_BIND_NO_TLS,
            # ldap3 packs it into SO_RCVTIMEO as whole seconds on Linux.
            receive_timeout=max(1, math.ceil(self.policy.timeout)),
            raise_exceptions=True,
            read_only=True,
        )
        try:
            connection.search(
                base, search_filter, search_scope=scope, attributes=_ATTRIBUTES, size_limit=10
            )
            return [
                dict(entry["attributes"])
                for entry in connection.response or []
                if entry.get("type") == "searchResEntry"
            ]
        finally:
            connection.unbind()

    async def person(self, email: str) -> DirectoryPerson | None:
        from ldap3.utils.conv import escape_filter_chars

        search_filter = f"(rhatPrimaryMail={escape_filter_chars(email)})"
        found = await call_sync(
            self.policy,
            "person",
            lambda: self._search(self.base_dn, search_filter, scope="SUBTREE"),
            classify,
        )
        return parse_person(found[0]) if found else None

    async def manager_of(self, email: str) -> DirectoryPerson | None:
        from ldap3.core.exceptions import LDAPNoSuchObjectResult

        employee = await self.person(email)
        if employee is None or not employee.manager_dn:
            return None
        manager_dn = employee.manager_dn

        def read_manager() -> list[dict[str, Any]]:
            try:
                return self._search(manager_dn, "(objectClass=*)", scope="BASE")
            except LDAPNoSuchObjectResult:
                return []  # a manager who left: no entry behind the DN

        found = await call_sync(self.policy, "manager_of", read_manager, classify)
        return parse_person(found[0]) if found else None


def person_dn(uid: str, base_dn: str = BASE_DN) -> str:
    return f"uid={uid},ou=users,{base_dn}"
