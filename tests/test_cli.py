"""The CLI contract other tools script against: `lapor tenants ... --json`, `lapor migrate`."""

from __future__ import annotations

import json
from collections.abc import Iterator

import psycopg
import pytest
from typer.testing import CliRunner

from lapor.cli.main import app
from lapor.platform.scratch import scratch_database
from lapor.schema import sdl
from tests.conftest import BASE_DOMAIN

ROOT_SCHEMA = __import__("pathlib").Path(__file__).resolve().parent.parent / "schema.graphql"


@pytest.fixture(scope="module")
def cli_database(admin_url: str) -> Iterator[str]:
    with scratch_database(admin_url, "cli") as url:
        yield url


@pytest.fixture
def lapor(cli_database: str):
    runner = CliRunner()
    env = {"LAPOR_DATABASE_URL": cli_database, "LAPOR_BASE_DOMAIN": BASE_DOMAIN, "LAPOR_REDIS_URL": ""}

    def invoke(*args: str):
        return runner.invoke(app, list(args), env=env, catch_exceptions=False)

    return invoke


def test_create_list_suspend_activate(lapor) -> None:
    created = lapor(
        "tenants", "create", "kemenpan-rb", "--name", "KemenPAN-RB", "--kind", "NATIONAL", "--json"
    )
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["slug"] == "kemenpan-rb"
    assert (
        lapor(
            "tenants",
            "create",
            "ntt",
            "--name",
            "Provinsi NTT",
            "--kind",
            "province",
            "--region-code",
            "53",
            "--time-zone",
            "Asia/Makassar",
        ).exit_code
        == 0
    )
    result = lapor(
        "tenants",
        "create",
        "kupang-kota",
        "--name",
        "Kota Kupang",
        "--kind",
        "CITY",
        "--parent",
        "ntt",
        "--region-code",
        "53.71",
        "--domain",
        "lapor.kupangkota.go.id",
        "--domain",
        "pengaduan.kupangkota.go.id",
        "--json",
    )
    assert result.exit_code == 0, result.output

    listed = json.loads(lapor("tenants", "list", "--json").stdout)
    by_slug = {t["slug"]: t for t in listed}
    assert set(by_slug) == {"kemenpan-rb", "ntt", "kupang-kota"}
    city = by_slug["kupang-kota"]
    assert {k: city[k] for k in ("slug", "name", "kind", "parent", "schema", "status", "domains")} == {
        "slug": "kupang-kota",
        "name": "Kota Kupang",
        "kind": "CITY",
        "parent": "ntt",
        "schema": "t_kupang_kota",
        "status": "ACTIVE",
        "domains": ["lapor.kupangkota.go.id", "pengaduan.kupangkota.go.id"],
    }
    assert by_slug["ntt"]["parent"] == "kemenpan-rb"

    suspended = lapor("tenants", "suspend", "kupang-kota", "--reason", "audit", "--json")
    assert json.loads(suspended.stdout)["status"] == "SUSPENDED"
    only = json.loads(lapor("tenants", "list", "--status", "suspended", "--json").stdout)
    assert [t["slug"] for t in only] == ["kupang-kota"]
    assert json.loads(lapor("tenants", "activate", "kupang-kota", "--json").stdout)["status"] == "ACTIVE"


def test_refusals_exit_non_zero_with_a_json_error(lapor) -> None:
    bad = lapor("tenants", "create", "Bad_Slug", "--name", "x", "--kind", "CITY", "--json")
    assert bad.exit_code == 1
    assert json.loads(bad.stdout)["error"]["code"] == "INVALID_SLUG"
    unknown = lapor("tenants", "suspend", "no-such-tenant", "--json")
    assert unknown.exit_code == 1
    assert json.loads(unknown.stdout)["error"]["code"] == "UNKNOWN_TENANT"
    text = lapor("tenants", "create", "orphan", "--name", "x", "--kind", "REGENCY")
    assert text.exit_code == 1 and "PARENT_REQUIRED" in text.output


def test_migrate_reports_and_exits_non_zero_on_failure(lapor, cli_database) -> None:
    lapor("tenants", "create", "kemenpan-rb", "--name", "KemenPAN-RB", "--kind", "NATIONAL")
    lapor("tenants", "create", "kalbar", "--name", "Kalbar", "--kind", "PROVINCE")
    lapor("tenants", "create", "landak", "--name", "Landak", "--kind", "REGENCY", "--parent", "kalbar")
    fine = lapor("migrate", "--json")
    assert fine.exit_code == 0, fine.output
    report = json.loads(fine.stdout)
    assert report["failed"] == {} and report["up_to_date"] == report["total"] >= 3

    with psycopg.connect(cli_database, autocommit=True) as conn:
        conn.execute("DROP SCHEMA t_landak CASCADE")
    broken = lapor("migrate")
    assert broken.exit_code == 1
    assert "t_landak" in broken.output and "FAILED" in broken.output


def test_schema_command_and_schema_file_are_in_step(lapor) -> None:
    printed = lapor("schema")
    assert printed.exit_code == 0
    assert printed.stdout == sdl()
    assert ROOT_SCHEMA.read_text() == sdl(), "run `lapor schema > schema.graphql`"
