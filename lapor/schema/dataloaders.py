"""Per-request DataLoaders: each loads a batch of keys in one statement through the request's
shared tenant transaction, so nested fields cost the same for 5 items as for 50."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.dataloader import DataLoader

from lapor.schema.context import LaporContext
from lapor.tenants.complaints import queries
from lapor.tenants.complaints.records import EventRecord
from lapor.tenants.complaints.reporters import ReporterIdentity, identities
from lapor.tenants.tables import audit_event, category, routing_rule, unit

K = TypeVar("K")
V = TypeVar("V")

Batch = Callable[[AsyncConnection, Sequence[Any]], Awaitable[dict[Any, Any]]]


def _loader(context: LaporContext, name: str, batch: Batch, default: Any = None) -> DataLoader[Any, Any]:
    existing = context.loaders.get(name)
    if existing is not None:
        return existing

    async def load(keys: Sequence[Any]) -> list[Any]:
        found = await context.reader.run(lambda conn: batch(conn, keys))
        return [found.get(key, default() if callable(default) else default) for key in keys]

    created: DataLoader[Any, Any] = DataLoader(load_fn=load)
    context.loaders[name] = created
    return created


def units(context: LaporContext) -> DataLoader[int, sa.Row | None]:
    return _loader(context, "units", lambda conn, ids: queries.rows_by_id(conn, unit, ids))


def categories(context: LaporContext) -> DataLoader[int, sa.Row | None]:
    return _loader(context, "categories", lambda conn, ids: queries.rows_by_id(conn, category, ids))


def rules(context: LaporContext) -> DataLoader[int, sa.Row | None]:
    return _loader(context, "rules", lambda conn, ids: queries.rows_by_id(conn, routing_rule, ids))


def timelines(context: LaporContext) -> DataLoader[int, list[EventRecord]]:
    return _loader(context, "timelines", queries.timelines, default=list)


def last_events(context: LaporContext) -> DataLoader[int, EventRecord | None]:
    return _loader(context, "last_events", queries.last_events)


def attachments(context: LaporContext) -> DataLoader[int, list[sa.Row]]:
    return _loader(context, "attachments", queries.attachments_of, default=list)


def reporters(context: LaporContext) -> DataLoader[int, ReporterIdentity | None]:
    """Reporter identities; every identity revealed is written to the audit log in the same batch."""
    secrets = context.services.secrets
    reader = context.staff().label

    async def reveal(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, ReporterIdentity]:
        found = await identities(conn, secrets, ids)
        if found:
            await conn.execute(
                audit_event.insert(),
                [
                    {"actor": reader, "action": "reporter.read", "entity": "reporter", "entity_id": key}
                    for key in found
                ],
            )
        return found

    return _loader(context, "reporters", reveal)
