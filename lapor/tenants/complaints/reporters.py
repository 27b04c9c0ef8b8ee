"""Revealing who reported: decrypted, only for non-anonymous complaints, for the caller to audit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from lapor.platform.secrets import Secrets
from lapor.tenants.tables import reporter


@dataclass(frozen=True)
class ReporterIdentity:
    id: int
    name: str | None
    contact: str | None


async def identities(
    conn: AsyncConnection, secrets: Secrets, reporter_ids: Sequence[int]
) -> dict[int, ReporterIdentity]:
    rows = await conn.execute(sa.select(reporter).where(reporter.c.id.in_(reporter_ids)))
    return {
        row.id: ReporterIdentity(
            id=row.id,
            name=secrets.decrypt(row.name_encrypted) if row.name_encrypted else None,
            contact=secrets.decrypt(row.contact_encrypted) if row.contact_encrypted else None,
        )
        for row in rows
    }
