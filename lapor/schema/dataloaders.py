"""Per-request DataLoaders: each loads a batch of keys in one statement through the request's
shared tenant transaction, so nested fields cost the same for 5 items as for 50.

Complaint data comes from the domain read path (``ComplaintReads``): these loaders only batch
its calls. Units, categories and rules are reference data any staff page shows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any

import sqlalchemy as sa
from strawberry.dataloader import DataLoader

from lapor.schema.context import LaporContext
from lapor.tenants.complaints import queries
from lapor.tenants.complaints.reads import ComplaintReads
from lapor.tenants.complaints.views import AttachmentView, ReporterView, StaffComplaintView, StaffEventView
from lapor.tenants.tables import category, routing_rule, unit

Batch = Callable[[Sequence[Any]], Awaitable[dict[Any, Any]]]


def complaint_reads(context: LaporContext) -> ComplaintReads:
    """The request's read path, bound to its shared transaction (built once per request)."""
    existing = context.loaders.get("complaint_reads")
    if existing is None:
        services = context.services
        existing = ComplaintReads(context.reader, context.tenant, services.secrets, services.transfers)
        context.loaders["complaint_reads"] = existing
    return existing


def _loader(
    context: LaporContext,
    name: str,
    batch: Batch,
    default: Any = None,
    key: Callable[[Any], Hashable] | None = None,
) -> DataLoader[Any, Any]:
    existing = context.loaders.get(name)
    if existing is not None:
        return existing
    key_of = key or (lambda item: item)

    async def load(keys: Sequence[Any]) -> list[Any]:
        found = await batch(keys)
        return [found.get(key_of(k), default() if callable(default) else default) for k in keys]

    created: DataLoader[Any, Any] = DataLoader(load_fn=load, cache_key_fn=key)
    context.loaders[name] = created
    return created


def _rows(context: LaporContext, table: sa.Table) -> Batch:
    return lambda ids: context.reader.run(lambda conn: queries.rows_by_id(conn, table, ids))


def units(context: LaporContext) -> DataLoader[int, sa.Row | None]:
    return _loader(context, "units", _rows(context, unit))


def categories(context: LaporContext) -> DataLoader[int, sa.Row | None]:
    return _loader(context, "categories", _rows(context, category))


def rules(context: LaporContext) -> DataLoader[int, sa.Row | None]:
    return _loader(context, "rules", _rows(context, routing_rule))


def timelines(context: LaporContext) -> DataLoader[int, tuple[StaffEventView, ...]]:
    return _loader(context, "timelines", complaint_reads(context).timelines, default=tuple)


def last_events(context: LaporContext) -> DataLoader[int, StaffEventView | None]:
    return _loader(context, "last_events", complaint_reads(context).last_events)


def attachments(context: LaporContext) -> DataLoader[int, tuple[AttachmentView, ...]]:
    return _loader(context, "attachments", complaint_reads(context).attachments, default=tuple)


def reporters(context: LaporContext) -> DataLoader[StaffComplaintView, ReporterView | None]:
    """Reporter identities of the complaints asked, one batch (audited by the read path, once
    per identity per request: the loader caches by the reporter's key)."""
    reads = complaint_reads(context)
    actor = context.staff()
    return _loader(
        context,
        "reporters",
        lambda views: reads.reporters(actor, views),
        key=lambda view: view.reporter_key,
    )
