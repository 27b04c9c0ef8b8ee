"""``trackComplaint`` does the same work for every refused lookup on a tenant host (issue 9, item 13).

The outside review measured a wrong access code for an id that was transferred away as 4.5 ms
slower than a wrong code for an id the host still holds: the host's row said TRANSFERRED, so the
lookup went on to the national index and into the holder's transaction before checking the code.
That difference tells an attacker which tracking ids were transferred (and where to look). Here
the work is counted, not timed (speed belongs to ``bench/track_timing.py``): tenant transactions
entered, national-index lookups and argon2 verifications, for a wrong code on a held id, on an
unknown id and on a transferred-away id. All three must be the same, and all answer the same
NOT_FOUND.
"""

from __future__ import annotations

from collections import Counter
from contextlib import asynccontextmanager

import pytest

from lapor.platform import secrets as secrets_module
from lapor.platform.errors import DomainError
from lapor.tenants.directory import TenantDirectory
from lapor.tenants.enums import TransferKind
from lapor.tenants.transfers import service as transfer_module
from lapor.tenants.transfers.service import TransferService
from tests.complaint_helpers import ADMIN, sample
from tests.conftest import BASE_DOMAIN

WRONG_CODE = "AAAA-BBBB-CCCC"


@pytest.fixture
def counted(monkeypatch) -> Counter[str]:
    """Counts what ``TransferService.track`` does, through the names it calls."""
    work: Counter[str] = Counter()
    enter = transfer_module.tenant_transaction

    @asynccontextmanager
    async def counting_transaction(db, tenant, *args, **kwargs):
        work["tenant transactions"] += 1
        async with enter(db, tenant, *args, **kwargs) as conn:
            yield conn

    holder = TransferService._holder

    async def counting_holder(self, tracking_id):
        work["index lookups"] += 1
        return await holder(self, tracking_id)

    real = secrets_module._hasher

    class CountingHasher:
        def verify(self, stored: str, password: str) -> bool:
            work["argon2 verifications"] += 1
            return real.verify(stored, password)

        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

    monkeypatch.setattr(transfer_module, "tenant_transaction", counting_transaction)
    monkeypatch.setattr(TransferService, "_holder", counting_holder)
    monkeypatch.setattr(secrets_module, "_hasher", CountingHasher())
    return work


async def test_a_transferred_away_id_costs_what_a_wrong_code_costs(
    db, complaints, make_regency, counted
) -> None:
    """A wrong code for a held id, an unknown id and an id transferred away from this host: the
    same tenant transactions, index lookups and hashes, the same refusal."""
    transfers = TransferService(db, complaints, TenantDirectory(db, BASE_DOMAIN))
    host, other = await make_regency(), await make_regency()
    held = await complaints.submit(host, sample())
    moved = await complaints.submit(host, sample())
    await transfers.transfer(
        host, ADMIN, moved.complaint.tracking_id, other.slug, TransferKind.FORWARD, "Bukan wewenang kami"
    )
    cases = {
        "held id, wrong code": held.complaint.tracking_id,
        "unknown id": f"{host.slug.upper()}-2601-999999",
        "transferred-away id, wrong code": moved.complaint.tracking_id,
    }
    work, messages = {}, set()
    for label, tracking_id in cases.items():
        counted.clear()
        with pytest.raises(DomainError) as refused:
            await transfers.track(host, tracking_id, WRONG_CODE)
        assert refused.value.code == "NOT_FOUND", label
        messages.add(refused.value.message)
        work[label] = dict(counted)
    assert len(messages) == 1, messages
    expected = {"tenant transactions": 1, "argon2 verifications": 1}
    assert all(done == expected for done in work.values()), work

    # The right code still finds the moved complaint at its new holder.
    tracked = await transfers.track(host, moved.complaint.tracking_id, moved.access_code or "")
    assert tracked.holder.slug == other.slug
