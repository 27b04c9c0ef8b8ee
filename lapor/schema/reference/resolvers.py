"""Units and categories: public lists (the submission form needs them) and admin mutations."""

from __future__ import annotations

import strawberry

from lapor.schema.common import UserError, attempt, parse_int_id
from lapor.schema.context import LaporContext
from lapor.schema.permissions import requires
from lapor.schema.reference.types import Category, Unit
from lapor.tenants import reference
from lapor.tenants.complaints import queries
from lapor.tenants.context import tenant_transaction

Info = strawberry.Info[LaporContext, None]


@strawberry.input
class CreateUnitInput:
    code: str
    name: str
    kind: str = "OPD"
    parent_id: strawberry.ID | None = None


@strawberry.input
class CreateCategoryInput:
    code: str
    name: str


@strawberry.type
class UnitPayload:
    unit: Unit | None
    errors: list[UserError]


@strawberry.type
class CategoryPayload:
    category: Category | None
    errors: list[UserError]


@strawberry.type
class ReferenceQuery:
    @strawberry.field(description="The tenant's work units.")
    async def units(self, info: Info) -> list[Unit]:
        rows = await info.context.reader.run(queries.all_units)
        return [Unit.from_row(row) for row in rows]

    @strawberry.field(description="The tenant's complaint categories.")
    async def categories(self, info: Info) -> list[Category]:
        rows = await info.context.reader.run(queries.all_categories)
        return [Category.from_row(row) for row in rows]


@strawberry.type
class ReferenceMutation:
    @strawberry.mutation(permission_classes=[requires("units:write")])
    async def create_unit(self, info: Info, input: CreateUnitInput) -> UnitPayload:
        c = info.context

        async def create() -> Unit:
            parent = parse_int_id(input.parent_id, "Unit") if input.parent_id else None
            async with tenant_transaction(c.services.db, c.tenant) as conn:
                row = await reference.create_unit(conn, c.staff(), input.code, input.name, input.kind, parent)
            return Unit.from_row(row)

        unit, errors = await attempt(create())
        return UnitPayload(unit=unit, errors=errors)

    @strawberry.mutation(permission_classes=[requires("tenant:admin")])
    async def create_category(self, info: Info, input: CreateCategoryInput) -> CategoryPayload:
        c = info.context

        async def create() -> Category:
            async with tenant_transaction(c.services.db, c.tenant) as conn:
                row = await reference.create_category(conn, c.staff(), input.code, input.name)
            return Category.from_row(row)

        category, errors = await attempt(create())
        return CategoryPayload(category=category, errors=errors)
