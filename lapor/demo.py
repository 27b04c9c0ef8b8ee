"""The demo world: the tenants of the news reports this product grew from (DESIGN.md section 8)."""

from __future__ import annotations

from lapor.platform.db import Database
from lapor.tenants.provisioning import Provisioner
from lapor.tenants.records import Tenant
from lapor.tenants.registry import list_tenants
from lapor.tenants.validation import TenantSpec

DEMO_TENANTS: tuple[TenantSpec, ...] = (
    TenantSpec("kemenpan-rb", "Kementerian PANRB (nasional)", "NATIONAL", time_zone="Asia/Jakarta"),
    TenantSpec(
        "ntt", "Provinsi Nusa Tenggara Timur", "PROVINCE", region_code="53", time_zone="Asia/Makassar"
    ),
    TenantSpec("ttu", "Kabupaten Timor Tengah Utara", "REGENCY", parent="ntt", region_code="53.05"),
    TenantSpec(
        "kupang-kota",
        "Kota Kupang",
        "CITY",
        parent="ntt",
        region_code="53.71",
        domains=("lapor.kupangkota.go.id",),
    ),
    TenantSpec(
        "kalbar", "Provinsi Kalimantan Barat", "PROVINCE", region_code="61", time_zone="Asia/Pontianak"
    ),
    TenantSpec("landak", "Kabupaten Landak", "REGENCY", parent="kalbar", region_code="61.08"),
    TenantSpec("malut", "Provinsi Maluku Utara", "PROVINCE", region_code="82", time_zone="Asia/Jayapura"),
    TenantSpec("tidore", "Kota Tidore Kepulauan", "CITY", parent="malut", region_code="82.72"),
)


async def ensure_demo_world(db: Database, base_domain: str) -> list[Tenant]:
    """Create whichever demo tenants are missing (parents first); return the ones created."""
    existing = {tenant.slug for tenant in await list_tenants(db)}
    provisioner = Provisioner(db, base_domain)
    return [await provisioner.create(spec) for spec in DEMO_TENANTS if spec.slug not in existing]
