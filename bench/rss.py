"""P6 (DESIGN.md section 10): one API worker's memory with 700 tenants registered and warmed < 250 MB.

In a scratch database with ``--tenants`` provisioned tenants, the real server is started in a
fresh process (``python -m uvicorn lapor.platform.app:app_from_env --factory``, one worker) and
sent ``{ tenant { slug } }`` once per tenant host (``Host: <slug>.localhost``), so every host is
resolved and cached once; then two more passes over the same (now cached) hosts. The worker's RSS
is read from this process with psutil: after startup, after the first tenant and after each pass.
Growth per tenant is what would hurt at 700 tenants (DESIGN.md section 2: one ``MetaData``, no
per-tenant copies); the later passes must be flat.

    .venv/bin/python bench/rss.py --tenants 700
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time

import httpx
import psutil
from _common import load_line, machine_line, provision_all

from lapor.platform.db import Database
from lapor.platform.migrations import upgrade_public
from lapor.platform.scratch import find_admin_url, scratch_database
from lapor.settings import Settings
from lapor.tenants.registry import list_tenants

QUERY = {"query": "{ tenant { slug } }"}
PASS_LABELS = ("after pass 2 (cached hosts)", "after pass 3 (cached hosts)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "uvicorn", "lapor.platform.app:app_from_env", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"]
    env = {**os.environ, "LAPOR_DATABASE_URL": url, "LAPOR_BASE_DOMAIN": "localhost"}
    return subprocess.Popen(command, env=env)


async def wait_ready(client: httpx.AsyncClient, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with status {server.returncode}")
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the server did not become ready within 30 s")


async def ask(client: httpx.AsyncClient, slug: str) -> bool:
    """One GraphQL request on ``slug``'s host; whether it answered with that very tenant."""
    response = await client.post("/graphql", json=QUERY, headers={"Host": f"{slug}.localhost"})
    return response.status_code == 200 and response.json()["data"]["tenant"]["slug"] == slug


def rss_mb(process: psutil.Process) -> float:
    return process.memory_info().rss / 2**20


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenants", type=int, default=700)
    args = parser.parse_args()
    admin_url = find_admin_url()
    print(machine_line(admin_url))
    print(load_line())
    print(f"tenants: {args.tenants}")

    with scratch_database(admin_url, "bench") as url:
        db = Database(url, Settings(), pool_size=4)
        try:
            await upgrade_public(db)
            await provision_all(db, args.tenants, tasks=4)
            slugs = [t.slug for t in await list_tenants(db)]
        finally:
            await db.dispose()

        port = free_port()
        server = start_server(url, port)
        try:
            worker = psutil.Process(server.pid)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                await wait_ready(client, server)
                readings = [("after startup (one /readyz)", rss_mb(worker))]
                wrong = 0 if await ask(client, slugs[0]) else 1
                readings.append(("after the first tenant", rss_mb(worker)))
                for label in ("after pass 1 (every host resolved once)", *PASS_LABELS):
                    started = time.perf_counter()
                    for slug in slugs:
                        wrong += 0 if await ask(client, slug) else 1
                    seconds = time.perf_counter() - started
                    readings.append((f"{label}, {seconds:.1f} s", rss_mb(worker)))
        finally:
            server.terminate()
            server.wait(timeout=10)

    for label, value in readings:
        print(f"RSS {value:7.1f} MB  {label}")
    first, pass1, pass2, pass3 = (value for _, value in readings[1:])
    per_tenant_kb = (pass1 - first) * 1024 / max(1, len(slugs) - 1)
    print(
        f"growth per tenant host in pass 1: {per_tenant_kb:.1f} KB; "
        f"pass 2: {pass2 - pass1:+.1f} MB, pass 3: {pass3 - pass2:+.1f} MB"
    )
    warmed = max(pass1, pass2, pass3)
    print(f"worker RSS with {len(slugs)} tenants warmed: {warmed:.1f} MB (target < 250 MB)")
    print(f"requests answered with another tenant or an error: {wrong}")

    print(load_line())


if __name__ == "__main__":
    asyncio.run(main())
