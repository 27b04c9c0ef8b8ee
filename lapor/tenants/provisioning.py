"""Provisioning: one transaction creates a tenant's registry row, schema, role, tables and seed.

Speed comes from emitting the tenant track's SQL once (Alembic offline mode, cached per process)
and replaying it in one round trip together with the schema, role and grants; bench/provision.py
compares this with the raw DDL replay and with cloning a template schema. Atomicity comes from
PostgreSQL: ``CREATE SCHEMA`` and ``CREATE ROLE`` are transactional, so any failure leaves no
half tenant.
"""

from __future__ import annotations

import hashlib
import logging

import psycopg
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from lapor.platform.db import MAIN_CLUSTER, Database
from lapor.platform.migrations import replay_sql, tenant_upgrade_sql
from lapor.platform.public_tables import tenant as tenant_table
from lapor.platform.public_tables import tenant_domain
from lapor.tenants.records import Tenant, TenantKind
from lapor.tenants.registry import fetch_by_slug
from lapor.tenants.validation import (
    DEFAULT_TIME_ZONE,
    TenantError,
    TenantSpec,
    check_domain,
    check_kind,
    check_name,
    check_parent_kind,
    check_region_code,
    check_slug,
    check_time_zone,
    schema_name_for,
)

log = logging.getLogger(__name__)

_CONSTRAINT_ERRORS = {
    "tenant_slug_key": ("DUPLICATE_SLUG", "slug", "a tenant with slug {slug!r} already exists"),
    "tenant_schema_name_key": ("DUPLICATE_SLUG", "slug", "schema {schema} is already taken"),
    "tenant_one_national_idx": ("NATIONAL_EXISTS", "kind", "there is already a NATIONAL tenant"),
    "tenant_domain_pkey": ("DUPLICATE_DOMAIN", "domains", "domain already taken: {detail}"),
}


def role_prefix(database_name: str) -> str:
    """Roles are cluster-wide, schemas per database: tie role names to the database's name."""
    return "lr" + hashlib.sha256(database_name.encode()).hexdigest()[:6]


def role_name_for(prefix: str, schema_name: str) -> str:
    return f"{prefix}_{schema_name}"


def grants_sql(schema: str, role: str) -> str:
    """Privileges of a tenant role: its own schema's rows, nothing else, no DDL, no version table.

    Default privileges cover tables that later migrations add.
    """
    return f"""
GRANT USAGE ON SCHEMA {schema} TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role};
REVOKE ALL ON {schema}.alembic_version FROM {role};
ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role};
ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {role};
"""


def provisioning_sql(schema: str, role: str, *, grant_role_to_app: bool) -> str:
    """The whole schema side of a new tenant, as one script (identifiers are pre-validated)."""
    membership = f"GRANT {role} TO CURRENT_USER;\n" if grant_role_to_app else ""
    return (
        f"CREATE SCHEMA {schema};\nCREATE ROLE {role} NOLOGIN;\n{membership}"
        f"SET LOCAL search_path TO {schema};\n" + tenant_upgrade_sql(None) + grants_sql(schema, role)
    )


class Provisioner:
    """Creates tenants. Holds what is the same for every tenant of one database."""

    def __init__(self, db: Database, base_domain: str) -> None:
        self.db = db
        self.base_domain = base_domain
        self._prefix: str | None = None
        self._app_is_superuser = True

    async def _prepare(self, conn: AsyncConnection) -> str:
        if self._prefix is None:
            row = (
                await conn.execute(
                    sa.text("SELECT current_database(), rolsuper FROM pg_roles WHERE rolname = current_user")
                )
            ).one()
            self._prefix = role_prefix(row[0])
            self._app_is_superuser = bool(row[1])
        return self._prefix

    async def create(self, spec: TenantSpec) -> Tenant:
        """Validate ``spec`` and create the tenant entirely, or raise ``TenantError``."""
        slug = check_slug(spec.slug)
        kind = check_kind(spec.kind)
        name = check_name(spec.name)
        domains = tuple(dict.fromkeys(check_domain(d, self.base_domain) for d in spec.domains))
        schema = schema_name_for(slug)
        try:
            async with self.db.public.begin() as conn:
                prefix = await self._prepare(conn)
                parent = await self._parent(conn, kind, spec.parent)
                region_code = check_region_code(spec.region_code, parent.region_code if parent else None)
                time_zone = check_time_zone(spec.time_zone, parent.time_zone if parent else DEFAULT_TIME_ZONE)
                role = role_name_for(prefix, schema)
                tenant_id = await conn.scalar(
                    tenant_table.insert()
                    .values(
                        slug=slug,
                        name=name,
                        kind=kind.value,
                        parent_id=parent.id if parent else None,
                        region_code=region_code,
                        time_zone=time_zone,
                        schema_name=schema,
                        role_name=role,
                        cluster=MAIN_CLUSTER,
                    )
                    .returning(tenant_table.c.id)
                )
                if domains:
                    await conn.execute(
                        tenant_domain.insert(),
                        [{"host": host, "tenant_id": tenant_id} for host in domains],
                    )
                await replay_sql(
                    conn,
                    provisioning_sql(schema, role, grant_role_to_app=not self._app_is_superuser),
                )
                created = await fetch_by_slug(conn, slug)
        except IntegrityError as error:
            raise _constraint_error(error, slug, schema) from None
        except (DBAPIError, psycopg.Error) as error:
            # e.g. the schema or role exists outside the registry (a manual leftover).
            detail = str(getattr(error, "orig", error)).splitlines()[0]
            raise TenantError("PROVISIONING_FAILED", f"could not provision {slug!r}: {detail}") from None
        assert created is not None
        log.info("provisioned tenant %s (schema %s)", slug, schema)
        return created

    async def _parent(
        self, conn: AsyncConnection, kind: TenantKind, parent_slug: str | None
    ) -> Tenant | None:
        if parent_slug is None and kind in (TenantKind.MINISTRY, TenantKind.PROVINCE):
            # A province or ministry hangs under the one national tenant by default.
            national = await conn.scalar(
                sa.select(tenant_table.c.slug).where(tenant_table.c.kind == TenantKind.NATIONAL.value)
            )
            if national is None:
                raise TenantError(
                    "UNKNOWN_PARENT",
                    f"a {kind.value} needs the NATIONAL tenant as parent: create it first",
                    "parent",
                )
            parent_slug = national
        parent = await fetch_by_slug(conn, parent_slug) if parent_slug else None
        if parent_slug is not None and parent is None:
            raise TenantError("UNKNOWN_PARENT", f"no tenant with slug {parent_slug!r}", "parent")
        check_parent_kind(kind, parent_slug, parent.kind if parent else None)
        return parent


def _constraint_error(error: IntegrityError, slug: str, schema: str) -> TenantError:
    diag = getattr(error.orig, "diag", None)
    constraint = getattr(diag, "constraint_name", None) or ""
    detail = getattr(diag, "message_detail", None) or ""
    code, field, template = _CONSTRAINT_ERRORS.get(
        constraint, ("PROVISIONING_FAILED", None, "could not create {slug!r}: {detail}")
    )
    return TenantError(code, template.format(slug=slug, schema=schema, detail=detail), field)
