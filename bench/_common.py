"""Shared bits of the bench scripts: the machine line, percentiles, a tenant set to provision."""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import time
from pathlib import Path

import psutil
import psycopg

from lapor.platform.db import Database
from lapor.tenants.provisioning import Provisioner
from lapor.tenants.records import TenantKind
from lapor.tenants.validation import TenantSpec


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line(admin_url: str) -> str:
    """CPU model, cores, RAM, Python and PostgreSQL server versions, on one line."""
    with psycopg.connect(admin_url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    server = row[0] if row else "?"
    ram_gib = psutil.virtual_memory().total / 2**30
    return (
        f"machine: {_cpu_model()}, {os.cpu_count()} cores, {ram_gib:.1f} GiB RAM, "
        f"Python {platform.python_version()}, PostgreSQL {server}"
    )


def load_line() -> str:
    """The load average: this machine is shared, and a busy neighbour skews every figure."""
    one, five, fifteen = os.getloadavg()
    return f"load average: {one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min)"


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1) of a non-empty list."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def summary_ms(seconds: list[float]) -> str:
    """``mean / p50 / p95`` in milliseconds of per-item durations given in seconds."""
    ms = [s * 1000 for s in seconds]
    return (
        f"mean {statistics.fmean(ms):6.2f} ms  p50 {percentile(ms, 0.50):6.2f} ms  "
        f"p95 {percentile(ms, 0.95):6.2f} ms"
    )


# The 38 Kemendagri province codes: provinces get these, regencies and cities "<province>.NN".
_PROVINCE_NUMBERS = (*range(11, 20), 21, *range(31, 37), *range(51, 54), *range(61, 66), *range(71, 77))
PROVINCE_CODES = tuple(str(code) for code in (*_PROVINCE_NUMBERS, 81, 82, *range(91, 97)))


def tenant_specs(total: int) -> list[TenantSpec]:
    """``total`` tenants: the national one, up to 38 provinces, then regencies and cities under them.

    The list is in creation order (parents first).
    """
    if total < 1:
        return []
    specs = [TenantSpec(slug="nasional", name="Nasional", kind=TenantKind.NATIONAL)]
    provinces = PROVINCE_CODES[: max(0, min(len(PROVINCE_CODES), total - 1))]
    for code in provinces:
        specs.append(
            TenantSpec(slug=f"prov-{code}", name=f"Provinsi {code}", kind="PROVINCE", region_code=code)
        )
    for number in range(1, total - len(specs) + 1):
        province = provinces[(number - 1) % len(provinces)]
        child = (number - 1) // len(provinces) + 1
        city = number % 5 == 0
        specs.append(
            TenantSpec(
                slug=f"{'kota' if city else 'kab'}-{number:04d}",
                name=f"{'Kota' if city else 'Kabupaten'} {number:04d}",
                kind="CITY" if city else "REGENCY",
                parent=f"prov-{province}",
                region_code=f"{province}.{child:02d}",
            )
        )
    return specs


async def provision_all(db: Database, total: int, *, tasks: int = 1) -> list[float]:
    """Provision ``tenant_specs(total)``; parents one by one, the rest ``tasks`` at a time.

    Returns each tenant's provisioning time in seconds.
    """
    provisioner = Provisioner(db, "localhost")
    specs = tenant_specs(total)
    parents = [s for s in specs if s.parent is None]  # national and provinces
    children = specs[len(parents) :]
    durations: list[float] = []

    async def one(spec: TenantSpec) -> None:
        started = time.perf_counter()
        await provisioner.create(spec)
        durations.append(time.perf_counter() - started)

    for spec in parents:
        await one(spec)
    if tasks <= 1:
        for spec in children:
            await one(spec)
    else:
        queue = iter(children)

        async def worker() -> None:
            for spec in queue:
                await one(spec)

        await asyncio.gather(*(worker() for _ in range(tasks)))
    return durations
