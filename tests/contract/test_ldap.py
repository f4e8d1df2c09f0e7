"""The LDAP port's contract: the fake and ldap3 against the LDAP stand-in agree."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from oar.integrations.ldap import Directory, LdapDirectory
from oar.sandbox import seed
from oar.sandbox.ldap import LdapStandIn, seed_directory


@pytest.fixture(params=["fake", "stand-in"])
async def directory(request: pytest.FixtureRequest) -> AsyncIterator[Directory]:
    if request.param == "fake":
        yield seed_directory()
        return
    stand_in = LdapStandIn()
    async with stand_in.serving() as url:
        yield LdapDirectory(url)


@pytest.mark.parametrize("person", [p for p in seed.PEOPLE if p.manager_email], ids=lambda p: p.uid)
async def test_manager_of_each_person(directory: Directory, person: seed.Person) -> None:
    manager = await directory.manager_of(person.email)
    assert manager is not None
    assert manager.email == person.manager_email


async def test_person_without_manager_or_unknown(directory: Directory) -> None:
    lead = next(p for p in seed.PEOPLE if p.manager_email is None)
    found = await directory.person(lead.email)
    assert found is not None
    assert (found.uid, found.name) == (lead.uid, lead.name)
    assert await directory.manager_of(lead.email) is None
    assert await directory.manager_of("nobody@example.com") is None
    assert await directory.person("nobody@example.com") is None


async def test_email_with_filter_characters_is_escaped(directory: Directory) -> None:
    assert await directory.person("*)(uid=*") is None
