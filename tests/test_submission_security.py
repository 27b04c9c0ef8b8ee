"""Issue 9, item 1: nobody takes a gateway reporter's access code.

The reproduction: a public caller with no token submitted ``channel: SMS, externalRef: "<the
gateway's message id>"`` and got that complaint's tracking id and access code back with
``duplicate: true``. Now channel submissions and every ``externalRef`` need a client token with
``complaints:submit``, the idempotency key and the derived code belong to the submitting client,
and ``externalRef`` is shown only to ``tenant:admin``. Real GraphQL endpoint, real OAuth tokens,
real PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from lapor.auth.roles import Role
from lapor.platform.errors import DomainError
from lapor.tenants.actors import Actor
from lapor.tenants.context import tenant_transaction
from lapor.tenants.directory import TenantDirectory
from lapor.tenants.enums import ActorKind, Channel, TransferKind
from lapor.tenants.tables import complaint
from lapor.tenants.transfers.service import TransferService
from tests.apps import running_app
from tests.complaint_helpers import ADMIN, sample
from tests.conftest import BASE_DOMAIN
from tests.graphql_client import codes
from tests.oauth_helpers import machine_token, remember_app, user_token

SUBMIT = """
mutation($input: SubmitComplaintInput!) {
  submitComplaint(input: $input) {
    trackingId accessCode duplicate
    errors { field message code }
  }
}"""
GATEWAY_SCOPES = "complaints:read complaints:submit"
MESSAGE_ID = "sms-1708-000424242"


def submission(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "title": "Air PDAM tidak mengalir",
        "body": "Sudah tiga hari air PDAM di Kelurahan Oebobo tidak mengalir sama sekali.",
        "categoryCode": "INFRASTRUKTUR",
    }
    values.update(overrides)
    return values


@pytest.fixture
async def app_client(settings, db):
    async with running_app(settings) as (app, client):
        remember_app(client, app, db)
        yield app, client


async def _post(client: httpx.AsyncClient, slug: str, token: str | None, **variables: Any) -> dict[str, Any]:
    headers = {"host": f"{slug}.{BASE_DOMAIN}"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    response = await client.post("/graphql", json={"query": SUBMIT, "variables": variables}, headers=headers)
    assert response.status_code == 200, response.text
    assert "Traceback" not in response.text
    return response.json()


async def _gateway(db, app, slug: str, scopes: str = GATEWAY_SCOPES) -> str:
    """A client_credentials token of a fresh client of ``slug`` (each call: another client)."""
    return await machine_token(db, app, f"{slug}.{BASE_DOMAIN}", tenant=slug, scopes=scopes)


async def _submitted(client, slug: str, token: str | None, **overrides: Any) -> dict[str, Any]:
    body = await _post(client, slug, token, input=submission(**overrides))
    assert not body.get("errors"), body
    payload = body["data"]["submitComplaint"]
    assert payload["errors"] == [] and payload["accessCode"], payload
    return payload


async def test_a_public_caller_cannot_take_a_gateways_access_code(app_client, db, make_regency):
    app, client = app_client
    slug = (await make_regency()).slug
    gateway = await _gateway(db, app, slug)
    sent = await _submitted(client, slug, gateway, channel="SMS", externalRef=MESSAGE_ID)

    # The attack: the same channel and message id, no token, any text.
    stolen = await _post(client, slug, None, input=submission(channel="SMS", externalRef=MESSAGE_ID))
    assert codes(stolen) == ["UNAUTHENTICATED"]
    assert stolen["data"] is None
    assert sent["accessCode"] not in str(stolen) and sent["trackingId"] not in str(stolen)

    # Every form of it: a reference on the public channels, a gateway channel without one.
    for overrides in (
        {"channel": "WEB", "externalRef": MESSAGE_ID},
        {"channel": "MOBILE", "externalRef": "app-retry-1"},
        {"channel": "SMS"},
        {"channel": "WHATSAPP"},
        {"channel": "EMAIL"},
        {"channel": "SOCIAL"},
        {"channel": "WALK_IN"},
    ):
        refused = await _post(client, slug, None, input=submission(**overrides))
        assert codes(refused) == ["UNAUTHENTICATED"], overrides
    # A refused token is not "no token" for a gateway submission: it says why.
    garbage = await _post(
        client, slug, "not-a-token", input=submission(channel="SMS", externalRef=MESSAGE_ID)
    )
    assert codes(garbage) == ["UNAUTHENTICATED"] and sent["accessCode"] not in str(garbage)
    # The public web form and app still need nothing, whatever stale token the browser sends.
    for token in (None, "not-a-token"):
        for channel in ("WEB", "MOBILE"):
            filed = await _submitted(client, slug, token, channel=channel)
            assert filed["duplicate"] is False


async def test_a_client_without_complaints_submit_is_forbidden(app_client, db, make_regency):
    app, client = app_client
    slug = (await make_regency()).slug
    gateway = await _gateway(db, app, slug)
    await _submitted(client, slug, gateway, channel="SMS", externalRef=MESSAGE_ID)
    reader = await _gateway(db, app, slug, scopes="complaints:read complaints:triage tenant:admin")
    for overrides in (
        {"channel": "SMS", "externalRef": MESSAGE_ID},
        {"channel": "WEB", "externalRef": "x-1"},
    ):
        refused = await _post(client, slug, reader, input=submission(**overrides))
        assert codes(refused) == ["FORBIDDEN"], overrides
        assert refused["data"] is None
    # A staff member's app token (authorization code) is a client too: without the scope, refused.
    staff = await user_token(
        db, app, client, host=f"{slug}.{BASE_DOMAIN}", tenant=slug, role=Role.TENANT_ADMIN,
        scopes="complaints:read tenant:admin",
    )  # fmt: skip
    assert codes(
        await _post(client, slug, staff, input=submission(channel="SMS", externalRef=MESSAGE_ID))
    ) == ["FORBIDDEN"]


async def test_a_duplicate_returns_the_code_only_to_the_same_client(app_client, db, make_regency):
    app, client = app_client
    slug = (await make_regency()).slug
    gateway_a, gateway_b = await _gateway(db, app, slug), await _gateway(db, app, slug)
    first = await _submitted(client, slug, gateway_a, channel="SMS", externalRef=MESSAGE_ID)
    retry = await _submitted(client, slug, gateway_a, channel="SMS", externalRef=MESSAGE_ID)
    assert retry["duplicate"] is True and first["duplicate"] is False
    assert (retry["trackingId"], retry["accessCode"]) == (first["trackingId"], first["accessCode"])

    # Another client with the same message id files its own complaint and learns nothing of A's.
    other = await _submitted(client, slug, gateway_b, channel="SMS", externalRef=MESSAGE_ID)
    assert other["duplicate"] is False
    assert other["trackingId"] != first["trackingId"]
    assert first["accessCode"] not in str(other), "B gets a code of its own, not A's derived one"
    other_retry = await _submitted(client, slug, gateway_b, channel="SMS", externalRef=MESSAGE_ID)
    assert (other_retry["trackingId"], other_retry["accessCode"]) == (
        other["trackingId"],
        other["accessCode"],
    )
    # Same client, same reference, another channel: another complaint (the key has the channel).
    whatsapp = await _submitted(client, slug, gateway_a, channel="WHATSAPP", externalRef=MESSAGE_ID)
    assert whatsapp["trackingId"] != first["trackingId"]
    assert whatsapp["accessCode"] != first["accessCode"]


async def test_external_ref_is_shown_only_to_tenant_admin(app_client, db, make_regency):
    app, client = app_client
    slug = (await make_regency()).slug
    sent = await _submitted(
        client, slug, await _gateway(db, app, slug), channel="SMS", externalRef=MESSAGE_ID
    )
    query = "query($t: String!) { complaint(trackingId: $t) { trackingId externalRef } }"
    host = {"host": f"{slug}.{BASE_DOMAIN}"}

    async def read(scopes: str) -> dict[str, Any]:
        token = await _gateway(db, app, slug, scopes=scopes)
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": {"t": sent["trackingId"]}},
            headers={**host, "authorization": f"Bearer {token}"},
        )
        body = response.json()
        assert not body.get("errors"), body
        return body["data"]["complaint"]

    assert (await read("complaints:read tenant:admin"))["externalRef"] == MESSAGE_ID
    for scopes in ("complaints:read", "complaints:read complaints:triage complaints:respond reporters:read"):
        seen = await read(scopes)
        assert seen == {"trackingId": sent["trackingId"], "externalRef": None}, scopes
    listed = await client.post(
        "/graphql",
        json={"query": "{ complaints(first: 100) { nodes { externalRef } } }"},
        headers={**host, "authorization": f"Bearer {await _gateway(db, app, slug, 'complaints:read')}"},
    )
    assert MESSAGE_ID not in listed.text and not listed.json().get("errors")


# --- the domain service, below the API ------------------------------------------------------------


def _client(
    client_id: str | None, scopes: frozenset[str] = frozenset({"complaints:submit"}), **kw: Any
) -> Actor:
    return Actor(ActorKind.STAFF, name="Gateway", scopes=scopes, client_id=client_id, **kw)


async def test_the_service_checks_the_submitter_whatever_the_api_does(complaints, make_regency):
    tenant = await make_regency()
    data = sample(channel=Channel.SMS, external_ref=MESSAGE_ID)
    for actor, code in (
        (None, "UNAUTHENTICATED"),
        (_client(None), "UNAUTHENTICATED"),  # a token without a client: no key to file it under
        (_client("gw-1", frozenset({"complaints:read"})), "FORBIDDEN"),
    ):
        with pytest.raises(DomainError) as refused:
            await complaints.submit(tenant, data, actor)
        assert refused.value.code == code
    presented = DomainError("UNAUTHENTICATED", "invalid access token: expired")
    with pytest.raises(DomainError) as expired:
        await complaints.submit(tenant, data, None, auth_error=presented)
    assert expired.value is presented
    public = await complaints.submit(tenant, sample(), None, auth_error=presented)
    assert public.complaint.submitted_by_client is None


async def test_the_key_is_the_client_whoever_the_token_speaks_for(complaints, db, make_regency):
    """Two staff members through one app share its references; the row records the client."""
    tenant = await make_regency()
    data = sample(channel=Channel.WALK_IN, external_ref="loket-7")
    maria = _client("staff-app", frozenset({"complaints:submit", "tenant:admin"}), subject="user:1")
    yohan = _client("staff-app", frozenset({"complaints:submit"}), subject="user:2")
    first = await complaints.submit(tenant, data, maria)
    again = await complaints.submit(tenant, data, yohan)
    assert again.duplicate and again.complaint.tracking_id == first.complaint.tracking_id
    assert again.access_code == first.access_code
    assert first.complaint.submitted_by_client == "staff-app"
    elsewhere = await complaints.submit(tenant, data, _client("other-app"))
    assert not elsewhere.duplicate and elsewhere.access_code != first.access_code


async def test_the_derived_code_is_keyed_by_the_secret_and_the_client(
    complaints, secrets_for_tests, make_regency
):
    """A retry's code is derived, not stored: from the platform key, the tenant, the client, the
    channel and the reference. Another client or another key: another code."""
    from lapor.platform.secrets import Secrets
    from lapor.tenants.complaints.submitters import derivation_input

    tenant = await make_regency()
    data = sample(channel=Channel.SMS, external_ref=MESSAGE_ID).cleaned()
    first = await complaints.submit(tenant, data, _client("gw-derive-1"))
    second = await complaints.submit(tenant, data, _client("gw-derive-2"))
    assert first.access_code != second.access_code
    assert first.access_code == secrets_for_tests.new_access_code(
        derive_from=derivation_input(tenant.slug, "gw-derive-1", data)
    )
    other_key = Secrets(b"another-master-key-0123456789abcdef!")
    assert other_key.new_access_code(derive_from=derivation_input(tenant.slug, "gw-derive-1", data)) != (
        first.access_code
    )
    # No client id can be crafted to reach another client's (client, channel, reference) input.
    assert derivation_input("t", "a:SMS", sample(channel=Channel.SMS, external_ref="x")) != derivation_input(
        "t", "a", sample(channel=Channel.SMS, external_ref="SMS:x")
    )


async def test_the_migration_keys_references_by_client(db, make_regency):
    tenant = await make_regency()
    async with tenant_transaction(db, tenant) as conn:
        rows = await conn.execute(
            sa.text(
                "SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint "
                "WHERE conrelid = 'complaint'::regclass AND contype = 'u'"
            )
        )
        unique = {row.conname: row.definition for row in rows}
    assert "complaint_channel_external_ref_key" not in unique
    assert unique["complaint_client_reference_key"] == "UNIQUE (submitted_by_client, channel, external_ref)"


async def test_rows_from_before_the_upgrade_are_nobodys_to_retry(complaints, db, make_regency):
    """A row filed before t0005 has no client: no later submission matches it or gets its code."""
    tenant = await make_regency()
    gateway = _client("gw-legacy")
    old = await complaints.submit(tenant, sample(channel=Channel.SMS, external_ref=MESSAGE_ID), gateway)
    async with tenant_transaction(db, tenant) as conn:
        await conn.execute(
            complaint.update()
            .where(complaint.c.tracking_id == old.complaint.tracking_id)
            .values(submitted_by_client=None)
        )
    again = await complaints.submit(tenant, sample(channel=Channel.SMS, external_ref=MESSAGE_ID), gateway)
    assert not again.duplicate and again.complaint.tracking_id != old.complaint.tracking_id


async def test_a_transferred_complaint_leaves_the_reference_with_its_client(db, complaints, make_regency):
    transfers = TransferService(db, complaints, TenantDirectory(db, BASE_DOMAIN))
    a, b = await make_regency(), await make_regency()
    gateway = _client("gw-transfer")
    data = sample(channel=Channel.SMS, external_ref=MESSAGE_ID)
    sent = await complaints.submit(a, data, gateway)
    tid = sent.complaint.tracking_id
    # The target's own gateway already used the same message id: no collision either way.
    theirs = await complaints.submit(b, data, _client("gw-of-b"))
    moved = await transfers.transfer(a, ADMIN, tid, b.slug, TransferKind.FORWARD, "Bukan wewenang kami")
    assert (moved.target.channel, moved.target.external_ref, moved.target.submitted_by_client) == (
        Channel.TRANSFER,
        None,
        None,
    )
    retry = await complaints.submit(a, data, gateway)
    assert retry.duplicate and retry.complaint.tracking_id == tid and retry.access_code == sent.access_code
    again_theirs = await complaints.submit(b, data, _client("gw-of-b"))
    assert again_theirs.duplicate and again_theirs.complaint.tracking_id == theirs.complaint.tracking_id
    back = await transfers.transfer(b, ADMIN, tid, a.slug, TransferKind.FORWARD, "Kembali ke asal")
    assert back.target.submitted_by_client == "gw-transfer" and back.target.external_ref == MESSAGE_ID
    assert (await complaints.submit(a, data, gateway)).complaint.tracking_id == tid
