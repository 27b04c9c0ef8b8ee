"""Fixtures: a scratch database per run on real PostgreSQL, real Redis, ready tenants.

PostgreSQL: ``LAPOR_TEST_ADMIN_URL``, else the server on 127.0.0.1:5432, else an embedded one.
Redis: ``LAPOR_TEST_REDIS_URL``, else 127.0.0.1:6379, else a private ``redis-server``; if there
is none, Redis tests skip with the reason, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from lapor.platform.db import Database
from lapor.platform.migrations import upgrade_public
from lapor.platform.scratch import find_admin_url, scratch_database
from lapor.settings import Settings
from lapor.tenants.provisioning import Provisioner
from lapor.tenants.records import Tenant
from lapor.tenants.validation import TenantSpec

BASE_DOMAIN = "lapor.test"
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def admin_url() -> str:
    return find_admin_url()


@pytest.fixture(scope="session")
def database_url(admin_url: str) -> Iterator[str]:
    with scratch_database(admin_url, "test") as url:
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, base_domain=BASE_DOMAIN, host_cache_ttl=30.0)


@pytest.fixture(scope="session")
async def db(settings: Settings, database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, settings)
    await upgrade_public(database)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
def provisioner(db: Database) -> Provisioner:
    return Provisioner(db, BASE_DOMAIN)


@pytest.fixture(scope="session")
async def national(provisioner: Provisioner) -> Tenant:
    return await provisioner.create(TenantSpec("nasional", "KemenPAN-RB", "NATIONAL"))


@pytest.fixture(scope="session")
async def province(provisioner: Provisioner, national: Tenant) -> Tenant:
    return await provisioner.create(
        TenantSpec("ntt", "Provinsi NTT", "PROVINCE", region_code="53", time_zone="Asia/Makassar")
    )


_counter = itertools.count(1)


def unique_slug(stem: str = "kab") -> str:
    return f"{stem}-{next(_counter)}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def make_regency(provisioner: Provisioner, province: Tenant):
    """Create a fresh regency under the test province: each test gets tenants of its own."""

    async def make(**overrides: object) -> Tenant:
        spec = {"slug": unique_slug(), "name": "Kabupaten Uji", "kind": "REGENCY", "parent": province.slug}
        spec.update(overrides)
        return await provisioner.create(TenantSpec(**spec))  # type: ignore[arg-type]

    return make


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis; each run works in a database number of its own choosing is not needed:
    every key and channel the platform uses is prefixed, and tests use unique channels."""
    explicit = os.environ.get("LAPOR_TEST_REDIS_URL")
    if explicit:
        yield explicit
        return
    local = "redis://127.0.0.1:6379/0"
    if _redis_answers(local):
        yield local
        return
    binary = shutil.which("redis-server")
    if binary is None:
        reason = "no Redis on 127.0.0.1:6379 and no redis-server binary to start one"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    port = _free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while not _redis_answers(url):
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("private redis-server did not start")
        time.sleep(0.05)
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def secrets_for_tests():
    from lapor.platform.secrets import Secrets

    return Secrets(b"lapor-test-master-key-0123456789abcdef")


@pytest.fixture(scope="session")
def complaints(db: Database, secrets_for_tests):
    """The complaint services over the test database."""
    from lapor.platform.calendar import CalendarStore
    from lapor.tenants.complaints.service import ComplaintService

    return ComplaintService(db, secrets_for_tests, CalendarStore(db))
