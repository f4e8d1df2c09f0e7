"""The durable engine's own tables, as OAR reads them (never writes them): schedules' rows.

DBOS keeps its schedules (``workflow_schedules``) and every workflow's status
(``workflow_status``, a schedule's runs named by ``schedule_name``) in the system database,
which is OAR's database (:attr:`oar.engine.runtime.Engine.system_database_url`). No
trigger or ``NOTIFY`` is OAR's there, so the change feed (:mod:`oar.engine.changes`) reads
them. Only the columns read are declared; times are milliseconds since the epoch.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, MetaData, Table, Text
from sqlalchemy.ext.asyncio import AsyncConnection

# DBOS's default schema on PostgreSQL (the runtime does not change it); SQLite has none.
SYSTEM_SCHEMA = "dbos"

_metadata = MetaData(schema=SYSTEM_SCHEMA)

workflow_status = Table(
    "workflow_status",
    _metadata,
    Column("workflow_uuid", Text, primary_key=True),
    Column("status", Text),
    Column("schedule_name", Text),
    Column("created_at", BigInteger),
    Column("started_at_epoch_ms", BigInteger),
    Column("completed_at", BigInteger),
    Column("updated_at", BigInteger),
)

workflow_schedules = Table(
    "workflow_schedules",
    _metadata,
    Column("schedule_name", Text, primary_key=True),
    Column("workflow_name", Text),
    Column("schedule", Text),
    Column("status", Text),
    Column("context", Text),
)


async def on_system_schema(conn: AsyncConnection, *, sqlite: bool) -> AsyncConnection:
    """``conn``, reading the tables above where the engine keeps them (no schema on SQLite)."""
    options: dict[str, Any] = {"schema_translate_map": {SYSTEM_SCHEMA: None}} if sqlite else {}
    return await conn.execution_options(**options)
