"""``Unit`` and ``Category`` (contract names)."""

from __future__ import annotations

from typing import Any

import strawberry

from lapor.schema.common import Node, global_id


@strawberry.type(description="A work unit (OPD, kecamatan, ...) complaints are disposed to.")
class Unit(Node):
    code: str
    name: str
    kind: str
    is_active: bool
    db_id: strawberry.Private[int]
    parent_db_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: Any) -> Unit:
        return cls(
            id=global_id("Unit", row.id),
            code=row.code,
            name=row.name,
            kind=row.kind,
            is_active=row.is_active,
            db_id=row.id,
            parent_db_id=row.parent_id,
        )


@strawberry.type(description="A topic complaints are filed under.")
class Category(Node):
    code: str
    name: str
    is_active: bool
    db_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: Any) -> Category:
        return cls(
            id=global_id("Category", row.id),
            code=row.code,
            name=row.name,
            is_active=row.is_active,
            db_id=row.id,
        )
