"""``viewer``: who is calling, with which scopes (null for the public), and ``node(id)``."""

from __future__ import annotations

import strawberry

from lapor.schema.common import Node, global_id, parse_global_id
from lapor.schema.complaints.enums import ActorKind
from lapor.schema.complaints.types import Complaint
from lapor.schema.context import LaporContext
from lapor.schema.dataloaders import complaint_reads
from lapor.schema.reference.types import Category, Unit
from lapor.tenants.complaints import queries
from lapor.tenants.tables import category, unit

Info = strawberry.Info[LaporContext, None]


@strawberry.type
class Viewer:
    kind: ActorKind
    name: str | None
    scopes: list[str]
    unit_id: strawberry.ID | None = strawberry.field(
        description="The global id of a unit officer's unit (the same id `Unit.id` shows); null otherwise."
    )


@strawberry.type
class ViewerQuery:
    @strawberry.field(description="The caller; null for an anonymous (public) caller.")
    def viewer(self, info: Info) -> Viewer | None:
        if info.context.auth_error is not None:
            raise info.context.auth_error  # a token was presented and refused: say why
        actor = info.context.actor
        if actor is None:
            return None
        unit_id = global_id("Unit", actor.unit_id) if actor.unit_id is not None else None
        return Viewer(kind=actor.kind, name=actor.name, scopes=sorted(actor.scopes), unit_id=unit_id)

    @strawberry.field(description="Any object by its global id (complaints need complaints:read).")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        type_name, key = parse_global_id(id)
        reader = info.context.reader
        if type_name == "Complaint":
            view = await complaint_reads(info.context).get(info.context.staff(), key, subject="object")
            return Complaint.from_view(view) if view else None
        if type_name in ("Unit", "Category") and key.isdigit():
            table, kind = (unit, Unit) if type_name == "Unit" else (category, Category)
            rows = await reader.run(lambda conn: queries.rows_by_id(conn, table, [int(key)]))
            row = rows.get(int(key))
            return kind.from_row(row) if row else None
        return None
