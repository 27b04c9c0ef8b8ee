"""Routing rules through /graphql on the real ASGI app: CRUD, order, preview, scopes, refusals,
transfer targets, isolation between tenant hosts, and DataLoader batching."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from lapor.schema.common import global_id, parse_global_id
from lapor.tenants.actors import staff
from lapor.tenants.context import tenant_transaction
from lapor.tenants.records import Tenant
from lapor.tenants.reference import create_unit
from lapor.tenants.tables import audit_event, category, routing_rule
from tests.apps import running_app
from tests.conftest import BASE_DOMAIN
from tests.oauth_helpers import bearer_for, remember_app
from tests.sql_counter import count_statements

RULE_FIELDS = """
    id position name enabled kinds channels keywords regionPrefixes action priority targetTenant
    autoApply createdAt updatedAt unit { id code } categories { id code }
"""
RULES = f"{{ routingRules {{ {RULE_FIELDS} }} }}"
CREATE = f"""mutation($input: CreateRoutingRuleInput!) {{
  createRoutingRule(input: $input) {{ rule {{ {RULE_FIELDS} }} errors {{ field message code }} }}
}}"""
UPDATE = f"""mutation($input: UpdateRoutingRuleInput!) {{
  updateRoutingRule(input: $input) {{ rule {{ {RULE_FIELDS} }} errors {{ field message code }} }}
}}"""
DELETE = """mutation($input: DeleteRoutingRuleInput!) {
  deleteRoutingRule(input: $input) { deletedId errors { field message code } }
}"""
REORDER = """mutation($input: ReorderRoutingRulesInput!) {
  reorderRoutingRules(input: $input) { rules { id name position } errors { field message code } }
}"""
PREVIEW = """query($input: RoutingPreviewInput!) {
  routingPreview(input: $input) { matched rule { id name action } }
}"""


@pytest.fixture
async def served(settings, db) -> Any:
    """The app; staff requests carry real bearer tokens (oauth_helpers.bearer_for)."""
    async with running_app(settings) as (app, http):
        remember_app(http, app, db)
        yield app, http


@pytest.fixture
def client(served) -> httpx.AsyncClient:
    return served[1]


def host_of(tenant: Tenant) -> str:
    return f"{tenant.slug}.{BASE_DOMAIN}"


async def post(
    client: httpx.AsyncClient,
    tenant: Tenant,
    query: str,
    *,
    staff_name: str | None = "Admin Routing",
    scopes: str | None = None,
    **variables: object,
) -> dict[str, Any]:
    """POST a GraphQL operation to ``tenant``'s host with a staff token (every staff scope
    unless ``scopes`` narrows them; ``staff_name=None`` sends no token at all)."""
    headers = {"host": host_of(tenant)}
    if staff_name is not None:
        headers["authorization"] = f"Bearer {await bearer_for(client, tenant.slug, scopes)}"
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    assert response.status_code == 200, response.text
    assert "Traceback" not in response.text
    return response.json()


def data(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body
    return body["data"]


async def create(client: httpx.AsyncClient, tenant: Tenant, **fields: object) -> dict[str, Any]:
    """Create a rule that must be accepted; returns it."""
    payload = data(await post(client, tenant, CREATE, input=fields))["createRoutingRule"]
    assert payload["errors"] == [], payload
    return payload["rule"]


async def refused(client: httpx.AsyncClient, tenant: Tenant, query: str, field: str, **inp: object) -> dict:
    """Run a mutation that must be refused in its payload; returns its single error."""
    payload = data(await post(client, tenant, query, input=inp))[field]
    assert len(payload["errors"]) == 1, payload
    return payload["errors"][0]


def top_level_code(body: dict[str, Any]) -> str:
    assert body["data"] is None, body
    (error,) = body["errors"]
    return error["extensions"]["code"]


async def add_unit(db, tenant: Tenant, code: str) -> str:
    async with tenant_transaction(db, tenant) as conn:
        row = await create_unit(conn, staff("Setup"), code, f"Dinas {code}")
    return global_id("Unit", row.id)


async def category_gid(db, tenant: Tenant, code: str) -> str:
    async with tenant_transaction(db, tenant) as conn:
        key = await conn.scalar(sa.select(category.c.id).where(category.c.code == code))
    assert key is not None
    return global_id("Category", key)


async def counts(db, tenant: Tenant) -> tuple[int, int]:
    """(rules, audit rows) in the tenant's schema: what a write would change."""
    async with tenant_transaction(db, tenant) as conn:
        rules = await conn.scalar(sa.select(sa.func.count()).select_from(routing_rule))
        audits = await conn.scalar(sa.select(sa.func.count()).select_from(audit_event))
    return rules, audits


async def test_create_list_update_delete(client, db, make_regency) -> None:
    tenant = await make_regency()
    unit_id = await add_unit(db, tenant, "DPUPR")
    infra = await category_gid(db, tenant, "INFRASTRUKTUR")

    rule = await create(
        client,
        tenant,
        name="  Jalan   rusak ke PUPR ",
        action="ASSIGN_UNIT",
        unitId=unit_id,
        kinds=["COMPLAINT"],
        channels=["WEB", "SMS"],
        categoryIds=[infra],
        keywords=["jalan rusak", "Jalan Rusak", "jembatan"],
        regionPrefixes=["53.04"],
        autoApply=True,
    )
    assert rule["name"] == "Jalan rusak ke PUPR"  # normalized by the service
    assert rule["position"] == 1 and rule["enabled"] is True and rule["autoApply"] is True
    assert rule["kinds"] == ["COMPLAINT"] and rule["channels"] == ["WEB", "SMS"]
    assert rule["keywords"] == ["jalan rusak", "jembatan"]
    assert rule["regionPrefixes"] == ["53.04"]
    assert rule["action"] == "ASSIGN_UNIT" and rule["priority"] is None and rule["targetTenant"] is None
    assert rule["unit"] == {"id": unit_id, "code": "DPUPR"}
    assert rule["categories"] == [{"id": infra, "code": "INFRASTRUKTUR"}]
    assert parse_global_id(rule["id"])[0] == "RoutingRule"

    listed = data(await post(client, tenant, RULES))["routingRules"]
    assert listed == [rule]

    # Only the fields given change.
    renamed = data(await post(client, tenant, UPDATE, input={"id": rule["id"], "name": "PUPR"}))
    changed = renamed["updateRoutingRule"]["rule"]
    assert renamed["updateRoutingRule"]["errors"] == []
    assert changed["name"] == "PUPR"
    assert {k: v for k, v in changed.items() if k not in ("name", "updatedAt")} == {
        k: v for k, v in rule.items() if k not in ("name", "updatedAt")
    }

    # Explicit null clears a condition list; switching the action drops the old unit.
    cleared = data(
        await post(
            client,
            tenant,
            UPDATE,
            input={"id": rule["id"], "keywords": None, "action": "SET_PRIORITY", "priority": "URGENT"},
        )
    )["updateRoutingRule"]
    assert cleared["errors"] == []
    assert cleared["rule"]["keywords"] == []
    assert cleared["rule"]["action"] == "SET_PRIORITY" and cleared["rule"]["priority"] == "URGENT"
    assert cleared["rule"]["unit"] is None
    assert cleared["rule"]["kinds"] == ["COMPLAINT"]  # absent: unchanged

    deleted = data(await post(client, tenant, DELETE, input={"id": rule["id"]}))["deleteRoutingRule"]
    assert deleted == {"deletedId": rule["id"], "errors": []}
    assert data(await post(client, tenant, RULES))["routingRules"] == []
    again = await refused(client, tenant, DELETE, "deleteRoutingRule", id=rule["id"])
    assert again["code"] == "NOT_FOUND" and again["field"] == "id"

    async with tenant_transaction(db, tenant) as conn:
        actions = (await conn.scalars(sa.select(audit_event.c.action).order_by(audit_event.c.id))).all()
    assert [a for a in actions if a.startswith("routing_rule.")] == [
        "routing_rule.create",
        "routing_rule.update",
        "routing_rule.update",
        "routing_rule.delete",
    ]


async def test_reorder(client, make_regency) -> None:
    tenant = await make_regency()
    first, second, third = [
        await create(client, tenant, name=name, action="SET_PRIORITY", priority="HIGH")
        for name in ("satu", "dua", "tiga")
    ]
    assert [r["position"] for r in (first, second, third)] == [1, 2, 3]

    wanted = [third["id"], first["id"], second["id"]]
    payload = data(await post(client, tenant, REORDER, input={"ids": wanted}))["reorderRoutingRules"]
    assert payload["errors"] == []
    assert [(r["name"], r["position"]) for r in payload["rules"]] == [("tiga", 1), ("satu", 2), ("dua", 3)]
    listed = data(await post(client, tenant, RULES))["routingRules"]
    assert [r["id"] for r in listed] == wanted

    missing = await refused(client, tenant, REORDER, "reorderRoutingRules", ids=wanted[:2])
    assert missing["code"] == "INVALID_ORDER" and missing["field"] == "ids"
    garbage = await refused(client, tenant, REORDER, "reorderRoutingRules", ids=[*wanted, "bogus"])
    assert garbage["code"] == "INVALID_ORDER" and garbage["field"] == "ids"
    wrong_type = await refused(client, tenant, REORDER, "reorderRoutingRules", ids=[global_id("Unit", 1)])
    assert wrong_type["code"] == "INVALID_ORDER"
    listed_after = data(await post(client, tenant, RULES))["routingRules"]
    assert [r["id"] for r in listed_after] == wanted  # the refused orders changed nothing


async def test_preview_matches_and_writes_nothing(client, db, make_regency) -> None:
    tenant = await make_regency()
    infra = await category_gid(db, tenant, "INFRASTRUKTUR")
    await create(client, tenant, name="off", action="SET_PRIORITY", priority="LOW", enabled=False)
    flood = await create(
        client, tenant, name="banjir", action="SET_PRIORITY", priority="URGENT", keywords=["banjir"]
    )
    await create(
        client, tenant, name="infra", action="SET_PRIORITY", priority="HIGH", categoryIds=[infra],
        regionPrefixes=["53.04"],
    )  # fmt: skip
    before = await counts(db, tenant)

    sample = {"kind": "COMPLAINT", "channel": "SMS", "title": "Banjir lagi!", "body": "Air masuk rumah."}
    hit = data(await post(client, tenant, PREVIEW, scopes="routing:read", input=sample))["routingPreview"]
    assert hit == {"matched": True, "rule": {"id": flood["id"], "name": "banjir", "action": "SET_PRIORITY"}}

    by_place = {"title": "Jalan", "body": "berlubang", "categoryId": infra, "regionCode": "53.04.02"}
    second = data(await post(client, tenant, PREVIEW, input=by_place))["routingPreview"]
    assert second["rule"]["name"] == "infra"

    elsewhere = {**by_place, "regionCode": "61.01"}
    miss = data(await post(client, tenant, PREVIEW, input=elsewhere))["routingPreview"]
    assert miss == {"matched": False, "rule": None}

    assert await counts(db, tenant) == before

    bad_id = await post(client, tenant, PREVIEW, input={"categoryId": "not-an-id"})
    assert bad_id["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_scopes_are_checked_at_the_root(client, db, make_regency) -> None:
    tenant = await make_regency()
    rule = await create(client, tenant, name="r", action="SET_PRIORITY", priority="HIGH")
    before = await counts(db, tenant)
    reader = {"scopes": "routing:read"}

    assert data(await post(client, tenant, RULES, **reader))["routingRules"][0]["id"] == rule["id"]
    attempts = [
        (CREATE, {"name": "x", "action": "SET_PRIORITY", "priority": "LOW"}),
        (UPDATE, {"id": rule["id"], "name": "y"}),
        (DELETE, {"id": rule["id"]}),
        (REORDER, {"ids": [rule["id"]]}),
        # Even an invalid input is FORBIDDEN, not a validation error: no scope, no information.
        (CREATE, {"name": "", "action": "ASSIGN_UNIT"}),
    ]
    for query, inp in attempts:
        assert top_level_code(await post(client, tenant, query, input=inp, **reader)) == "FORBIDDEN"
    assert await counts(db, tenant) == before

    no_routing = {"scopes": "complaints:read"}
    assert top_level_code(await post(client, tenant, RULES, **no_routing)) == "FORBIDDEN"
    assert top_level_code(await post(client, tenant, PREVIEW, input={}, **no_routing)) == "FORBIDDEN"


async def test_no_identity_is_unauthenticated(client, db, make_regency) -> None:
    tenant = await make_regency()
    before = await counts(db, tenant)
    for query, variables in [
        (RULES, {}),
        (PREVIEW, {"input": {"title": "banjir"}}),
        (CREATE, {"input": {"name": "x", "action": "SET_PRIORITY", "priority": "LOW"}}),
    ]:
        body = await post(client, tenant, query, staff_name=None, **variables)
        assert top_level_code(body) == "UNAUTHENTICATED"
    assert await counts(db, tenant) == before


async def test_the_old_development_header_grants_nothing(client, make_regency) -> None:
    """The temporary X-Lapor-Dev-Staff header is gone: only OAuth bearer tokens identify staff."""
    tenant = await make_regency()
    response = await client.post(
        "/graphql", json={"query": RULES}, headers={"host": host_of(tenant), "x-lapor-dev-staff": "Admin"}
    )
    assert top_level_code(response.json()) == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"name": " ", "action": "SET_PRIORITY", "priority": "LOW"}, "INVALID_NAME", "name"),
        ({"name": "u", "action": "ASSIGN_UNIT"}, "UNIT_REQUIRED", "unitId"),
        ({"name": "u", "action": "ASSIGN_UNIT", "unitId": "bogus"}, "UNIT_NOT_FOUND", "unitId"),
        (
            {"name": "u", "action": "ASSIGN_UNIT", "unitId": global_id("Unit", 999_999)},
            "UNIT_NOT_FOUND",
            "unitId",
        ),
        (
            {"name": "u", "action": "ASSIGN_UNIT", "unitId": global_id("Category", 1)},
            "UNIT_NOT_FOUND",
            "unitId",
        ),
        ({"name": "p", "action": "SET_PRIORITY"}, "PRIORITY_REQUIRED", "priority"),
        (
            {"name": "p", "action": "SET_PRIORITY", "priority": "LOW", "targetTenant": "ttu"},
            "FIELD_NOT_ALLOWED",
            "targetTenant",
        ),
        (
            {"name": "c", "action": "SET_PRIORITY", "priority": "LOW", "categoryIds": [global_id("Unit", 1)]},
            "CATEGORY_NOT_FOUND",
            "categoryIds",
        ),
        (
            {
                "name": "c",
                "action": "SET_PRIORITY",
                "priority": "LOW",
                "categoryIds": [global_id("Category", 900_000)],
            },
            "CATEGORY_NOT_FOUND",
            "categoryIds",
        ),
        (
            {"name": "k", "action": "SET_PRIORITY", "priority": "LOW", "keywords": ["?!"]},
            "INVALID_KEYWORD",
            "keywords",
        ),
        (
            {"name": "r", "action": "SET_PRIORITY", "priority": "LOW", "regionPrefixes": ["53.7x"]},
            "INVALID_REGION_PREFIX",
            "regionPrefixes",
        ),
        ({"name": "t", "action": "TRANSFER_TO_TENANT"}, "TARGET_TENANT_REQUIRED", "targetTenant"),
        (
            {"name": "t", "action": "TRANSFER_TO_TENANT", "targetTenant": "Not A Slug"},
            "INVALID_TARGET_TENANT",
            "targetTenant",
        ),
    ],
)
async def test_create_refusals_come_back_in_the_payload(
    client, db, make_regency, fields, code, field
) -> None:
    tenant = await make_regency()
    before = await counts(db, tenant)
    error = await refused(client, tenant, CREATE, "createRoutingRule", **fields)
    assert (error["code"], error["field"]) == (code, field), error
    assert error["message"]
    assert await counts(db, tenant) == before


async def test_update_refusals_leave_the_rule_unchanged(client, db, make_regency) -> None:
    tenant = await make_regency()
    rule = await create(client, tenant, name="r", action="SET_PRIORITY", priority="HIGH", keywords=["a"])
    cases = [
        ({"id": "bogus", "name": "x"}, "NOT_FOUND", "id"),
        ({"id": global_id("RoutingRule", 999_999), "name": "x"}, "NOT_FOUND", "id"),
        ({"id": rule["id"], "name": None}, "NULL_NOT_ALLOWED", "name"),
        ({"id": rule["id"], "enabled": None}, "NULL_NOT_ALLOWED", "enabled"),
        ({"id": rule["id"], "priority": None}, "PRIORITY_REQUIRED", "priority"),
        ({"id": rule["id"], "action": "ASSIGN_UNIT"}, "UNIT_REQUIRED", "unitId"),
        ({"id": rule["id"], "keywords": [""]}, "INVALID_KEYWORD", "keywords"),
    ]
    for inp, code, field in cases:
        error = await refused(client, tenant, UPDATE, "updateRoutingRule", **inp)
        assert (error["code"], error["field"]) == (code, field), (inp, error)
    assert data(await post(client, tenant, RULES))["routingRules"] == [rule]


async def test_transfer_targets_are_checked_against_the_registry(client, db, province, make_regency) -> None:
    tenant = await make_regency()
    transfer = {"name": "ke provinsi", "action": "TRANSFER_TO_TENANT"}
    before = await counts(db, tenant)

    unknown = await refused(
        client, tenant, CREATE, "createRoutingRule", **transfer, targetTenant="no-such-kab"
    )
    assert (unknown["code"], unknown["field"]) == ("UNKNOWN_TENANT", "targetTenant")
    itself = await refused(client, tenant, CREATE, "createRoutingRule", **transfer, targetTenant=tenant.slug)
    assert (itself["code"], itself["field"]) == ("INVALID_TARGET_TENANT", "targetTenant")
    assert await counts(db, tenant) == before

    rule = await create(client, tenant, **transfer, targetTenant=f" {province.slug.upper()} ")
    assert rule["targetTenant"] == province.slug and rule["action"] == "TRANSFER_TO_TENANT"

    moved = await refused(
        client, tenant, UPDATE, "updateRoutingRule", id=rule["id"], targetTenant="nowhere-x"
    )
    assert moved["code"] == "UNKNOWN_TENANT"
    renamed = data(await post(client, tenant, UPDATE, input={"id": rule["id"], "name": "ke NTT"}))
    assert renamed["updateRoutingRule"]["errors"] == []
    assert renamed["updateRoutingRule"]["rule"]["targetTenant"] == province.slug


async def test_rules_stay_on_their_tenant(client, make_regency) -> None:
    tenant_a, tenant_b = await make_regency(), await make_regency()
    rule = await create(client, tenant_a, name="hanya A", action="SET_PRIORITY", priority="HIGH")

    assert data(await post(client, tenant_b, RULES))["routingRules"] == []
    assert [r["id"] for r in data(await post(client, tenant_a, RULES))["routingRules"]] == [rule["id"]]
    preview = data(await post(client, tenant_b, PREVIEW, input={"title": "apa saja"}))["routingPreview"]
    assert preview == {"matched": False, "rule": None}

    for query, field, inp in [
        (UPDATE, "updateRoutingRule", {"id": rule["id"], "name": "dari B"}),
        (DELETE, "deleteRoutingRule", {"id": rule["id"]}),
    ]:
        error = await refused(client, tenant_b, query, field, **inp)
        assert error["code"] == "NOT_FOUND"
    assert [r["name"] for r in data(await post(client, tenant_a, RULES))["routingRules"]] == ["hanya A"]


async def test_listing_costs_the_same_for_many_rules(served, db, make_regency) -> None:
    """Units and categories come through DataLoaders: one statement each, however many rules."""
    app, client = served
    tenant = await make_regency()
    units = [await add_unit(db, tenant, f"UNIT{i}") for i in range(2)]
    categories = [await category_gid(db, tenant, code) for code in ("INFRASTRUKTUR",)]

    async def statements_for_listing() -> int:
        with count_statements(app.state.services.db.public) as statements:
            rules = data(await post(client, tenant, RULES))["routingRules"]
        assert all(r["unit"] for r in rules)
        return len(statements)

    await create(client, tenant, name="r0", action="ASSIGN_UNIT", unitId=units[0], categoryIds=categories)
    few = await statements_for_listing()
    for i in range(1, 8):
        await create(
            client, tenant, name=f"r{i}", action="ASSIGN_UNIT", unitId=units[i % 2], categoryIds=categories
        )
    many = await statements_for_listing()
    assert many == few
