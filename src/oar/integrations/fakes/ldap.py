"""An in-memory directory (the port is :mod:`oar.integrations.ldap`).

:class:`FakeDirectory` is also the state of the sandbox's LDAP stand-in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from oar.integrations.ldap import BASE_DN, DirectoryPerson, parse_person, person_dn


@dataclass(kw_only=True)
class FakeDirectory:
    """People in memory, keyed by DN; also the state behind the LDAP stand-in."""

    entries: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    @classmethod
    def of(
        cls, people: Iterable[tuple[str, str, str, str | None]], *, base_dn: str = BASE_DN
    ) -> FakeDirectory:
        """From ``(uid, name, email, manager_email)`` tuples."""
        listed = list(people)
        dn_of = {email: person_dn(uid, base_dn) for uid, _, email, _ in listed}
        entries: dict[str, dict[str, list[str]]] = {}
        for uid, name, email, manager in listed:
            attributes = {
                "objectClass": ["top", "person", "inetOrgPerson", "rhatPerson"],
                "uid": [uid],
                "cn": [name],
                "mail": [email],
                "rhatPrimaryMail": [email],
            }
            if manager is not None and manager in dn_of:
                attributes["manager"] = [dn_of[manager]]
            entries[person_dn(uid, base_dn)] = attributes
        return cls(entries=entries)

    def search(
        self, base: str, scope: str, matches: Callable[[dict[str, list[str]]], bool]
    ) -> list[tuple[str, dict[str, list[str]]]] | None:
        """Entries under ``base`` (BASE, LEVEL or SUBTREE) that match; None: no such base."""
        base_key = base.lower()
        known = {dn.lower() for dn in self.entries}
        if (
            base_key
            and base_key not in known
            and not any(dn.endswith("," + base_key) for dn in known)
        ):
            return None
        found = []
        for dn, attributes in self.entries.items():
            key = dn.lower()
            if scope == "BASE":
                inside = key == base_key
            elif scope == "LEVEL":
                inside = key.partition(",")[2] == base_key
            else:
                inside = key == base_key or key.endswith("," + base_key) or not base_key
            if inside and matches(attributes):
                found.append((dn, attributes))
        return found

    def _by_email(self, email: str) -> DirectoryPerson | None:
        for attributes in self.entries.values():
            if email.lower() in (v.lower() for v in attributes.get("rhatPrimaryMail", [])):
                return parse_person({k: list(v) for k, v in attributes.items()})
        return None

    async def person(self, email: str) -> DirectoryPerson | None:
        return self._by_email(email)

    async def manager_of(self, email: str) -> DirectoryPerson | None:
        employee = self._by_email(email)
        if employee is None or employee.manager_dn is None:
            return None
        for dn, attributes in self.entries.items():
            if dn.lower() == employee.manager_dn.lower():
                return parse_person({k: list(v) for k, v in attributes.items()})
        return None
