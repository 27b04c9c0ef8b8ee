"""Work units and categories: what complaints are disposed to and filed under."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from lapor.platform.errors import DomainError
from lapor.tenants.actors import Actor
from lapor.tenants.complaints.inputs import clean_text
from lapor.tenants.tables import UNIT_KINDS, audit_event, category, unit

_CODE = re.compile(r"^[A-Z][A-Z0-9_-]{1,39}$")


def _code(value: str) -> str:
    code = (value or "").strip().upper()
    if not _CODE.fullmatch(code):
        raise DomainError(
            "INVALID_INPUT",
            "code must be 2 to 40 letters, digits, '-' or '_', starting with a letter",
            "code",
        )
    return code


async def create_unit(
    conn: AsyncConnection, actor: Actor, code: str, name: str, kind: str = "OPD", parent_id: int | None = None
) -> sa.Row:
    actor.require("units:write")
    values = {"code": _code(code), "name": clean_text(name, "name", (2, 200)), "kind": kind.upper()}
    if values["kind"] not in UNIT_KINDS:
        raise DomainError("INVALID_INPUT", f"kind must be one of {', '.join(UNIT_KINDS)}", "kind")
    if parent_id is not None:
        if await conn.scalar(sa.select(unit.c.id).where(unit.c.id == parent_id)) is None:
            raise DomainError("UNIT_NOT_FOUND", f"no unit with id {parent_id}", "parentId")
        values["parent_id"] = parent_id
    try:
        async with conn.begin_nested():
            row = (await conn.execute(unit.insert().values(**values).returning(*unit.c))).one()
    except IntegrityError:
        raise DomainError("DUPLICATE_CODE", f"a unit with code {values['code']!r} exists", "code") from None
    await _audit(conn, actor, "unit.create", row.id, values)
    return row


async def create_category(conn: AsyncConnection, actor: Actor, code: str, name: str) -> sa.Row:
    actor.require("tenant:admin")
    values = {"code": _code(code), "name": clean_text(name, "name", (2, 200))}
    next_order = await conn.scalar(sa.select(sa.func.coalesce(sa.func.max(category.c.sort_order), 0) + 10))
    try:
        async with conn.begin_nested():
            row = (
                await conn.execute(
                    category.insert().values(**values, sort_order=next_order).returning(*category.c)
                )
            ).one()
    except IntegrityError:
        raise DomainError(
            "DUPLICATE_CODE", f"a category with code {values['code']!r} exists", "code"
        ) from None
    await _audit(conn, actor, "category.create", row.id, values)
    return row


async def _audit(conn: AsyncConnection, actor: Actor, action: str, entity_id: int, details: dict) -> None:
    await conn.execute(
        audit_event.insert().values(
            actor=actor.label,
            action=action,
            entity=action.split(".")[0],
            entity_id=entity_id,
            details=details,
        )
    )
