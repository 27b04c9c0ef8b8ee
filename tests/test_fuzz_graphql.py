"""GraphQL fuzzing over a seeded database: queries and mutations generated from our own schema
(hypothesis-graphql), sent to a real server as the public, as a reporter holding a real access
code, as staff without ``reporters:read`` and as an administrator with it.

The tenant is seeded first (through the real services) with complaints in every status, each
with a reporter whose name, phone and e-mail are planted: anonymous ones, named ones, a
confidential one, one transferred away. Generated documents get the seeded tracking ids, access
codes and global ids in place of random strings (most of the time), so they get past NOT_FOUND
into real data and real transitions.

Whatever arrives: never a 500, never a stack trace or SQL text, every error has an
``extensions.code`` and none is ``INTERNAL_SERVER_ERROR``; an anonymous reporter's planted data
is in no answer for anyone, a named reporter's only for a caller with ``reporters:read``. CI runs
``EXAMPLES`` documents; set ``LAPOR_FUZZ_EXAMPLES`` for more.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from graphql import (
    ArgumentNode,
    DocumentNode,
    GraphQLInputObjectType,
    ListValueNode,
    ObjectFieldNode,
    ObjectValueNode,
    StringValueNode,
    Visitor,
    build_schema,
    get_named_type,
    print_ast,
    visit,
)
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis_graphql import from_schema, nodes

from lapor.auth.accounts import create_client
from lapor.platform.calendar import CalendarStore
from lapor.platform.db import Database
from lapor.platform.secrets import load_secrets
from lapor.schema import sdl
from lapor.schema.common import global_id
from lapor.settings import Settings
from lapor.tenants.actors import staff
from lapor.tenants.complaints.inputs import ReporterInput
from lapor.tenants.complaints.service import ComplaintService
from lapor.tenants.directory import TenantDirectory
from lapor.tenants.enums import ResponseOutcome, TransferKind
from lapor.tenants.records import Tenant
from lapor.tenants.transfers.service import TransferService
from lapor.tenants.validation import TenantSpec
from tests.complaint_helpers import a_unit, sample
from tests.conftest import BASE_DOMAIN
from tests.fault_servers import HIERARCHY, provision
from tests.oauth_helpers import TENANT_STAFF_SCOPES
from tests.schema_walk import Planted, root_queries

EXAMPLES = int(os.environ.get("LAPOR_FUZZ_EXAMPLES", "500"))
SECRET = "f" * 64
HOST = f"kupang-kota.{BASE_DOMAIN}"
LEAKS = ("Traceback", "psycopg", "sqlalchemy", "SELECT ", "INSERT INTO", 'File "/')
SCALARS = {
    "DateTime": st.datetimes(
        min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2030, 1, 1), timezones=st.just(dt.UTC)
    ).map(lambda value: nodes.String(value.isoformat())),
    "Date": st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2030, 1, 1)).map(
        lambda value: nodes.String(value.isoformat())
    ),
}
ADMIN = staff("Admin Uji")

ROLES: dict[str, str | None] = {
    "public": None,
    "reader": "complaints:read routing:read stats:read",
    "staff": " ".join(s for s in TENANT_STAFF_SCOPES.split() if s != "reporters:read"),
    "admin": TENANT_STAFF_SCOPES,
}
"""Who sends each document; only ``admin`` holds reporters:read."""

# How each seeded complaint is brought to its status through the real services, and the status
# (as its reporter tracks it) that the path ends in.
PATHS: dict[str, tuple[tuple[str, ...], str]] = {
    "SUBMITTED": ((), "SUBMITTED"),
    "NEEDS_INFO": (("ask",), "NEEDS_INFO"),
    "INFO_GIVEN": (("ask", "complete"), "SUBMITTED"),
    "ARCHIVED": (("archive",), "ARCHIVED"),
    "VERIFIED": (("verify",), "VERIFIED"),
    "IN_PROGRESS": (("verify", "assign"), "IN_PROGRESS"),
    "RESPONDED": (("verify", "assign", "respond", "reply"), "RESPONDED"),
    "DISPUTED": (("verify", "assign", "respond", "dispute"), "IN_PROGRESS"),
    "CLOSED": (("verify", "assign", "respond", "accept"), "CLOSED"),
    "RATED": (("verify", "assign", "respond", "accept", "rate"), "CLOSED"),
    "TRANSFERRED": (("transfer",), "SUBMITTED"),
}
PUBLIC_STATUSES = {"VERIFIED", "IN_PROGRESS", "RESPONDED", "CLOSED"}
"""What the public feed shows (non-confidential ones only): SECURITY.md's rule, written out."""


@dataclass(frozen=True)
class Seeded:
    path: str
    tracking_id: str
    access_code: str
    anonymous: bool
    confidential: bool
    planted: Planted

    @property
    def global_id(self) -> str:
        return str(global_id("Complaint", self.tracking_id))


@dataclass
class Live:
    base: str
    tokens: dict[str, str | None]
    seeded: list[Seeded]
    ids: list[str] = field(default_factory=list)
    """Global ids of seeded units and categories (for ``unitId``, ``categoryId``, ``id``)."""

    @property
    def anonymous(self) -> list[Planted]:
        return [s.planted for s in self.seeded if s.anonymous]

    @property
    def named(self) -> list[Planted]:
        return [s.planted for s in self.seeded if not s.anonymous]


def _planted(number: int, anonymous: bool) -> Planted:
    kind = "Anonim" if anonymous else "Bernama"
    digit = "1" if anonymous else "2"
    return Planted(
        f"Penanda {kind} Nomor {number:02d} Rahasia",
        f"+62813{digit}7770{number:03d}",
        f"penanda.{kind.lower()}{number:02d}@example.org",
    )


async def _step(
    service: ComplaintService,
    transfers: TransferService,
    tenant: Tenant,
    unit: int,
    step: str,
    tid: str,
    code: str,
) -> None:
    """One step of a seeding path, staff's or the reporter's (with the real access code)."""
    if step == "ask":
        await service.request_information(tenant, ADMIN, tid, "Mohon foto lokasinya.")
    elif step == "complete":
        await service.complete(tenant, tid, code, "Foto sudah saya kirim.")
    elif step == "archive":
        await service.archive(tenant, ADMIN, tid, "Bukan pelayanan publik")
    elif step == "verify":
        await service.verify(tenant, ADMIN, tid)
    elif step == "assign":
        await service.assign(tenant, ADMIN, tid, unit)
    elif step == "respond":
        await service.respond(tenant, ADMIN, tid, ResponseOutcome.RESOLVED, "Sudah beres.")
    elif step == "reply":
        await service.reply(tenant, tid, code, "Terima kasih, saya cek dulu.")
    elif step == "dispute":
        await service.dispute(tenant, tid, code, "Belum beres sama sekali.")
    elif step == "accept":
        await service.accept(tenant, tid, code)
    elif step == "rate":
        await service.rate(tenant, tid, code, 4, "Cukup cepat.")
    else:
        assert step == "transfer", step
        await transfers.transfer(tenant, ADMIN, tid, "ttu", TransferKind.FORWARD, "Bukan wewenang kota")


async def _seed(url: str) -> tuple[list[Seeded], list[str], dict[str, str | None]]:
    """Every path, as an anonymous and as a named reporter, plus a confidential one."""
    settings = Settings(database_url=url, base_domain=BASE_DOMAIN, secret_key=SECRET)
    db = Database(url, settings, pool_size=2, max_overflow=0)
    try:
        directory = TenantDirectory(db, BASE_DOMAIN)
        tenant = await directory.by_slug("kupang-kota")
        assert tenant is not None
        service = ComplaintService(db, load_secrets(settings), CalendarStore(db))
        transfers = TransferService(db, service, directory)
        unit = await a_unit(db, tenant)
        seeded: list[Seeded] = []
        cases = [(path, anonymous, False) for path in PATHS for anonymous in (True, False)]
        cases.append(("RESPONDED", True, True))
        for number, (path, anonymous, confidential) in enumerate(cases):
            planted = _planted(number, anonymous)
            submitted = await service.submit(
                tenant,
                sample(
                    title=f"Aduan {path.lower()} nomor {number}",
                    anonymous=anonymous,
                    confidential=confidential,
                    reporter=ReporterInput(planted.name, planted.email, planted.phone),
                ),
            )
            tid, code = submitted.complaint.tracking_id, submitted.access_code
            assert code is not None
            for step in PATHS[path][0]:
                await _step(service, transfers, tenant, unit, step, tid, code)
            seeded.append(Seeded(path, tid, code, anonymous, confidential, planted))
        ids = [str(global_id("Unit", unit))]
        secrets = load_secrets(settings)
        tokens: dict[str, str | None] = {}  # client_id:secret, exchanged for tokens once served
        for who, scopes in ROLES.items():
            if scopes is None:
                tokens[who] = None
                continue
            client, secret = await create_client(
                db, name=f"Fuzz {who}", scopes=frozenset(scopes.split()), tenant_slug="kupang-kota",
                secrets=secrets,
            )  # fmt: skip
            tokens[who] = f"{client.client_id}:{secret}"
        return seeded, ids, tokens
    finally:
        await db.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def live(admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A real server on a free port over a seeded database of its own, and the callers' tokens."""
    from lapor.platform.scratch import scratch_database

    with scratch_database(admin_url, "fuzz") as url:
        ttu = TenantSpec("ttu", "Kab. Timor Tengah Utara", "REGENCY", parent="ntt", region_code="53.05")
        asyncio.run(provision(url, *HIERARCHY, ttu))
        seeded, ids, credentials = asyncio.run(_seed(url))
        env = {
            **os.environ, "LAPOR_DATABASE_URL": url, "LAPOR_BASE_DOMAIN": BASE_DOMAIN, "LAPOR_SECRET_KEY": SECRET,
            "LAPOR_LOG_LEVEL": "CRITICAL", "LAPOR_REDIS_URL": "", "LAPOR_RATE_LIMIT_PUBLIC": "0",
            "LAPOR_RATE_LIMIT_CLIENT": "0",
        }  # fmt: skip
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
                assert server.poll() is None and time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
            tokens: dict[str, str | None] = {}
            for who, credential in credentials.items():
                if credential is None:
                    tokens[who] = None
                    continue
                client_id, secret = credential.split(":", 1)
                answer = httpx.post(
                    f"{base}/oauth/token", data={"grant_type": "client_credentials"},
                    auth=(client_id, secret), headers={"host": HOST},
                )  # fmt: skip
                assert answer.status_code == 200, answer.text
                tokens[who] = answer.json()["access_token"]
            yield Live(base, tokens, seeded, ids)
        finally:
            server.terminate()
            server.wait(timeout=20)
            log_file.close()
            print(f"fuzz server log: {log_path}")


def _send(live: Live, http: httpx.Client, who: str, document: str, host: str = HOST) -> tuple[dict, str]:
    """One document as ``who``: checked for a 500, leaks, codeless or internal errors and planted
    personal data; returns the decoded body and the raw text."""
    headers = {"host": host}
    token = live.tokens[who]
    if token:
        headers["authorization"] = f"Bearer {token}"
    context = f"{who} on {host}: {document[:2000]}"
    try:
        response = http.post(f"{live.base}/graphql", json={"query": document}, headers=headers)
    except httpx.TimeoutException:
        pytest.fail(f"no answer within 20 s for {context}")
    text = response.text
    assert response.status_code < 500, f"{response.status_code} {text[:500]} for {context}"
    assert not any(leak in text for leak in LEAKS), f"leak in {text[:500]} for {context}"
    body = response.json()
    for error in body.get("errors") or []:
        assert isinstance(error.get("extensions", {}).get("code"), str), f"no code: {error} for {context}"
        assert error["extensions"]["code"] != "INTERNAL_SERVER_ERROR", f"{error} for {context}"
    folded = text.casefold()
    for planted in live.anonymous:
        found = [form for form in planted.forms() if form in folded]
        assert not found, f"anonymous reporter's {found} in {text[:1000]} for {context}"
    if "reporters:read" not in (ROLES[who] or ""):
        for planted in live.named:
            found = [form for form in planted.forms() if form in folded]
            assert not found, (
                f"reporter's {found} shown without reporters:read in {text[:1000]} for {context}"
            )
    return body, text


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=20) as client:
        yield client


def test_every_public_field_hides_planted_reporters(live: Live, http: httpx.Client) -> None:
    """Every root field, walked whole (every field beneath it, arguments given), for every seeded
    complaint, as each caller: planted reporter data only where reporters:read allows it."""
    assert len(live.seeded) == 2 * len(PATHS) + 1
    allowed = {"UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND"}
    query_type = build_schema(sdl()).query_type
    assert query_type is not None
    per_complaint = [n for n, f in query_type.fields.items() if {"trackingId", "id"} & set(f.args)]
    assert {"complaint", "publicComplaint", "trackComplaint", "node"} <= set(per_complaint)
    for who in ROLES:
        for number, seeded in enumerate(live.seeded):
            queries = root_queries(seeded.tracking_id, seeded.access_code, seeded.global_id, page=50)
            # Lists and the rest once per caller (with the first complaint's arguments).
            names = per_complaint if number else tuple(queries)
            for name in names:
                body, _text = _send(live, http, who, queries[name])
                codes = {e["extensions"]["code"] for e in body.get("errors") or []}
                assert codes <= allowed, (who, name, seeded.path, body)
                if name == "trackComplaint":
                    # A real access code gets into the data, whatever the status (moved ones too).
                    assert not codes, (who, seeded.path, body)
                    tracked = body["data"]["trackComplaint"]
                    assert tracked["trackingId"] == seeded.tracking_id
                    assert tracked["status"] == PATHS[seeded.path][1], (seeded.path, tracked["status"])
                    moved = seeded.path == "TRANSFERRED"
                    assert tracked["currentTenant"] == ("ttu" if moved else "kupang-kota")
                if who == "admin" and name == "complaint" and not seeded.anonymous:
                    reporter = body["data"]["complaint"]["reporter"]
                    assert reporter["name"] == seeded.planted.name, "the walk reaches reporter data"
    # The public feed shows exactly the verified, non-confidential seeded complaints.
    query = "{ publicComplaints(first: 100) { edges { node { trackingId } } } }"
    feed, _ = _send(live, http, "public", query)
    shown = {edge["node"]["trackingId"] for edge in feed["data"]["publicComplaints"]["edges"]}
    public = {
        s.tracking_id for s in live.seeded if PATHS[s.path][1] in PUBLIC_STATUSES and not s.confidential
    }
    assert len(public) == 12 and shown == public, (sorted(shown - public), sorted(public - shown))


class _Seeding(Visitor):
    """Puts seeded values into a generated document: ``trackingId``, ``accessCode``, ``id``,
    ``unitId``, ``categoryId`` and ``targetTenant`` arguments and input fields."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__()
        self.values = values

    def enter_argument(self, node: ArgumentNode, *_args: object) -> ArgumentNode | None:
        return self._swap(node)

    def enter_object_field(self, node: ObjectFieldNode, *_args: object) -> ObjectFieldNode | None:
        return self._swap(node)

    def _swap(self, node):  # type: ignore[no-untyped-def]
        value = self.values.get(node.name.value)
        if value is None or isinstance(node.value, ObjectValueNode):
            return None
        if isinstance(node.value, ListValueNode):
            new = ListValueNode(values=tuple(StringValueNode(value=value) for _ in node.value.values))
        else:
            new = StringValueNode(value=value)
        return node.__class__(name=node.name, value=new)


LISTS = ("complaints", "publicComplaints", "transfers")


@functools.cache
def _aimed_fields() -> list[str]:
    """Root fields that take a tracking id, an access code or a global id (directly or in their
    input): the ones where a seeded value gets a document into real data."""
    wanted = {"trackingId", "accessCode", "id"}
    schema = build_schema(sdl())
    names = []
    for root in (schema.query_type, schema.mutation_type):
        assert root is not None
        for name, root_field in root.fields.items():
            keys = set(root_field.args)
            for arg in root_field.args.values():
                inner = get_named_type(arg.type)
                if isinstance(inner, GraphQLInputObjectType):
                    keys |= set(inner.fields)
            if keys & wanted:
                names.append(name)
    return names


@functools.cache
def _generated(field_name: str | None = None) -> st.SearchStrategy[DocumentNode]:
    """Documents as syntax trees (``print_ast`` left to us), over every root field or one."""
    return from_schema(
        sdl(),
        fields=None if field_name is None else [field_name],
        custom_scalars=SCALARS,
        allow_x00=False,
        print_ast=lambda ast: ast,
    )


@st.composite
def _documents(draw: st.DrawFn, live: Live) -> tuple[str, str, str | None]:
    """A generated document, most of the time aimed at one seeded complaint; the host the public
    sends it to; the aimed tracking id. Most ask one root field, a list of complaints or one that
    a seeded value opens (several root fields in one document are mostly refused as a whole by one
    of them)."""
    # Choices by a seeded Random (reproducible from the example): hypothesis's own draws lean
    # hard on the first option, which would aim half the documents at one complaint.
    rng = draw(st.randoms(use_true_random=True))
    choice = rng.random()
    if choice < 0.4:
        document: DocumentNode = draw(_generated())
    elif choice < 0.6:  # the lists that show seeded complaints
        document = draw(_generated(rng.choice(LISTS)))
    else:
        document = draw(_generated(rng.choice(_aimed_fields())))
    host = rng.choice([HOST, HOST, f"ttu.{BASE_DOMAIN}", BASE_DOMAIN])
    if rng.random() < 0.2:  # as generated: random ids and codes
        return print_ast(document), host, None
    target, other = rng.choice(live.seeded), rng.choice(live.seeded)
    values = {
        "trackingId": target.tracking_id,
        "accessCode": target.access_code if rng.random() < 0.85 else other.access_code,
        "id": rng.choice([target.global_id, target.global_id, *live.ids]),
        "unitId": live.ids[0],
        "targetTenant": rng.choice(["ttu", "ntt", "nasional", "kupang-kota"]),
    }
    return print_ast(visit(document, _Seeding(values))), host, target.tracking_id


@pytest.fixture(scope="module")
def counted() -> Iterator[dict[str, int]]:
    tally = {"examples": 0, "answers": 0, "aimed": 0, "with_data": 0}
    started = time.monotonic()
    yield tally
    print(
        f"\nfuzz: {tally['examples']} documents, {tally['answers']} answers checked in "
        f"{time.monotonic() - started:.1f} s; {tally['aimed']} answers to documents aimed at a seeded "
        f"complaint, {tally['with_data']} of them past NOT_FOUND with data"
    )


def test_generated_queries_and_mutations_never_fail_the_server(
    live: Live, http: httpx.Client, counted: dict[str, int]
) -> None:
    @hypothesis_settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=_documents(live))
    def run(case: tuple[str, str, str | None]) -> None:
        document, host, aimed = case
        counted["examples"] += 1
        for who in ROLES:
            body, text = _send(live, http, who, document, host if who == "public" else HOST)
            counted["answers"] += 1
            if aimed:
                counted["aimed"] += 1
                counted["with_data"] += bool(body.get("data")) and "NOT_FOUND" not in text

    run()
