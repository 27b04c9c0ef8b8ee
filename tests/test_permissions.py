"""Every scope-protected field and mutation: allowed with its scope, FORBIDDEN without it,
UNAUTHENTICATED with no token; unit officers confined; identity and Ombudsman reads audited."""

from __future__ import annotations

from dataclasses import replace

import pytest
import sqlalchemy as sa

from lapor.auth.roles import ALL_SCOPES, Role
from lapor.schema.common import global_id
from lapor.tenants.context import tenant_transaction
from lapor.tenants.tables import audit_event
from tests.apps import running_app
from tests.conftest import BASE_DOMAIN
from tests.graphql_client import codes
from tests.oauth_helpers import machine_token, user_token

SUBMIT = (
    'mutation { submitComplaint(input: {title: "Sampah menumpuk di pasar", '
    'body: "Sampah tidak diangkut seminggu di Pasar Inpres.", categoryCode: "LINGKUNGAN", '
    'reporter: {name: "Rahasia Sekali", phone: "+6281311112222"}}) { trackingId accessCode } }'
)

# (document, scope it needs); $t is a fresh tracking id, $u a unit id.
PROTECTED = [
    ("query($t: String!) { complaints(first: 1) { edges { cursor } } complaint(trackingId: $t) { id } }",
     "complaints:read"),
    ("mutation($t: String!) { verifyComplaint(input: {trackingId: $t}) { errors { code } } }", "complaints:triage"),
    ('mutation($t: String!) { archiveComplaint(input: {trackingId: $t, reason: "Spam"}) { errors { code } } }',
     "complaints:triage"),
    ('mutation($t: String!) { requestInformation(input: {trackingId: $t, question: "Di mana?"}) '
     "{ errors { code } } }", "complaints:triage"),
    ("mutation($t: String!, $u: ID!) { assignComplaint(input: {trackingId: $t, unitId: $u}) { errors { code } } }",
     "complaints:triage"),
    ('mutation($t: String!) { respondToComplaint(input: {trackingId: $t, outcome: RESOLVED, message: "Selesai"}) '
     "{ errors { code } } }", "complaints:respond"),
    ("{ routingRules { id } }", "routing:read"),
    ('{ routingPreview(input: {kind: COMPLAINT, channel: WEB, title: "Jalan rusak", body: "Jalan rusak parah"}) '
     "{ matched } }", "routing:read"),
    ('mutation { createRoutingRule(input: {name: "Uji", action: SET_PRIORITY, priority: HIGH}) '
     "{ errors { code } } }", "routing:write"),
    ('mutation { createUnit(input: {code: "UJI", name: "Unit Uji"}) { errors { code } } }', "units:write"),
    ('mutation { createCategory(input: {code: "UJI", name: "Kategori Uji"}) { errors { code } } }', "tenant:admin"),
    ("query($t: String!) { complaint(trackingId: $t) { reporter { name } } }", "reporters:read"),
]  # fmt: skip


@pytest.fixture
async def world(settings, db, make_regency):
    tenant = await make_regency()
    # The role matrix files about a hundred complaints as the public (10 points each since issue
    # 9 item 7): these are permission tests, not rate-limit tests (tests/test_graphql_gate.py).
    async with running_app(replace(settings, rate_limit_public=100_000)) as (app, client):
        yield app, client, tenant


async def _post(client, host, token, query, **variables):
    headers = {"host": host}
    if token:
        headers["authorization"] = f"Bearer {token}"
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    assert response.status_code == 200 and "Traceback" not in response.text
    return response.json()


@pytest.mark.parametrize(
    ("document", "scope"), PROTECTED, ids=[s + str(i) for i, (_, s) in enumerate(PROTECTED)]
)
async def test_scope_is_required(world, db, document, scope):
    app, client, tenant = world
    host = f"{tenant.slug}.{BASE_DOMAIN}"
    sent = (await _post(client, host, None, SUBMIT))["data"]["submitComplaint"]
    admin = await machine_token(db, app, host, tenant=tenant.slug, scopes="units:write complaints:read")
    unit = await _post(client, host, admin, 'mutation { createUnit(input: {code: "DLH", name: "DLH"}) '
                       "{ unit { id } errors { code } } }")  # fmt: skip
    unit_id = (unit["data"]["createUnit"]["unit"] or {}).get("id") or "VW5pdDox"
    variables = {"t": sent["trackingId"], "u": unit_id}
    used = {name: value for name, value in variables.items() if f"${name}" in document}

    assert codes(await _post(client, host, None, document, **used)) and set(
        codes(await _post(client, host, None, document, **used))
    ) == {"UNAUTHENTICATED"}
    without = " ".join(sorted(ALL_SCOPES - {scope, "national:read"}))
    missing = await machine_token(db, app, host, tenant=tenant.slug, scopes=without)
    assert "FORBIDDEN" in codes(await _post(client, host, missing, document, **used))
    # The scope itself (plus complaints:read, which reaching a complaint's fields needs anyway).
    holding = await machine_token(db, app, host, tenant=tenant.slug, scopes=f"{scope} complaints:read")
    allowed = await _post(client, host, holding, document, **used)
    assert not {"FORBIDDEN", "UNAUTHENTICATED"} & set(codes(allowed)), allowed


async def _audit_rows(db, tenant, action: str) -> int:
    async with tenant_transaction(db, tenant) as conn:
        return await conn.scalar(
            sa.select(sa.func.count()).select_from(audit_event).where(audit_event.c.action == action)
        )


async def test_reporter_identity_reads_are_audited(world, db):
    app, client, tenant = world
    host = f"{tenant.slug}.{BASE_DOMAIN}"
    sent = (await _post(client, host, None, SUBMIT))["data"]["submitComplaint"]
    token = await machine_token(db, app, host, tenant=tenant.slug, scopes="complaints:read reporters:read")
    before = await _audit_rows(db, tenant, "reporter.read")
    body = await _post(client, host, token, "query($t: String!) { complaint(trackingId: $t) { reporter { name } } }",
                       t=sent["trackingId"])  # fmt: skip
    assert body["data"]["complaint"]["reporter"]["name"] == "Rahasia Sekali"
    assert await _audit_rows(db, tenant, "reporter.read") == before + 1


async def test_unit_officer_sees_and_answers_only_its_unit(world, db):
    app, client, tenant = world
    host = f"{tenant.slug}.{BASE_DOMAIN}"
    admin = await machine_token(
        db, app, host, tenant=tenant.slug, scopes="complaints:read complaints:triage units:write"
    )
    units = {}
    for code in ("DINKES", "DLH"):
        made = await _post(client, host, admin, f'mutation {{ createUnit(input: {{code: "{code}", name: "{code}"}}) '
                           "{ unit { id } } }")  # fmt: skip
        units[code] = made["data"]["createUnit"]["unit"]["id"]
    tracking = {}
    for code, unit_id in units.items():
        sent = (await _post(client, host, None, SUBMIT))["data"]["submitComplaint"]["trackingId"]
        for mutation, variables in (
            ("mutation($t: String!) { verifyComplaint(input: {trackingId: $t})", {"t": sent}),
            ("mutation($t: String!, $u: ID!) { assignComplaint(input: {trackingId: $t, unitId: $u})",
             {"t": sent, "u": unit_id}),
        ):  # fmt: skip
            done = await _post(client, host, admin, mutation + " { errors { code } } }", **variables)
            assert not codes(done), done
        tracking[code] = sent
    from base64 import urlsafe_b64decode

    dlh_id = int(urlsafe_b64decode(units["DLH"] + "==").decode().split(":")[1])
    officer = await user_token(
        db, app, client, host=host, tenant=tenant.slug, role=Role.UNIT_OFFICER, unit_id=dlh_id,
        scopes="complaints:read complaints:respond",
    )  # fmt: skip
    listed = await _post(
        client, host, officer, "{ complaints(first: 100) { edges { node { trackingId } } } }"
    )
    seen = {edge["node"]["trackingId"] for edge in listed["data"]["complaints"]["edges"]}
    assert tracking["DLH"] in seen and tracking["DINKES"] not in seen
    # Reads by tracking id and by global id are confined too: another unit's complaint is null,
    # exactly as if it did not exist; the officer's own is there.
    by_id = "query($t: String!) { complaint(trackingId: $t) { trackingId } }"
    by_node = "query($id: ID!) { node(id: $id) { id ... on Complaint { trackingId } } }"
    for code, expect_seen in (("DINKES", False), ("DLH", True)):
        tid = tracking[code]
        read = await _post(client, host, officer, by_id, t=tid)
        node = await _post(client, host, officer, by_node, id=global_id("Complaint", tid))
        assert not codes(read) and not codes(node), (read, node)
        assert (read["data"]["complaint"] is not None) is expect_seen, (code, read)
        assert (node["data"]["node"] is not None) is expect_seen, (code, node)
    respond = ('mutation($t: String!) { respondToComplaint(input: {trackingId: $t, outcome: RESOLVED, '
               'message: "Sudah diangkut"}) { complaint { status } errors { code } } }')  # fmt: skip
    other = await _post(client, host, officer, respond, t=tracking["DINKES"])
    assert other["data"]["respondToComplaint"]["errors"] == [{"code": "NOT_FOUND"}]
    own = await _post(client, host, officer, respond, t=tracking["DLH"])
    assert own["data"]["respondToComplaint"]["complaint"]["status"] == "RESPONDED"


async def test_ombudsman_reads_any_tenant_read_only_and_audited(world, db, national):
    app, client, tenant = world
    host = f"{tenant.slug}.{BASE_DOMAIN}"
    sent = (await _post(client, host, None, SUBMIT))["data"]["submitComplaint"]
    token = await user_token(
        db, app, client, host=BASE_DOMAIN, tenant=national.slug, role=Role.OMBUDSMAN, national=True,
        scopes="national:read stats:read complaints:read",
    )  # fmt: skip
    before = await _audit_rows(db, tenant, "complaint.read")
    read = await _post(client, host, token, "query($t: String!) { complaint(trackingId: $t) { title } }",
                       t=sent["trackingId"])  # fmt: skip
    assert read["data"]["complaint"]["title"] == "Sampah menumpuk di pasar"
    assert await _audit_rows(db, tenant, "complaint.read") == before + 1
    write = await _post(client, host, token, "mutation($t: String!) { verifyComplaint(input: {trackingId: $t}) "
                        "{ errors { code } } }", t=sent["trackingId"])  # fmt: skip
    assert codes(write) == ["FORBIDDEN"]
    analyst = await machine_token(db, app, BASE_DOMAIN, tenant=None, national=True, scopes="national:read")
    assert codes(await _post(client, host, analyst, "{ complaints { edges { cursor } } }")) == ["FORBIDDEN"]


# --- every operation x every role ----------------------------------------------------------------

TENANT_ROLES = (Role.TENANT_ADMIN, Role.TRIAGE_OFFICER, Role.UNIT_OFFICER, Role.VIEWER)
NATIONAL = (Role.NATIONAL_ANALYST, Role.OMBUDSMAN)
CALLERS = ("anonymous", *TENANT_ROLES, *NATIONAL)
A, T, U, V, N, OM = (
    Role.TENANT_ADMIN, Role.TRIAGE_OFFICER, Role.UNIT_OFFICER, Role.VIEWER, Role.NATIONAL_ANALYST, Role.OMBUDSMAN,
)  # fmt: skip
"""Short names for the expected table below (OM: the Ombudsman)."""

# (name, host: "tenant" or "national", document, roles allowed). Written out by hand, not derived
# from ROLE_SCOPES, so a role given a scope it should not have is caught. Every role not allowed
# gets FORBIDDEN, the anonymous caller UNAUTHENTICATED (completeComplaint: the reporter's own
# operation, allowed to everyone holding the access code).
MATRIX = [
    ("complaints", "tenant", "{ complaints(first: 1) { edges { cursor } } }", {A, T, U, V, OM}),
    ("complaint", "tenant", "query($t: String!) { complaint(trackingId: $t) { trackingId } }", {A, T, U, V, OM}),
    ("node", "tenant", "query($id: ID!) { node(id: $id) { id } }", {A, T, U, V, OM}),
    # A unit officer may not list the ledger (it names every transferred tracking id).
    ("transfers", "tenant", "{ transfers(first: 5) { edges { cursor } } }", {A, T, V, OM}),
    ("routingRules", "tenant", "{ routingRules { id } }", {A, T, V}),
    ("stats", "tenant", "{ stats { received } }", {A, T, V}),
    ("reporter", "tenant", "query($t: String!) { complaint(trackingId: $t) { reporter { name } } }", {A}),
    ("verifyComplaint", "tenant", "mutation($t: String!) { verifyComplaint(input: {trackingId: $t}) "
     "{ errors { code } } }", {A, T}),
    ("assignComplaint", "tenant", "mutation($t: String!, $u: ID!) { assignComplaint(input: {trackingId: $t, "
     "unitId: $u}) { errors { code } } }", {A, T}),
    ("respondToComplaint", "tenant", 'mutation($t: String!) { respondToComplaint(input: {trackingId: $t, '
     'outcome: RESOLVED, message: "Selesai"}) { errors { code } } }', {A, U}),
    ("transferComplaint", "tenant", 'mutation($t: String!, $target: String!) { transferComplaint(input: '
     '{trackingId: $t, targetTenant: $target, kind: FORWARD, reason: "Bukan wewenang kami"}) '
     "{ errors { code } } }", {A, T}),
    ("completeComplaint", "tenant", 'mutation($t: String!, $code: String!) { completeComplaint(input: '
     '{trackingId: $t, accessCode: $code, information: "Foto terlampir"}) { errors { code } } }',
     {"anonymous", A, T, U, V, N, OM}),
    ("createRoutingRule", "tenant", 'mutation { createRoutingRule(input: {name: "Uji", action: SET_PRIORITY, '
     "priority: HIGH}) { errors { code } } }", {A}),
    ("updateRoutingRule", "tenant", 'mutation($r: ID!) { updateRoutingRule(input: {id: $r, name: "Diubah"}) '
     "{ errors { code } } }", {A}),
    ("reorderRoutingRules", "tenant", "mutation($rs: [ID!]!) { reorderRoutingRules(input: {ids: $rs}) "
     "{ errors { code } } }", {A}),
    ("deleteRoutingRule", "tenant", "mutation($r: ID!) { deleteRoutingRule(input: {id: $r}) "
     "{ errors { code } } }", {A}),
    ("createUnit", "tenant", 'mutation { createUnit(input: {code: "MTX", name: "Unit Matriks"}) '
     "{ errors { code } } }", {A}),
    ("createCategory", "tenant", 'mutation { createCategory(input: {code: "MTX", name: "Kategori Matriks"}) '
     "{ errors { code } } }", {A}),
    ("nationalStats", "national", "{ nationalStats(groupBy: KIND) { total { received } } }", {N, OM}),
    ("tenantRanking", "national", "{ tenantRanking(first: 5) { totalCount } }", {N, OM}),
    ("locateComplaint", "national", "query($t: String!) { locateComplaint(trackingId: $t) { trackingId } }",
     {N, OM}),
]  # fmt: skip


async def _in_unit(client, host: str, admin: str, unit_gid: str) -> dict:
    """A new complaint, verified and assigned to ``unit_gid``; its trackingId and accessCode."""
    sent = (await _post(client, host, None, SUBMIT))["data"]["submitComplaint"]
    for mutation in (
        "mutation($t: String!) { verifyComplaint(input: {trackingId: $t}) { errors { code } } }",
        "mutation($t: String!, $u: ID!) { assignComplaint(input: {trackingId: $t, unitId: $u}) { errors { code } } }",
    ):
        done = await _post(client, host, admin, mutation, t=sent["trackingId"], u=unit_gid)
        assert not codes(done) and not next(iter(done["data"].values()))["errors"], done
    return sent


def _outcome(body: dict) -> str:
    found = set(codes(body))
    for refusal in ("UNAUTHENTICATED", "FORBIDDEN"):
        if refusal in found:
            return refusal
    return "allowed"


async def test_role_matrix(world, db, make_regency, national):
    """Each operation as the public and as a staff member of each role, through the real login
    (authorization code with PKCE, the client asking for every scope: the role decides)."""
    app, client, tenant = world
    other = await make_regency()
    host = f"{tenant.slug}.{BASE_DOMAIN}"
    admin = await machine_token(
        db, app, host, tenant=tenant.slug,
        scopes="complaints:read complaints:triage units:write routing:write routing:read",
    )  # fmt: skip
    made = await _post(client, host, admin, 'mutation { createUnit(input: {code: "DLH", name: "DLH"}) '
                       "{ unit { id } } }")  # fmt: skip
    unit_gid = made["data"]["createUnit"]["unit"]["id"]
    from base64 import urlsafe_b64decode

    unit_id = int(urlsafe_b64decode(unit_gid + "==").decode().split(":")[1])
    rules = []
    for name in ("Aturan satu", "Aturan dua"):
        rule = await _post(client, host, admin, f'mutation {{ createRoutingRule(input: {{name: "{name}", '
                           'action: SET_PRIORITY, priority: HIGH}) { rule { id } } }')  # fmt: skip
        rules.append(rule["data"]["createRoutingRule"]["rule"]["id"])
    shared = await _in_unit(client, host, admin, unit_gid)
    tokens: dict[str, str | None] = {"anonymous": None}
    for role in TENANT_ROLES:
        tokens[role] = await user_token(
            db, app, client, host=host, tenant=tenant.slug, role=role, scopes=" ".join(sorted(_TENANT_SCOPES)),
            unit_id=unit_id if role is Role.UNIT_OFFICER else None,
        )  # fmt: skip
    for role in NATIONAL:
        tokens[role] = await user_token(
            db, app, client, host=BASE_DOMAIN, tenant=national.slug, role=role, national=True,
            scopes="national:read stats:read complaints:read",
        )  # fmt: skip

    seen: dict[tuple[str, str], str] = {}
    for name, where, document, _allowed in MATRIX:
        for caller in CALLERS:
            # Queries read one complaint in the officer's unit (so its fields are reached); each
            # mutation gets a fresh one, so a transfer or verify that succeeds changes nothing the
            # next caller meets.
            sent = (
                await _in_unit(client, host, admin, unit_gid) if document.startswith("mutation") else shared
            )
            gid = global_id("Complaint", sent["trackingId"])
            variables = {"t": sent["trackingId"], "code": sent["accessCode"], "u": unit_gid, "id": gid,
                         "target": other.slug, "r": rules[0], "rs": list(reversed(rules))}  # fmt: skip
            used = {k: v for k, v in variables.items() if f"${k}:" in document}
            body = await _post(
                client, host if where == "tenant" else BASE_DOMAIN, tokens[caller], document, **used
            )
            seen[(name, str(caller))] = _outcome(body)
    expected = {
        (name, str(caller)): (
            "allowed" if caller in allowed else "UNAUTHENTICATED" if caller == "anonymous" else "FORBIDDEN"
        )
        for name, _where, _document, allowed in MATRIX
        for caller in CALLERS
    }
    wrong = {key: (seen[key], want) for key, want in expected.items() if seen[key] != want}
    assert not wrong, "operation, caller -> (got, expected): " + "; ".join(
        f"{k[0]} as {k[1]} -> {v}" for k, v in sorted(wrong.items())
    )


_TENANT_SCOPES = ALL_SCOPES - {"national:read", "complaints:submit"}
