"""An LDAP stand-in: a small LDAPv3 server on 127.0.0.1 that ldap3 talks to over TCP.

It decodes and encodes LDAP messages with pyasn1 and ldap3's own ASN.1 definitions
(``ldap3.protocol.rfc4511``) and answers what OAR sends: an anonymous bind, searches with
equality, presence, AND, OR and NOT filters (base, one-level or subtree scope), and
unbind. State is a :class:`~oar.integrations.fakes.ldap.FakeDirectory` built from the seed
people, each with ``manager`` set to their manager's DN.

It has the surface of the HTTP stand-ins: ``name``, ``serving()`` yielding
``ldap://127.0.0.1:<port>``, ``environment()``, ``reset()``, ``journal`` (``BIND``,
``SEARCH``, ``UNBIND`` calls, the base DN as path and the filter as query) and faults
(``add_fault(path=regex on the base DN, method="SEARCH", delay=…, hang=…, status=…)``: a
status of 429 or 5xx answers ``busy`` (51), 401/403 ``invalidCredentials`` (49)).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

from pyasn1.codec.ber import decoder, encoder
from pyasn1.error import PyAsn1Error

from oar.integrations.fakes.ldap import FakeDirectory
from oar.integrations.ldap import BASE_DN
from oar.logs import get_logger
from oar.sandbox import seed
from oar.sandbox.server import Call, Fault, take_fault

log = get_logger(__name__)

_SCOPES = {0: "BASE", 1: "LEVEL", 2: "SUBTREE"}
_MAX_MESSAGE = 1 << 20


def seed_directory() -> FakeDirectory:
    return FakeDirectory.of((p.uid, p.name, p.email, p.manager_email) for p in seed.PEOPLE)


def _filter_text(node: Any) -> str:
    kind = node.getName()
    value = node.getComponent()
    if kind in ("and", "or"):
        return f"({'&' if kind == 'and' else '|'}{''.join(_filter_text(f) for f in value)})"
    if kind == "notFilter":
        return f"(!{_filter_text(value['innerNotFilter'])})"
    if kind == "present":
        return f"({value}=*)"
    if kind == "equalityMatch":
        return (
            f"({value['attributeDesc']}={bytes(value['assertionValue']).decode(errors='replace')})"
        )
    return f"({kind})"


def _matcher(node: Any) -> Callable[[dict[str, list[str]]], bool]:
    kind = node.getName()
    value = node.getComponent()
    if kind == "and":
        parts = [_matcher(f) for f in value]
        return lambda entry: all(p(entry) for p in parts)
    if kind == "or":
        parts = [_matcher(f) for f in value]
        return lambda entry: any(p(entry) for p in parts)
    if kind == "notFilter":
        inner = _matcher(value["innerNotFilter"])
        return lambda entry: not inner(entry)
    if kind == "present":
        name = str(value).lower()
        return lambda entry: any(k.lower() == name for k in entry)
    if kind == "equalityMatch":
        name = str(value["attributeDesc"]).lower()
        wanted = bytes(value["assertionValue"]).decode(errors="replace").lower()
        return lambda entry: any(
            k.lower() == name and wanted in (v.lower() for v in values)
            for k, values in entry.items()
        )
    return lambda entry: False  # substrings, ranges…: nothing OAR sends


def _message(message_id: int, operation: str, body: Any) -> bytes:
    from ldap3.protocol.rfc4511 import LDAPMessage, ProtocolOp

    op = ProtocolOp()
    op.setComponentByName(operation, body)
    message = LDAPMessage()
    message.setComponentByName("messageID", message_id)
    message.setComponentByName("protocolOp", op)
    return bytes(encoder.encode(message))


def _result(kind: Any, code: int, diagnostic: str = "") -> Any:
    result = kind()
    result.setComponentByName("resultCode", code)
    result.setComponentByName("matchedDN", "")
    result.setComponentByName("diagnosticMessage", diagnostic)
    return result


def _entry(dn: str, attributes: dict[str, list[str]], wanted: list[str]) -> Any:
    from ldap3.protocol.rfc4511 import (
        PartialAttribute,
        PartialAttributeList,
        SearchResultEntry,
        Vals,
    )

    selected = {w.lower() for w in wanted}
    everything = not selected or "*" in selected
    attribute_list = PartialAttributeList()
    position = 0
    for name, values in attributes.items():
        if not everything and name.lower() not in selected:
            continue
        attribute = PartialAttribute()
        attribute.setComponentByName("type", name)
        vals = Vals()
        for index, value in enumerate(values):
            vals.setComponentByPosition(index, value)
        attribute.setComponentByName("vals", vals)
        attribute_list.setComponentByPosition(position, attribute)
        position += 1
    entry = SearchResultEntry()
    entry.setComponentByName("object", dn)
    entry.setComponentByName("attributes", attribute_list)
    return entry


async def _read_message(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readexactly(2)
    length = head[1]
    extra = b""
    if length & 0x80:
        extra = await reader.readexactly(length & 0x7F)
        length = int.from_bytes(extra, "big")
    if length > _MAX_MESSAGE:
        raise ValueError(f"LDAP message of {length} bytes refused")
    return head + extra + await reader.readexactly(length)


class LdapStandIn:
    """A minimal LDAPv3 server over the fictional release's people."""

    name = "ldap"

    def __init__(self) -> None:
        self.journal: list[Call] = []
        self.faults: list[Fault] = []
        self.directory = seed_directory()

    def reset(self) -> None:
        self.journal.clear()
        self.faults.clear()
        self.directory = seed_directory()

    def environment(self, base_url: str) -> dict[str, str]:
        return {"OAR_LDAP_URL": base_url}

    def add_fault(self, **fault: Any) -> None:
        self.faults.append(Fault(**fault))

    def calls(self, path: str | None = None, method: str | None = None) -> list[Call]:
        return [
            c
            for c in self.journal
            if (path is None or re.search(path, c.path))
            and (method is None or c.method == method.upper())
        ]

    def _take_fault(self, method: str, path: str) -> Fault | None:
        return take_fault(self.faults, method, path)

    @contextlib.asynccontextmanager
    async def serving(self, port: int = 0, host: str = "127.0.0.1") -> AsyncIterator[str]:
        """Serve on ``host:port`` (0: any free port); yield ``ldap://host:port``."""
        connections: set[asyncio.Task[None]] = set()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            if task is not None:
                connections.add(task)
            try:
                await self._session(reader, writer)
            finally:
                if task is not None:
                    connections.discard(task)
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()

        server = await asyncio.start_server(handle, host, port)
        bound = server.sockets[0].getsockname()[1]
        try:
            yield f"ldap://{host}:{bound}"
        finally:
            server.close()
            for task in list(connections):
                task.cancel()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from ldap3.protocol.rfc4511 import LDAPMessage

        while True:
            try:
                data = await _read_message(reader)
                message, _ = decoder.decode(data, asn1Spec=LDAPMessage())
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            except (PyAsn1Error, ValueError) as exc:
                log.warning("sandbox.ldap.bad_message", error=str(exc))
                return
            message_id = int(message["messageID"])
            op = message["protocolOp"]
            kind = op.getName()
            if kind == "unbindRequest":
                self.journal.append(Call(method="UNBIND", path="", query="", headers={}, body=b""))
                return
            if kind == "bindRequest":
                name = str(op.getComponent()["name"])
                self.journal.append(Call(method="BIND", path=name, query="", headers={}, body=b""))
                answer = await self._faulted(message_id, "BIND", name, "bindResponse")
                if answer is None:
                    from ldap3.protocol.rfc4511 import BindResponse

                    answer = _message(message_id, "bindResponse", _result(BindResponse, 0))
                writer.write(answer)
            elif kind == "searchRequest":
                writer.write(await self._search(message_id, op.getComponent()))
            else:
                from ldap3.protocol.rfc4511 import ExtendedResponse

                writer.write(
                    _message(
                        message_id,
                        "extendedResp",
                        _result(ExtendedResponse, 53, f"{kind} is not supported"),
                    )
                )
            await writer.drain()

    async def _faulted(
        self, message_id: int, method: str, path: str, response: str
    ) -> bytes | None:
        fault = self._take_fault(method, path)
        if fault is None:
            return None
        if fault.hang:
            await asyncio.Event().wait()  # never answers; the client's timeout must fire
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.status is None:
            return None
        from ldap3.protocol.rfc4511 import BindResponse, SearchResultDone

        code = 49 if fault.status in (401, 403) else 51
        kind = BindResponse if response == "bindResponse" else SearchResultDone
        return _message(message_id, response, _result(kind, code, f"injected {fault.status}"))

    async def _search(self, message_id: int, request: Any) -> bytes:
        from ldap3.protocol.rfc4511 import SearchResultDone

        base = str(request["baseObject"])
        scope = _SCOPES.get(int(request["scope"]), "SUBTREE")
        text = _filter_text(request["filter"])
        self.journal.append(
            Call(
                method="SEARCH",
                path=base,
                query=f"scope={scope}&filter={text}",
                headers={},
                body=b"",
            )
        )
        faulted = await self._faulted(message_id, "SEARCH", base, "searchResDone")
        if faulted is not None:
            return faulted
        wanted = [str(a) for a in request["attributes"]]
        found = self.directory.search(base, scope, _matcher(request["filter"]))
        if found is None:
            return _message(
                message_id,
                "searchResDone",
                _result(SearchResultDone, 32, f"no such object: {base}"),
            )
        out = b"".join(
            _message(message_id, "searchResEntry", _entry(dn, attrs, wanted)) for dn, attrs in found
        )
        return out + _message(message_id, "searchResDone", _result(SearchResultDone, 0))


__all__ = ["BASE_DN", "LdapStandIn", "seed_directory"]
