"""Provisioning: a valid tenant is complete; an invalid one is refused clearly; a failure leaves nothing."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from lapor.platform.migrations import head_revision
from lapor.platform.public_tables import tenant as tenant_table
from lapor.platform.public_tables import tenant_domain
from lapor.tenants.context import tenant_transaction
from lapor.tenants.provisioning import role_name_for, role_prefix
from lapor.tenants.records import TenantKind, TenantStatus
from lapor.tenants.tables import category, tenant_metadata
from lapor.tenants.validation import TenantError, TenantSpec, schema_name_for
from tests.conftest import unique_slug


async def _registry_counts(db, slug: str) -> tuple[int, int, int, int]:
    async with db.public.connect() as conn:
        rows = await conn.scalar(sa.select(sa.func.count()).where(tenant_table.c.slug == slug))
        domains = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(tenant_domain)
            .where(tenant_domain.c.host.like(f"%{slug}%"))
        )
        schemas = await conn.scalar(
            sa.text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"), {"s": schema_name_for(slug)}
        )
        roles = await conn.scalar(
            sa.text("SELECT count(*) FROM pg_roles WHERE rolname LIKE :r"), {"r": f"%{schema_name_for(slug)}"}
        )
    return rows, domains, schemas, roles


async def test_valid_regency_is_complete(db, make_regency, province) -> None:
    slug = unique_slug()
    created = await make_regency(slug=slug, region_code="53.05", domains=(f"lapor.{slug}.go.id",))
    assert created.kind is TenantKind.REGENCY
    assert created.parent_slug == province.slug
    assert created.time_zone == "Asia/Makassar", "defaults to the parent's time zone"
    assert created.status is TenantStatus.ACTIVE
    assert created.schema_name == schema_name_for(slug)
    assert created.domains == (f"lapor.{slug}.go.id",)
    async with db.public.connect() as conn:
        login = await conn.scalar(
            sa.text("SELECT rolcanlogin FROM pg_roles WHERE rolname = :r"), {"r": created.role_name}
        )
        version = await conn.scalar(sa.text(f"SELECT version_num FROM {created.schema_name}.alembic_version"))
    assert login is False, "tenant roles are NOLOGIN"
    assert version == head_revision("tenant")
    async with tenant_transaction(db, created) as conn:
        codes = (await conn.scalars(sa.select(category.c.code).order_by(category.c.sort_order))).all()
    assert len(codes) == 16 and codes[0] == "INFRASTRUKTUR" and codes[-1] == "LAINNYA"


# Alembic cannot compare expression indexes (it reports them removed and added again).
_EXPRESSION_INDEXES = {"complaint_search_idx"}


def _ignorable(diff: tuple) -> bool:
    if diff[0] in ("remove_index", "add_index") and diff[1].name in _EXPRESSION_INDEXES:
        return True
    return "alembic_version" in str(diff)


async def test_provisioned_schema_matches_the_tenant_metadata(db, make_regency) -> None:
    """The migrations (replayed at provisioning) and the MetaData queries use must agree."""
    created = await make_regency()

    def diff(sync_conn: sa.Connection) -> list:
        sync_conn.exec_driver_sql(f"SET LOCAL search_path TO {created.schema_name}")
        context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return [d for d in compare_metadata(context, tenant_metadata) if not _ignorable(d)]

    async with db.public.begin() as conn:
        assert await conn.run_sync(diff) == []


@pytest.mark.parametrize(
    ("spec", "code", "field"),
    [
        (dict(slug="Bad_Slug"), "INVALID_SLUG", "slug"),
        (dict(slug="ab"), "INVALID_SLUG", "slug"),
        (dict(slug="trailing-"), "INVALID_SLUG", "slug"),
        (dict(kind="VILLAGE"), "INVALID_KIND", "kind"),
        (dict(name="   "), "INVALID_NAME", "name"),
        (dict(parent="no-such-tenant"), "UNKNOWN_PARENT", "parent"),
        (dict(parent="nasional"), "INVALID_PARENT", "parent"),
        (dict(region_code="61.08"), "INVALID_REGION_CODE", "region_code"),
        (dict(region_code="53-05"), "INVALID_REGION_CODE", "region_code"),
        (dict(time_zone="Europe/Paris"), "INVALID_TIME_ZONE", "time_zone"),
        (dict(domains=("not a host",)), "INVALID_DOMAIN", "domains"),
        (dict(domains=("sneaky.lapor.test",)), "INVALID_DOMAIN", "domains"),
    ],
)
async def test_invalid_requests_are_refused_with_a_code(make_regency, spec, code, field) -> None:
    with pytest.raises(TenantError) as refused:
        await make_regency(**spec)
    assert refused.value.code == code
    assert refused.value.field == field
    assert refused.value.message


async def test_a_regency_cannot_be_the_parent_of_a_regency(make_regency) -> None:
    first = await make_regency()
    with pytest.raises(TenantError) as refused:
        await make_regency(parent=first.slug)
    assert refused.value.code == "INVALID_PARENT"
    assert "must have a PROVINCE as parent" in refused.value.message


async def test_duplicate_slug_and_domain_are_refused(db, make_regency) -> None:
    first = await make_regency(domains=("lapor.duplikat.go.id",))
    with pytest.raises(TenantError) as same_slug:
        await make_regency(slug=first.slug)
    assert same_slug.value.code == "DUPLICATE_SLUG"
    other = unique_slug()
    with pytest.raises(TenantError) as same_domain:
        await make_regency(slug=other, domains=("LAPOR.duplikat.go.id",))
    assert same_domain.value.code == "DUPLICATE_DOMAIN"
    assert "lapor.duplikat.go.id" in same_domain.value.message
    assert await _registry_counts(db, other) == (0, 0, 0, 0)


async def test_second_national_tenant_is_refused(provisioner, national) -> None:
    with pytest.raises(TenantError) as refused:
        await provisioner.create(TenantSpec(unique_slug("pusat"), "Another", "NATIONAL"))
    assert refused.value.code == "NATIONAL_EXISTS"


async def test_failure_midway_leaves_no_half_tenant(db, admin_url, make_regency) -> None:
    """The role this tenant would get already exists: CREATE ROLE fails after the registry row,
    the domain rows and the schema were written. Nothing of them may remain."""
    slug = unique_slug()
    async with db.public.connect() as conn:
        database = await conn.scalar(sa.text("SELECT current_database()"))
    squatter = role_name_for(role_prefix(database), schema_name_for(slug))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {squatter} NOLOGIN")
    try:
        with pytest.raises(TenantError) as refused:
            await make_regency(slug=slug, domains=(f"lapor.{slug}.go.id",))
        assert refused.value.code == "PROVISIONING_FAILED"
        assert "already exists" in refused.value.message
        rows, domains, schemas, _roles = await _registry_counts(db, slug)
        assert (rows, domains, schemas) == (0, 0, 0)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP ROLE {squatter}")
    # With the obstacle gone the same request succeeds: nothing half-made stands in the way.
    created = await make_regency(slug=slug, domains=(f"lapor.{slug}.go.id",))
    assert created.slug == slug
