"""GraphQL fuzzing: queries and mutations generated from our own schema (hypothesis-graphql),
sent to a real server as the public, as a reader and as an administrator.

Whatever arrives: never a 500, never a stack trace or SQL text, and every error carries an
``extensions.code``. CI runs a bounded number of examples; set ``LAPOR_FUZZ_EXAMPLES`` for more.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis_graphql import from_schema, nodes

from lapor.schema import sdl
from tests.conftest import BASE_DOMAIN

EXAMPLES = int(os.environ.get("LAPOR_FUZZ_EXAMPLES", "40"))
SECRET = "f" * 64
LEAKS = ("Traceback", "psycopg", "sqlalchemy", "SELECT ", "INSERT INTO", 'File "/')
SCALARS = {
    "DateTime": st.datetimes(
        min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1), timezones=st.just(dt.UTC)
    ).map(lambda value: nodes.String(value.isoformat())),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _lapor(env: dict[str, str], *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "lapor.cli.main", *args, "--json"], env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def live(
    admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, str | None]]]:
    """A real server on a free port over a database of its own, and tokens of three callers."""
    from lapor.platform.scratch import scratch_database

    with scratch_database(admin_url, "fuzz") as url:
        env = {
            **os.environ, "LAPOR_DATABASE_URL": url, "LAPOR_BASE_DOMAIN": BASE_DOMAIN, "LAPOR_SECRET_KEY": SECRET,
            "LAPOR_LOG_LEVEL": "CRITICAL", "LAPOR_REDIS_URL": "", "LAPOR_RATE_LIMIT_PUBLIC": "0",
            "LAPOR_RATE_LIMIT_CLIENT": "0",
        }  # fmt: skip
        _lapor(env, "tenants", "create", "nasional", "--name", "Nasional", "--kind", "NATIONAL")
        _lapor(env, "tenants", "create", "ntt", "--name", "NTT", "--kind", "PROVINCE", "--region-code", "53")
        _lapor(
            env,
            "tenants",
            "create",
            "kupang-kota",
            "--name",
            "Kota Kupang",
            "--kind",
            "CITY",
            "--parent",
            "ntt",
        )
        port = _free_port()
        log_path = tmp_path_factory.mktemp("fuzz") / "server.log"
        log_file = log_path.open("w")  # a file, not a pipe: a full pipe would stall the server
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "lapor.platform.app:app_from_env", "--factory", "--port", str(port),
             "--log-level", "critical"],
            env=env, stdout=log_file, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
            tokens: dict[str, str | None] = {"public": None}
            for who, scopes in (
                ("reader", "complaints:read routing:read stats:read"),
                ("admin", "complaints:read complaints:triage complaints:respond complaints:transfer reporters:read "
                 "routing:read routing:write units:write stats:read tenant:admin"),
            ):  # fmt: skip
                client = _lapor(env, "clients", "create", "--tenant", "kupang-kota", "--name", f"Fuzz {who}",
                                "--scopes", scopes)  # fmt: skip
                answer = httpx.post(
                    f"{base}/oauth/token", data={"grant_type": "client_credentials"},
                    auth=(client["client_id"], client["client_secret"]), headers={"host": f"kupang-kota.{BASE_DOMAIN}"},
                )  # fmt: skip
                tokens[who] = answer.json()["access_token"]
            yield base, tokens
        finally:
            server.terminate()
            server.wait(timeout=20)
            log_file.close()
            print(f"fuzz server log: {log_path}")


def _check(base: str, tokens: dict[str, str | None], document: str) -> None:
    for who, token in tokens.items():
        headers = {"host": f"kupang-kota.{BASE_DOMAIN}"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        context = f"{who}: {document[:2000]}"
        try:
            response = httpx.post(f"{base}/graphql", json={"query": document}, headers=headers, timeout=20)
        except httpx.TimeoutException:
            pytest.fail(f"no answer within 20 s for {context}")
        assert response.status_code < 500, f"{response.status_code} {response.text[:500]} for {context}"
        assert not any(leak in response.text for leak in LEAKS), (
            f"leak in {response.text[:500]} for {context}"
        )
        body = response.json()
        for error in body.get("errors") or []:
            assert isinstance(error.get("extensions", {}).get("code"), str), f"no code: {error} for {context}"
            assert error["extensions"]["code"] != "INTERNAL_SERVER_ERROR", f"{error} for {context}"


@hypothesis_settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(document=from_schema(sdl(), custom_scalars=SCALARS, allow_x00=False))
def test_generated_queries_and_mutations_never_fail_the_server(live, document: str) -> None:
    base, tokens = live
    _check(base, tokens, document)
