"""The domain read path (issue 10, part 1): ``ComplaintReads`` decides, GraphQL translates.

* Parity: for every role (the public, a reporter with its codes, viewer, triage, a unit officer
  of unit A, tenant admin, the Ombudsman, a national analyst, another tenant's token), each read
  surface answers through GraphQL exactly what the domain read path returns for the same caller
  (the actor taken from the same token by the same code): the same complaints, the same fields
  with the same values, the same refusals. The expected side is computed from domain calls only.
* Audits: every read audit row is written once per read, no more, no fewer.
* ``totalCount`` (capped), ``publicComplaint``, ``complaintCounts``, ``incidentDate``.

Real PostgreSQL, real tokens through the real OAuth endpoints, the real ASGI app.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from graphql import GraphQLEnumType, GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLScalarType
from sqlalchemy.ext.asyncio import AsyncConnection

from lapor.auth.bearer import actor_for, verify
from lapor.auth.roles import Role
from lapor.platform.errors import DomainError
from lapor.schema import schema
from lapor.schema.common import global_id
from lapor.tenants.actors import Actor
from lapor.tenants.complaints import reads as reads_module
from lapor.tenants.complaints.inputs import check_incident_date
from lapor.tenants.complaints.reads import ComplaintReads
from lapor.tenants.complaints.views import PublicComplaintView, StaffComplaintView, TrackingView
from lapor.tenants.context import tenant_transaction
from lapor.tenants.records import Tenant
from lapor.tenants.tables import audit_event, routing_rule
from tests.apps import running_app
from tests.conftest import BASE_DOMAIN
from tests.graphql_client import Gql, codes
from tests.oauth_helpers import machine_token, remember_app, user_token

T = TypeVar("T")
TENANT_SCOPES = (
    "complaints:read complaints:triage complaints:respond complaints:transfer reporters:read "
    "routing:read routing:write units:write stats:read tenant:admin"
)
GATEWAY_REF = "SMS-REF-000777"
PAST = dt.date.today() - dt.timedelta(days=10)


# --- the world: one tenant, two units, complaints in every audience-relevant state ------------------


@dataclass
class Sent:
    tracking_id: str
    access_code: str


@dataclass
class World:
    app: Any
    client: Any
    tenant: Tenant
    other: Tenant
    gql: Gql
    units: dict[str, str]
    sent: dict[str, Sent]
    tokens: dict[str, str | None]

    @property
    def host(self) -> str:
        return f"{self.tenant.slug}.{BASE_DOMAIN}"


SUBMIT = """
mutation($i: SubmitComplaintInput!) {
  submitComplaint(input: $i) { trackingId accessCode complaint { incidentDate } errors { field message code } }
}"""


def _input(title: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": title,
        "body": f"{title}: sudah lebih dari seminggu dan belum ada tindakan dari dinas terkait.",
        "categoryCode": "INFRASTRUKTUR",
        "reporter": {"name": "Agustina Kolo Rahasia", "phone": "+6281300000555", "email": "agustina@example.org"},
        **extra,
    }  # fmt: skip


async def _post(world_or_client: Any, host: str, token: str | None, query: str, **variables: Any) -> dict:
    client = getattr(world_or_client, "client", world_or_client)
    headers = {"host": host}
    if token:
        headers["authorization"] = f"Bearer {token}"
    response = await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    assert response.status_code == 200 and "Traceback" not in response.text, response.text
    return response.json()


async def _submit(gql: Gql, token: str | None, **fields_: Any) -> Sent:
    body = await _post(gql.client, gql.host, token, SUBMIT, i=_input(**fields_))
    assert not body.get("errors"), body
    payload = body["data"]["submitComplaint"]
    assert payload["errors"] == [], payload
    return Sent(payload["trackingId"], payload["accessCode"])


async def _staff(gql: Gql, mutation: str, input_type: str, **values: Any) -> None:
    data = await gql.ok(
        f"mutation($i: {input_type}!) {{ {mutation}(input: $i) {{ errors {{ code message }} }} }}",
        staff="Admin",
        i=values,
    )
    assert data[mutation]["errors"] == [], data


async def _unit(gql: Gql, code: str) -> str:
    data = await gql.ok(
        "mutation($i: CreateUnitInput!) { createUnit(input: $i) { unit { id } errors { code } } }",
        staff="Admin",
        i={"code": code, "name": f"Dinas {code}"},
    )
    return data["createUnit"]["unit"]["id"]


def _unit_db_id(global_unit_id: str) -> int:
    from base64 import urlsafe_b64decode

    return int(urlsafe_b64decode(global_unit_id + "==").decode().split(":")[1])


async def _build(app: Any, client: Any, db: Any, make_regency: Any, national: Tenant) -> World:
    tenant, other = await make_regency(), await make_regency()
    gql = Gql(client, tenant.slug)
    host = f"{tenant.slug}.{BASE_DOMAIN}"
    units = {"A": await _unit(gql, "DINAS-A"), "B": await _unit(gql, "DINAS-B")}
    gateway = await machine_token(db, app, host, tenant=tenant.slug, scopes="complaints:submit")
    rule = await gql.ok('mutation { createRoutingRule(input: {name: "Aturan uji", action: SET_PRIORITY, '
                        "priority: HIGH}) { errors { code } } }", staff="Admin")  # fmt: skip
    assert rule["createRoutingRule"]["errors"] == []  # proposed (not applied) to every complaint
    sent = {
        "named_a": await _submit(gql, None, title="Jalan berlubang di Oesapa", incidentDate=PAST.isoformat(),
                                 attachments=[{"fileName": "foto.jpg", "contentType": "image/jpeg",
                                               "sizeBytes": 1234, "sha256": "a" * 64}]),
        "anonymous_b": await _submit(gql, None, title="Pungli di kantor kelurahan", anonymous=True),
        "confidential_a": await _submit(gql, None, title="Pengadaan yang janggal", confidential=True),
        "submitted": await _submit(gql, None, title="Lampu jalan mati", incidentDate=PAST.isoformat()),
        "archived": await _submit(gql, None, title="Iklan obat kuat murah"),
        "gateway_a": await _submit(gql, gateway, title="Air PDAM tidak mengalir", channel="SMS",
                                   externalRef=GATEWAY_REF),
        "closed_a": await _submit(gql, None, title="Sampah menumpuk di pasar"),
    }  # fmt: skip
    for name, unit_key in (("named_a", "A"), ("anonymous_b", "B"), ("confidential_a", "A"),
                           ("gateway_a", "A"), ("closed_a", "A")):  # fmt: skip
        tid = sent[name].tracking_id
        await _staff(gql, "verifyComplaint", "VerifyComplaintInput", trackingId=tid)
        await _staff(gql, "assignComplaint", "AssignComplaintInput", trackingId=tid, unitId=units[unit_key])
    for name in ("named_a", "closed_a"):
        await _staff(gql, "respondToComplaint", "RespondToComplaintInput", trackingId=sent[name].tracking_id,
                     outcome="RESOLVED", message="Sudah ditangani.")  # fmt: skip
    closed = sent["closed_a"]
    for mutation, input_type, extra in (("acceptResponse", "AcceptResponseInput", {}),
                                        ("rateComplaint", "RateComplaintInput", {"rating": 4})):  # fmt: skip
        done = await gql.ok(
            f"mutation($i: {input_type}!) {{ {mutation}(input: $i) {{ errors {{ code }} }} }}",
            i={"trackingId": closed.tracking_id, "accessCode": closed.access_code, **extra},
        )
        assert done[mutation]["errors"] == [], done
    await _staff(gql, "archiveComplaint", "ArchiveComplaintInput", trackingId=sent["archived"].tracking_id,
                 reason="Spam")  # fmt: skip

    tokens: dict[str, str | None] = {"anonymous": None, "reporter": None}
    for name, role in (("viewer", Role.VIEWER), ("triage", Role.TRIAGE_OFFICER), ("admin", Role.TENANT_ADMIN),
                       ("unit_a", Role.UNIT_OFFICER)):  # fmt: skip
        tokens[name] = await user_token(
            db, app, client, host=host, tenant=tenant.slug, role=role, scopes=TENANT_SCOPES,
            unit_id=_unit_db_id(units["A"]) if role is Role.UNIT_OFFICER else None,
        )  # fmt: skip
    for name, role in (("ombudsman", Role.OMBUDSMAN), ("analyst", Role.NATIONAL_ANALYST)):
        tokens[name] = await user_token(
            db, app, client, host=BASE_DOMAIN, tenant=national.slug, role=role, national=True,
            scopes="national:read stats:read complaints:read",
        )  # fmt: skip
    other_host = f"{other.slug}.{BASE_DOMAIN}"
    tokens["other_tenant"] = await machine_token(db, app, other_host, tenant=other.slug, scopes=TENANT_SCOPES)
    return World(app, client, tenant, other, gql, units, sent, tokens)


@pytest.fixture
async def app_client(settings, db):
    async with running_app(settings) as (app, client):
        remember_app(client, app, db)
        yield app, client


# --- the domain side: the same actor from the same token, the read path over a transaction of its own


class OwnTransaction:
    """A ``reads.Transaction`` that is not the GraphQL request's: each read in a tenant
    transaction of its own (what a page render could use)."""

    def __init__(self, db: Any, tenant: Tenant) -> None:
        self.db, self.tenant = db, tenant

    async def run(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        async with tenant_transaction(self.db, self.tenant) as conn:
            return await work(conn)


def _reads(world: World) -> ComplaintReads:
    services = world.app.state.services
    return ComplaintReads(
        OwnTransaction(services.db, world.tenant), world.tenant, services.secrets, services.transfers
    )


async def _actor(world: World, token: str | None) -> Actor | None:
    """What the API makes of the bearer token (the same verification and audience check)."""
    if token is None:
        return None
    services = world.app.state.services
    claims = await verify(token, services.keys, services.revocations, services.oauth.issuers)
    return actor_for(claims, world.tenant)


Refused = tuple[str, str]
"""``("error", code)``: a read refused, in either path."""


async def _domain(call: Callable[[], Awaitable[T]]) -> T | Refused:
    try:
        return await call()
    except DomainError as error:
        return ("error", error.code)


def _json(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_json(v) for v in value]
    return value


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _scalar_fields(type_name: str) -> set[str]:
    graphql_type = schema._schema.get_type(type_name)
    assert isinstance(graphql_type, GraphQLObjectType)
    found = set()
    for name, field in graphql_type.fields.items():
        inner = field.type
        while isinstance(inner, GraphQLNonNull | GraphQLList):
            inner = inner.of_type
        if isinstance(inner, GraphQLScalarType | GraphQLEnumType):
            found.add(name)
    return found


def _view_fields(view_type: type, internal: set[str]) -> dict[str, str]:
    return {f.name: _camel(f.name) for f in fields(view_type) if f.name not in internal}


STAFF_INTERNAL = {"id", "unit_id", "category_id", "proposed_rule_id", "reporter_key"}
PUBLIC_INTERNAL = {"unit_id", "category_id"}
TRACKING_INTERNAL = {"id", "holder", "timeline"}
STAFF_DERIVED = {"id", "proposedRuleName"}
TRACKING_DERIVED = {"currentTenant"}


def test_every_scalar_field_of_each_type_comes_from_its_view() -> None:
    """A field added to a GraphQL type without its view would be reachable without the domain
    deciding about it: each type's scalar fields are exactly its view's (plus derived ids)."""
    staff = set(_view_fields(StaffComplaintView, STAFF_INTERNAL).values())
    assert _scalar_fields("Complaint") == staff | STAFF_DERIVED
    assert _scalar_fields("PublicComplaint") == set(
        _view_fields(PublicComplaintView, PUBLIC_INTERNAL).values()
    )
    tracked = set(_view_fields(TrackingView, TRACKING_INTERNAL).values())
    assert _scalar_fields("TrackedComplaint") == tracked | TRACKING_DERIVED
    assert not {"reporter", "location", "externalRef"} & set(
        schema._schema.get_type("PublicComplaint").fields
    )
    assert "reporter" not in schema._schema.get_type("TrackedComplaint").fields


STAFF = " ".join(sorted(_camel(n) for n in _view_fields(StaffComplaintView, STAFF_INTERNAL))) + (
    " id proposedRuleName unit { id } category { id } lastEvent { action actorName }"
    " timeline { at actorKind actorName action fromStatus toStatus note unit { id } }"
    " attachments { fileName contentType sizeBytes sha256 }"
)
PUBLIC = " ".join(sorted(_camel(n) for n in _view_fields(PublicComplaintView, PUBLIC_INTERNAL))) + (
    " unit { id } category { id }"
)
TRACKED = " ".join(sorted(_camel(n) for n in _view_fields(TrackingView, TRACKING_INTERNAL))) + (
    " currentTenant timeline { at action fromStatus toStatus note unitName }"
)


def _ref(kind: str, key: int | None) -> dict[str, str] | None:
    return {"id": global_id(kind, key)} if key is not None else None


async def _staff_expected(reads: ComplaintReads, view: StaffComplaintView) -> dict[str, Any]:
    """The node a staff view becomes, computed from domain reads only."""
    timeline = (await reads.timelines([view.id])).get(view.id, ())
    last = (await reads.last_events([view.id])).get(view.id)
    files = (await reads.attachments([view.id])).get(view.id, ())
    rule_name = None
    if view.proposed_rule_id is not None:

        async def rule(conn: AsyncConnection) -> str | None:
            return await conn.scalar(
                sa.select(routing_rule.c.name).where(routing_rule.c.id == view.proposed_rule_id)
            )

        rule_name = await reads.db.run(rule)
    node = {
        camel: _json(getattr(view, name))
        for name, camel in _view_fields(StaffComplaintView, STAFF_INTERNAL).items()
    }
    node.update(
        id=global_id("Complaint", view.tracking_id), proposedRuleName=rule_name,
        unit=_ref("Unit", view.unit_id), category=_ref("Category", view.category_id),
        lastEvent={"action": last.action, "actorName": last.actor_name} if last else None,
        timeline=[{"at": _json(e.at), "actorKind": _json(e.actor_kind), "actorName": e.actor_name, "action": e.action,
                   "fromStatus": _json(e.from_status), "toStatus": _json(e.to_status), "note": e.note,
                   "unit": _ref("Unit", e.unit_id)} for e in timeline],
        attachments=[{"fileName": a.file_name, "contentType": a.content_type, "sizeBytes": a.size_bytes,
                      "sha256": a.sha256} for a in files],
    )  # fmt: skip
    return node


def _public_expected(view: PublicComplaintView) -> dict[str, Any]:
    node = {camel: _json(getattr(view, name)) for name, camel in _view_fields(PublicComplaintView, PUBLIC_INTERNAL).items()}  # fmt: skip
    node.update(unit=_ref("Unit", view.unit_id), category=_ref("Category", view.category_id))
    return node


async def _tracked_expected(reads: ComplaintReads, view: TrackingView, host: Tenant) -> dict[str, Any]:
    node = {camel: _json(getattr(view, name)) for name, camel in _view_fields(TrackingView, TRACKING_INTERNAL).items()}  # fmt: skip
    events = await reads.tracking_timeline(view)
    node.update(
        currentTenant=view.holder or host.slug,
        timeline=[{"at": _json(e.at), "action": e.action, "fromStatus": _json(e.from_status),
                   "toStatus": _json(e.to_status), "note": e.note, "unitName": e.unit_name} for e in events],
    )  # fmt: skip
    return node


def _by_root(body: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """Each root field's answer: its data, or ``("error", code)`` when an error has its path."""
    errors: dict[str, set[str]] = {}
    for error in body.get("errors") or []:
        assert error.get("path"), body  # a document-level refusal would hide every answer
        errors.setdefault(error["path"][0], set()).add(error["extensions"]["code"])
    out: dict[str, Any] = {}
    for key in keys:
        if key in errors and len(errors[key]) == 1 and (body.get("data") or {}).get(key) is None:
            out[key] = ("error", next(iter(errors[key])))
        else:
            assert key not in errors, (key, body)
            out[key] = (body.get("data") or {})[key]
    return out


async def _role_answers(world: World, role: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(GraphQL, domain) answers of every read surface for ``role``, keyed alike."""
    token = world.tokens[role]
    reads = _reads(world)
    try:
        actor: Actor | Refused | None = await _actor(world, token)
    except DomainError as error:  # the token is refused: every staff read is refused alike
        actor = ("error", error.code)

    async def staff_call(make: Callable[[Actor | None], Awaitable[T]]) -> T | Refused:
        if isinstance(actor, tuple):
            return actor
        return await _domain(lambda: make(actor))

    names = sorted(world.sent)
    got: dict[str, Any] = {}
    want: dict[str, Any] = {}

    # The staff list with its total, and the queue's counts.
    listed = await _post(world, world.host, token, f"{{ complaints(first: 50) {{ totalCount totalCountCapped "
                         f"edges {{ node {{ {STAFF} }} }} }} }}")  # fmt: skip
    queue = await _post(
        world, world.host, token, "{ complaintCounts { total capped byStatus { status count capped } } }"
    )
    got["list"] = _by_root(listed, ["complaints"])["complaints"]
    if isinstance(got["list"], dict):
        got["list"] = {"totalCount": got["list"]["totalCount"], "totalCountCapped": got["list"]["totalCountCapped"],
                       "nodes": {e["node"]["trackingId"]: e["node"] for e in got["list"]["edges"]}}  # fmt: skip
    page = await staff_call(lambda a: reads.list(a, first=50, with_total=True))
    if isinstance(page, tuple):
        want["list"] = page
    else:
        assert page.total is not None
        want["list"] = {"totalCount": page.total.count, "totalCountCapped": page.total.capped,
                        "nodes": {v.tracking_id: await _staff_expected(reads, v) for v in page.items}}  # fmt: skip
    got["counts"] = _by_root(queue, ["complaintCounts"])["complaintCounts"]
    counts = await staff_call(lambda a: reads.counts(a))
    want["counts"] = counts if isinstance(counts, tuple) else {
        "total": counts.total, "capped": counts.capped,
        "byStatus": [{"status": s.status.value, "count": s.count, "capped": s.capped} for s in counts.by_status],
    }  # fmt: skip

    # Each complaint by tracking id and by global id.
    aliases = []
    for i, name in enumerate(names):
        tid = world.sent[name].tracking_id
        aliases.append(f'c{i}: complaint(trackingId: "{tid.lower()}") {{ {STAFF} }}')
        aliases.append(
            f'n{i}: node(id: "{global_id("Complaint", tid)}") {{ ... on Complaint {{ {STAFF} }} }}'
        )
    one = _by_root(await _post(world, world.host, token, "{ " + " ".join(aliases) + " }"),
                   [f"{k}{i}" for i in range(len(names)) for k in "cn"])  # fmt: skip
    for i, name in enumerate(names):
        tid = world.sent[name].tracking_id
        got[f"get {name}"], got[f"node {name}"] = one[f"c{i}"], one[f"n{i}"]
        view = await staff_call(lambda a, t=tid: reads.get(a, t.lower()))
        node = await staff_call(lambda a, t=tid: reads.get(a, t, subject="object"))
        want[f"get {name}"] = (
            view if isinstance(view, tuple) or view is None else await _staff_expected(reads, view)
        )
        want[f"node {name}"] = (
            node if isinstance(node, tuple) or node is None else await _staff_expected(reads, node)
        )

    # Reporter identities, through the list (a refusal is one FORBIDDEN per complaint).
    identities = await _post(world, world.host, token,
                             "{ complaints(first: 50) { edges { node { trackingId reporter { name contact } } } } }")  # fmt: skip
    found = set(codes(identities))
    if found:
        got["reporters"] = ("error", found.pop()) if len(found) == 1 else sorted(found)
    else:
        got["reporters"] = {e["node"]["trackingId"]: e["node"]["reporter"]
                            for e in identities["data"]["complaints"]["edges"]}  # fmt: skip

    async def reporter_map(a: Actor | None) -> dict[str, Any]:
        items = (await reads.list(a, first=50)).items
        revealed = await reads.reporters(a, items)
        return {v.tracking_id: ({"name": revealed[v.reporter_key].name, "contact": revealed[v.reporter_key].contact}
                                if v.reporter_key in revealed else None) for v in items}  # fmt: skip

    want["reporters"] = await staff_call(reporter_map)

    # The public feed with its total, and each complaint as a public one.
    aliases = [
        f"feed: publicComplaints(first: 50) {{ totalCount totalCountCapped edges {{ node {{ {PUBLIC} }} }} }}"
    ]
    aliases += [f'p{i}: publicComplaint(trackingId: "{world.sent[n].tracking_id}") {{ {PUBLIC} }}'
                for i, n in enumerate(names)]  # fmt: skip
    public = _by_root(await _post(world, world.host, token, "{ " + " ".join(aliases) + " }"),
                      ["feed"] + [f"p{i}" for i in range(len(names))])  # fmt: skip
    feed = public["feed"]
    got["feed"] = {"totalCount": feed["totalCount"], "totalCountCapped": feed["totalCountCapped"],
                   "nodes": [e["node"] for e in feed["edges"]]}  # fmt: skip
    wanted_feed = await reads.public_feed(first=50, with_total=True)
    assert wanted_feed.total is not None
    want["feed"] = {"totalCount": wanted_feed.total.count, "totalCountCapped": wanted_feed.total.capped,
                    "nodes": [_public_expected(v) for v in wanted_feed.items]}  # fmt: skip
    for i, name in enumerate(names):
        got[f"public {name}"] = public[f"p{i}"]
        shown = await reads.public_complaint(world.sent[name].tracking_id)
        want[f"public {name}"] = _public_expected(shown) if shown else None

    # Tracking: with the codes (the reporter), or with a wrong one (everyone else).
    for name in names:
        sent = world.sent[name]
        code = sent.access_code if role == "reporter" else "SALAH-0000-0000"
        body = await _post(world, world.host, token,
                           f'{{ t: trackComplaint(trackingId: "{sent.tracking_id}", accessCode: "{code}") {{ {TRACKED} }} }}')  # fmt: skip
        got[f"track {name}"] = ("error", codes(body)[0]) if body.get("errors") else body["data"]["t"]
        tracked = await _domain(lambda s=sent, c=code: reads.track(s.tracking_id, c))
        want[f"track {name}"] = (
            tracked if isinstance(tracked, tuple) else await _tracked_expected(reads, tracked, world.tenant)
        )
    return got, want


ROLES = (
    "anonymous",
    "reporter",
    "viewer",
    "triage",
    "unit_a",
    "admin",
    "ombudsman",
    "analyst",
    "other_tenant",
)


async def test_every_role_reaches_through_graphql_exactly_what_the_domain_read_path_allows(
    app_client, db, make_regency, national
):
    app, client = app_client
    world = await _build(app, client, db, make_regency, national)
    seen: dict[str, dict[str, Any]] = {}
    for role in ROLES:
        got, want = await _role_answers(world, role)
        assert got.keys() == want.keys()
        wrong = {key: (got[key], want[key]) for key in want if got[key] != want[key]}
        assert not wrong, f"{role}: surfaces where GraphQL and the domain differ: {sorted(wrong)}\n{wrong}"
        seen[role] = got

    # The expectation is not empty or trivially equal: each audience sees what it should.
    def staff_ids(role: str) -> set[str]:
        answer = seen[role]["list"]
        return set(answer["nodes"]) if isinstance(answer, dict) else set()

    every = {s.tracking_id for s in world.sent.values()}
    in_unit_a = {world.sent[n].tracking_id for n in ("named_a", "confidential_a", "gateway_a", "closed_a")}
    for role in ("viewer", "triage", "admin", "ombudsman"):
        assert staff_ids(role) == every, role
    assert staff_ids("unit_a") == in_unit_a
    for role, code in (("anonymous", "UNAUTHENTICATED"), ("reporter", "UNAUTHENTICATED"),
                       ("analyst", "FORBIDDEN"), ("other_tenant", "FORBIDDEN")):  # fmt: skip
        assert seen[role]["list"] == ("error", code), role
    gateway = world.sent["gateway_a"].tracking_id
    assert seen["admin"]["list"]["nodes"][gateway]["externalRef"] == GATEWAY_REF
    for role in ("viewer", "triage", "unit_a", "ombudsman"):
        assert seen[role]["list"]["nodes"][gateway]["externalRef"] is None, role
    revealed = seen["admin"]["reporters"]
    assert revealed[world.sent["named_a"].tracking_id] == {
        "name": "Agustina Kolo Rahasia",
        "contact": "+6281300000555, agustina@example.org",
    }
    assert revealed[world.sent["anonymous_b"].tracking_id] is None
    for role in ("viewer", "triage", "unit_a", "ombudsman"):
        assert seen[role]["reporters"] == ("error", "FORBIDDEN"), role
    public = {node["trackingId"] for node in seen["anonymous"]["feed"]["nodes"]}
    assert public == {world.sent[n].tracking_id for n in ("named_a", "anonymous_b", "gateway_a", "closed_a")}
    for role in ROLES:
        assert seen[role]["feed"] == seen["anonymous"]["feed"], role  # a token changes nothing there
    assert seen["reporter"]["track named_a"]["incidentDate"] == PAST.isoformat()
    assert seen["unit_a"]["get named_a"]["incidentDate"] == PAST.isoformat()
    assert seen["unit_a"]["get anonymous_b"] is None
    assert seen["viewer"]["get named_a"]["proposedRuleName"] == "Aturan uji"
    assert seen["anonymous"]["track named_a"] == ("error", "NOT_FOUND")


# --- audits: once per read ---------------------------------------------------------------------------


async def _audits(world: World, action: str) -> list[sa.Row]:
    async with tenant_transaction(world.app.state.services.db, world.tenant) as conn:
        return list(
            await conn.execute(
                sa.select(audit_event).where(audit_event.c.action == action).order_by(audit_event.c.id)
            )
        )


async def test_every_read_audit_is_written_once_per_read(app_client, db, make_regency, national):
    app, client = app_client
    world = await _build(app, client, db, make_regency, national)
    ombudsman, admin = world.tokens["ombudsman"], world.tokens["admin"]
    named = world.sent["named_a"].tracking_id

    answers: list[dict[str, Any]] = []

    async def rows_after(action: str, token: str | None, query: str) -> list[sa.Row]:
        before = len(await _audits(world, action))
        body = await _post(world, world.host, token, query)
        assert not body.get("errors"), body
        answers.append(body["data"])
        return (await _audits(world, action))[before:]

    # The Ombudsman's list: one row per complaint returned, whether asked through edges, nodes or both.
    listed = await rows_after("complaint.read", ombudsman,
                              "{ complaints(first: 3) { nodes { trackingId } edges { node { title } } } }")  # fmt: skip
    returned = [node["trackingId"] for node in answers[-1]["complaints"]["nodes"]]
    assert len(listed) == 3 and sorted(r.details["tracking_id"] for r in listed) == sorted(returned)
    assert len({r.entity_id for r in listed}) == 3
    assert all(r.actor == "Staf Uji" and r.details["subject"].startswith("user:") for r in listed), listed
    # One complaint by tracking id and the same by global id: two reads, two rows, each once.
    both = await rows_after("complaint.read", ombudsman,
                            f'{{ complaint(trackingId: "{named}") {{ title body }} '
                            f'node(id: "{global_id("Complaint", named)}") {{ id }} }}')  # fmt: skip
    assert [r.details["tracking_id"] for r in both] == [named, named]
    # A count is a read: one row for totalCount and totalCountCapped together, one for the queue's.
    counted = await rows_after(
        "complaint.count",
        ombudsman,
        "{ complaints(first: 0) { totalCount totalCountCapped } complaintCounts { total } }",
    )
    assert sorted(r.details["count"] for r in counted) == ["by_status", "list"]
    listed_count = next(r for r in counted if r.details["count"] == "list")
    assert (listed_count.details["total"], listed_count.details["capped"]) == (len(world.sent), False)
    # An unknown id and another unit's complaint are not reads of anything: no row.
    assert (
        await rows_after("complaint.read", ombudsman, '{ complaint(trackingId: "TIDAK-ADA-1") { id } }') == []
    )
    # Staff of the tenant are not audited per read (their reads are their work) ...
    assert await rows_after("complaint.read", admin, "{ complaints(first: 50) { nodes { title } } }") == []
    assert await rows_after("complaint.count", admin, "{ complaintCounts { total } }") == []
    # ... but every identity revealed is: once per identity per request, however often it is asked.
    reveal = (f'{{ complaint(trackingId: "{named}") {{ reporter {{ name }} }} '
              f'node(id: "{global_id("Complaint", named)}") {{ ... on Complaint {{ reporter {{ contact }} }} }} '
              "complaints(first: 50) { nodes { reporter { name } } } }")  # fmt: skip
    revealed = await rows_after("reporter.read", admin, reveal)
    named_ids = {world.sent[n].tracking_id for n in ("named_a", "confidential_a", "submitted", "archived",
                                                     "gateway_a", "closed_a")}  # fmt: skip
    assert len(revealed) == len({r.entity_id for r in revealed}) == 6
    async with tenant_transaction(db, world.tenant) as conn:
        reporters = dict((await conn.execute(sa.text(
            "SELECT tracking_id, reporter_id FROM complaint WHERE reporter_id IS NOT NULL"))).all())  # fmt: skip
    assert {r.entity_id for r in revealed} == {reporters[t] for t in named_ids if t in reporters}
    assert all(r.entity == "reporter" and r.actor for r in revealed)
    # The anonymous complaint's reporter is never revealed, so never audited.
    anonymous = world.sent["anonymous_b"].tracking_id
    assert await rows_after("reporter.read", admin,
                            f'{{ complaint(trackingId: "{anonymous}") {{ reporter {{ name }} }} }}') == []  # fmt: skip
    # Without reporters:read there is nothing revealed and nothing written.
    before = len(await _audits(world, "reporter.read"))
    refused = await _post(world, world.host, world.tokens["viewer"],
                          f'{{ complaint(trackingId: "{named}") {{ reporter {{ name }} }} }}')  # fmt: skip
    assert codes(refused) == ["FORBIDDEN"] and len(await _audits(world, "reporter.read")) == before


# --- totalCount, publicComplaint, complaintCounts ---------------------------------------------------


async def test_total_count_counts_the_filtered_match_in_sql_and_is_capped(app_client, db, make_regency, national,
                                                                          monkeypatch):  # fmt: skip
    app, client = app_client
    world = await _build(app, client, db, make_regency, national)
    admin, unit_a = world.tokens["admin"], world.tokens["unit_a"]
    query = ("query($f: ComplaintFilter, $n: Int) { complaints(filter: $f, first: $n) "
             "{ totalCount totalCountCapped edges { cursor } } }")  # fmt: skip

    async def total(token: str | None, **variables: Any) -> tuple[int, bool, int]:
        body = await _post(world, world.host, token, query, **variables)
        assert not body.get("errors"), body
        found = body["data"]["complaints"]
        return found["totalCount"], found["totalCountCapped"], len(found["edges"])

    assert await total(admin, n=2) == (7, False, 2)  # the count is of all pages, not of this one
    assert await total(admin, f={"status": ["IN_PROGRESS"]}, n=50) == (3, False, 3)
    assert await total(admin, f={"search": "PDAM"}, n=50) == (1, False, 1)
    assert await total(unit_a, n=50) == (4, False, 4)  # the unit officer's own unit only
    assert await total(unit_a, f={"unitId": [world.units["B"]]}, n=50) == (0, False, 0)
    public = "{ publicComplaints(first: 1) { totalCount totalCountCapped edges { cursor } } }"
    feed = (await _post(world, world.host, None, public))["data"]["publicComplaints"]
    assert (feed["totalCount"], feed["totalCountCapped"], len(feed["edges"])) == (4, False, 1)
    # Past the cap, the count stops and says so (the same LIMIT applies at 10,000).
    monkeypatch.setattr(reads_module, "COUNT_CAP", 3)
    assert await total(admin, n=1) == (3, True, 1)
    assert await total(admin, f={"status": ["IN_PROGRESS"]}, n=1) == (3, False, 1)
    feed = (await _post(world, world.host, None, public))["data"]["publicComplaints"]
    assert (feed["totalCount"], feed["totalCountCapped"]) == (3, True)
    counts = await _post(
        world, world.host, admin, "{ complaintCounts { total capped byStatus { status count capped } } }"
    )
    assert counts["data"]["complaintCounts"]["capped"] is False  # no status has more than 3 here
    assert codes(await _post(world, world.host, None, "{ complaints { totalCount } }")) == ["UNAUTHENTICATED"]


async def test_public_complaint_shows_only_what_the_public_feed_shows(app_client, db, make_regency, national):
    app, client = app_client
    world = await _build(app, client, db, make_regency, national)
    query = ("query($t: String!) { publicComplaint(trackingId: $t) { trackingId status title body regionCode "
             "submittedAt outcome supportCount kind unit { name } category { code } } }")  # fmt: skip
    for name, shown in (("named_a", True), ("anonymous_b", True), ("gateway_a", True), ("closed_a", True),
                        ("confidential_a", False), ("submitted", False), ("archived", False)):  # fmt: skip
        tid = world.sent[name].tracking_id
        for token in (None, world.tokens["other_tenant"], "not-a-token", world.tokens["admin"]):
            body = await _post(world, world.host, token, query, t=f"  {tid.lower()} ")
            assert not body.get("errors"), (name, body)
            found = body["data"]["publicComplaint"]
            assert (found is not None) is shown, (name, token, found)
            if shown:
                assert found["trackingId"] == tid and "Agustina" not in str(found)
    named = (await _post(world, world.host, None, query, t=world.sent["named_a"].tracking_id))["data"]
    assert named["publicComplaint"]["unit"] == {"name": "Dinas DINAS-A"}
    assert named["publicComplaint"]["status"] == "RESPONDED"
    unknown = await _post(world, world.host, None, query, t="TIDAK-2612-000001")
    assert unknown == {"data": {"publicComplaint": None}}
    # Another tenant's host does not know it at all.
    elsewhere = await _post(world, f"{world.other.slug}.{BASE_DOMAIN}", None, query,
                            t=world.sent["named_a"].tracking_id)  # fmt: skip
    assert elsewhere == {"data": {"publicComplaint": None}}


COUNTS = "query($f: ComplaintFilter) { complaintCounts(filter: $f) { total capped byStatus { status count capped } } }"


async def test_complaint_counts_per_status_confined_to_the_unit(app_client, db, make_regency, national):
    app, client = app_client
    world = await _build(app, client, db, make_regency, national)

    async def counts(role: str, **variables: Any) -> dict[str, Any]:
        body = await _post(world, world.host, world.tokens[role], COUNTS, **variables)
        assert not body.get("errors"), body
        answer = body["data"]["complaintCounts"]
        assert answer["capped"] is False and not any(s["capped"] for s in answer["byStatus"])
        return {"total": answer["total"], **{s["status"]: s["count"] for s in answer["byStatus"]}}

    everything = {"total": 7, "SUBMITTED": 1, "NEEDS_INFO": 0, "VERIFIED": 0, "IN_PROGRESS": 3, "RESPONDED": 1,
                  "CLOSED": 1, "ARCHIVED": 1, "TRANSFERRED": 0}  # fmt: skip
    assert await counts("admin") == everything
    assert await counts("viewer") == everything
    assert await counts("ombudsman") == everything
    assert await counts("unit_a") == {"total": 4, "SUBMITTED": 0, "NEEDS_INFO": 0, "VERIFIED": 0, "IN_PROGRESS": 2,
                                      "RESPONDED": 1, "CLOSED": 1, "ARCHIVED": 0, "TRANSFERRED": 0}  # fmt: skip
    # filter.status picks the tabs; the rest of the filter narrows every tab.
    assert await counts("admin", f={"status": ["IN_PROGRESS", "CLOSED"]}) == {
        "total": 4,
        "IN_PROGRESS": 3,
        "CLOSED": 1,
    }
    # A status asked for twice is one tab, counted once (the fuzz test found a 500 here).
    assert await counts("admin", f={"status": ["IN_PROGRESS", "IN_PROGRESS", "CLOSED"]}) == {
        "total": 4,
        "IN_PROGRESS": 3,
        "CLOSED": 1,
    }
    assert await counts("admin", f={"status": ["IN_PROGRESS"], "unitId": [world.units["B"]]}) == {
        "total": 1, "IN_PROGRESS": 1,
    }  # fmt: skip
    assert await counts("admin", f={"channel": ["SMS"]}) == {
        **{k: 0 for k in everything},
        "total": 1,
        "IN_PROGRESS": 1,
    }
    for role, code in (
        ("anonymous", "UNAUTHENTICATED"),
        ("analyst", "FORBIDDEN"),
        ("other_tenant", "FORBIDDEN"),
    ):
        assert codes(await _post(world, world.host, world.tokens[role], COUNTS)) == [code], role


# --- the incident date ------------------------------------------------------------------------------


async def test_incident_date_is_stored_shown_to_staff_and_reporter_and_never_in_the_future(
    app_client, db, make_regency
):
    _app, client = app_client
    tenant = await make_regency()
    gql = Gql(client, tenant.slug)
    body = await gql.ok(SUBMIT, i=_input("Jembatan putus di Noemuti", incidentDate=PAST.isoformat()))
    sent = body["submitComplaint"]
    assert sent["errors"] == [] and sent["complaint"] == {"incidentDate": PAST.isoformat()}
    staff = await gql.ok("query($t: String!) { complaint(trackingId: $t) { incidentDate } }", staff="Admin",
                         t=sent["trackingId"])  # fmt: skip
    assert staff["complaint"]["incidentDate"] == PAST.isoformat()
    tracked = await gql.ok("query($t: String!, $c: String!) { trackComplaint(trackingId: $t, accessCode: $c) "
                           "{ incidentDate } }", t=sent["trackingId"], c=sent["accessCode"])  # fmt: skip
    assert tracked["trackComplaint"]["incidentDate"] == PAST.isoformat()
    without = (await gql.ok(SUBMIT, i=_input("Tanpa tanggal kejadian")))["submitComplaint"]
    assert without["errors"] == [] and without["complaint"] == {"incidentDate": None}

    future = dt.date.today() + dt.timedelta(days=2)
    refused = await gql.ok(SUBMIT, i=_input("Kejadian besok lusa", incidentDate=future.isoformat()))
    payload = refused["submitComplaint"]
    assert payload["trackingId"] is None and len(payload["errors"]) == 1
    error = payload["errors"][0]
    assert (error["field"], error["code"]) == ("incidentDate", "INVALID_INPUT")
    assert error["message"].startswith("Tanggal kejadian tidak boleh di masa depan")
    assert "(The incident date must not be in the future" in error["message"]
    listed = await gql.ok("{ complaints(first: 50) { nodes { title } } }", staff="Admin")
    assert "Kejadian besok lusa" not in str(listed)


def test_the_incident_date_limit_is_today_where_the_tenant_is() -> None:
    """16:30 UTC on 14 March is already 15 March in Jayapura (WIT) but still 14 March in Jakarta."""
    now = dt.datetime(2026, 3, 14, 16, 30, tzinfo=dt.UTC)
    check_incident_date(dt.date(2026, 3, 15), "Asia/Jayapura", now)
    check_incident_date(dt.date(2026, 3, 14), "Asia/Jakarta", now)
    check_incident_date(None, "Asia/Jakarta", now)
    with pytest.raises(DomainError) as refused:
        check_incident_date(dt.date(2026, 3, 15), "Asia/Jakarta", now)
    assert (refused.value.code, refused.value.field) == ("INVALID_INPUT", "incidentDate")
    assert "2026-03-14" in refused.value.message


async def test_the_incident_date_travels_with_a_transfer(app_client, db, make_regency):
    _app, client = app_client
    source, target = await make_regency(), await make_regency()
    on_source, on_target = Gql(client, source.slug), Gql(client, target.slug)
    sent = (await on_source.ok(SUBMIT, i=_input("Banjir di Desa Oelnasi", incidentDate=PAST.isoformat())))[
        "submitComplaint"
    ]
    moved = await on_source.ok(
        "mutation($i: TransferComplaintInput!) { transferComplaint(input: $i) { errors { code } } }",
        staff="Admin",
        i={"trackingId": sent["trackingId"], "targetTenant": target.slug, "kind": "FORWARD",
           "reason": "Bukan wewenang kabupaten ini"},
    )  # fmt: skip
    assert moved["transferComplaint"]["errors"] == []
    there = await on_target.ok("query($t: String!) { complaint(trackingId: $t) { incidentDate channel } }",
                               staff="Admin", t=sent["trackingId"])  # fmt: skip
    assert there["complaint"] == {"incidentDate": PAST.isoformat(), "channel": "TRANSFER"}
    tracked = await on_source.ok("query($t: String!, $c: String!) { trackComplaint(trackingId: $t, accessCode: $c) "
                                 "{ incidentDate currentTenant } }", t=sent["trackingId"], c=sent["accessCode"])  # fmt: skip
    assert tracked["trackComplaint"] == {"incidentDate": PAST.isoformat(), "currentTenant": target.slug}
