"""SECURITY.md guarantees held directly, in the smallest terms that can fail.

Each test here names the one line of code it guards (see ``bench/mutations.toml``): the bearer
checks of ``typ`` and issuer, reporter data and access codes at rest, and the dummy hash that
makes an unknown tracking id cost what a wrong access code costs. Real PostgreSQL throughout;
the only thing wrapped is argon2's ``verify``, to count the hashes a lookup does (a count, not a
timing: speed belongs to bench/).
"""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest
from joserfc import jwt
from psycopg import sql

from lapor.auth.bearer import verify
from lapor.auth.keys import ALGORITHM, SigningKeys
from lapor.auth.revocations import Revocations
from lapor.platform import secrets as secrets_module
from lapor.platform.errors import DomainError
from lapor.platform.secrets import load_secrets
from lapor.tenants.complaints.inputs import ReporterInput
from tests.complaint_helpers import sample

ISSUER = "https://lapor.test"
PLANTED_NAME = "Yohanes Penanda Rahasia"
PLANTED_PHONE = "+6281399887766"
PLANTED_EMAIL = "penanda.rahasia@example.org"


# --- bearer tokens: typ and issuer ------------------------------------------------------------


@pytest.fixture
async def keys(db, settings) -> SigningKeys:
    # The platform's own master key (as every app in this run loads it): the signing key is a
    # platform-wide row, and a key sealed under another master key would not open.
    signing = SigningKeys(db, load_secrets(settings))
    await signing.ensure()
    return signing


def _token(keys: SigningKeys, *, typ: str | None = "at+jwt", issuer: str = ISSUER) -> str:
    key = keys.signing_keyset().keys[0]
    header = {"alg": ALGORITHM, "kid": key.kid}
    if typ is not None:
        header["typ"] = typ
    now = int(time.time())
    claims = {"iss": issuer, "aud": "kab-uji", "sub": "klien", "client_id": "klien", "scope": "complaints:read",
              "iat": now, "nbf": now, "exp": now + 300, "jti": uuid.uuid4().hex}  # fmt: skip
    return jwt.encode(header, claims, key)


async def test_bearer_refuses_a_token_of_another_type_or_issuer(keys: SigningKeys) -> None:
    """Signed by our own key and otherwise valid: an ID token (``typ: JWT``), a token with no
    ``typ`` and one from another issuer are each refused with UNAUTHENTICATED."""
    revocations = Revocations(None)
    claims = await verify(_token(keys), keys, revocations, ISSUER)
    assert claims["aud"] == "kab-uji", "the control token must verify"
    for label, token in (
        ("typ JWT", _token(keys, typ="JWT")),
        ("no typ", _token(keys, typ=None)),
        ("other issuer", _token(keys, issuer="https://penyerang.example")),
    ):
        with pytest.raises(DomainError) as refused:
            await verify(token, keys, revocations, ISSUER)
        assert refused.value.code == "UNAUTHENTICATED", label


# --- data at rest ---------------------------------------------------------------------------


def _raw_rows(admin_database_url: str, schema: str, table: str) -> list[bytes]:
    """Every row of ``table`` as the bytes PostgreSQL returns for it in text form (superuser)."""
    with psycopg.connect(admin_database_url) as conn:
        rows = conn.execute(
            sql.SQL("SELECT t::text FROM {}.{} t").format(sql.Identifier(schema), sql.Identifier(table))
        ).fetchall()
    return [row[0].encode() for row in rows]


def _plain_url(database_url: str) -> str:
    return database_url.replace("postgresql+psycopg://", "postgresql://")


async def test_reporter_name_and_contact_are_not_stored_in_plaintext(
    complaints, make_regency, database_url
) -> None:
    """The reporter row holds neither the name, nor the phone (with or without +62, or its
    last digits), nor the e-mail, in any encoding PostgreSQL shows (bytea is hex)."""
    tenant = await make_regency()
    await complaints.submit(
        tenant, sample(reporter=ReporterInput(name=PLANTED_NAME, phone=PLANTED_PHONE, email=PLANTED_EMAIL))
    )
    rows = _raw_rows(_plain_url(database_url), tenant.schema_name, "reporter")
    assert len(rows) == 1
    forms = [PLANTED_NAME, PLANTED_PHONE, PLANTED_PHONE[3:], PLANTED_PHONE[-8:], PLANTED_EMAIL, "penanda"]
    for form in forms:
        for encoded in (form.encode(), form.encode().hex().encode(), form.lower().encode()):
            assert encoded not in rows[0].lower(), f"{form!r} stored readably: {rows[0][:200]!r}"


async def test_access_codes_are_stored_as_argon2_hashes(complaints, make_regency, database_url) -> None:
    tenant = await make_regency()
    sent = await complaints.submit(tenant, sample())
    code = sent.access_code
    assert code
    with psycopg.connect(_plain_url(database_url)) as conn:
        stored = conn.execute(
            sql.SQL("SELECT access_code_hash FROM {}.complaint WHERE tracking_id = %s").format(
                sql.Identifier(tenant.schema_name)
            ),
            (sent.complaint.tracking_id,),
        ).fetchone()[0]
    assert stored.startswith("$argon2id$"), stored[:20]
    assert code.replace("-", "") not in stored.replace("-", "")


# --- no enumeration: the dummy hash ---------------------------------------------------------


async def test_unknown_tracking_id_costs_the_same_hash_as_a_wrong_code(
    complaints, make_regency, monkeypatch
) -> None:
    """Tracking with a wrong code and tracking an id that does not exist both run exactly one
    argon2 verification, and both answer NOT_FOUND with the same message."""
    tenant = await make_regency()
    sent = await complaints.submit(tenant, sample())
    real = secrets_module._hasher
    calls: list[str] = []

    class Counting:
        """argon2's hasher, counting verifications (its own attributes are read-only)."""

        def verify(self, stored: str, password: str) -> bool:
            calls.append(stored)
            return real.verify(stored, password)

        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

    monkeypatch.setattr(secrets_module, "_hasher", Counting())
    answers = []
    for tracking_id, code in (
        (sent.complaint.tracking_id, "AAAA-BBBB-CCCC"),
        (f"{tenant.slug.upper()}-2601-999999", sent.access_code or ""),
    ):
        calls.clear()
        with pytest.raises(DomainError) as refused:
            await complaints.track(tenant, tracking_id, code)
        answers.append((refused.value.code, refused.value.message, len(calls)))
    assert answers[0] == answers[1], f"wrong code vs unknown id: {answers}"
    assert answers[0][0] == "NOT_FOUND" and answers[0][2] == 1, answers
