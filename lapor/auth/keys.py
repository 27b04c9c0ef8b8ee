"""Token signing keys: kept in ``public``, private halves encrypted, rotated without downtime.

The newest unretired key signs. ``lapor keys rotate`` makes a new key and retires the old one,
which still verifies tokens until they have all expired (retirement + the longest token
lifetime). Every process holds the keys in memory, so verifying a token costs no database read;
it reloads on a ``keys-changed`` message, on a token signed by a key it has not seen (at most
every few seconds), and every minute.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time

import sqlalchemy as sa
from joserfc.jwk import ECKey, KeySet

from lapor.platform.bus import Bus
from lapor.platform.db import Database
from lapor.platform.keys import platform_key
from lapor.platform.public_tables import signing_key
from lapor.platform.secrets import Secrets

log = logging.getLogger(__name__)

ALGORITHM = "ES256"
MAX_TOKEN_LIFETIME = dt.timedelta(minutes=15)
KEYS_CHANNEL = platform_key("keys-changed")
_RELOAD_EVERY = 60.0
_UNKNOWN_KID_COOLDOWN = 5.0
_CREATE_LOCK = 7_202_612


async def rotate_key(db: Database, secrets: Secrets) -> str:
    """Create a new signing key and retire the current one; return the new key id."""
    key = ECKey.generate_key("P-256", auto_kid=True)
    private = json.dumps(key.as_dict(private=True))
    async with db.public.begin() as conn:
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CREATE_LOCK})
        await conn.execute(
            signing_key.update().where(signing_key.c.retired_at.is_(None)).values(retired_at=sa.func.now())
        )
        await conn.execute(
            signing_key.insert().values(
                kid=key.kid,
                algorithm=ALGORITHM,
                public_jwk=key.as_dict(private=False),
                private_encrypted=secrets.encrypt(private),
            )
        )
    log.info("new signing key %s", key.kid)
    return str(key.kid)


class SigningKeys:
    def __init__(self, db: Database, secrets: Secrets) -> None:
        self.db = db
        self.secrets = secrets
        self._signing: KeySet | None = None
        self._verifying = KeySet([])
        self._public_jwks: list[dict] = []
        self._loaded_at = 0.0
        self._unknown_checked_at = 0.0
        self._lock = asyncio.Lock()

    async def attach(self, bus: Bus) -> None:
        await bus.subscribe(KEYS_CHANNEL, self._on_change)

    async def _on_change(self, _message: str) -> None:
        await self.load()

    async def ensure(self) -> None:
        """Load the keys; create the first one if the platform has none yet."""
        await self.load()
        if self._signing is None:
            async with self.db.public.begin() as conn:
                await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CREATE_LOCK})
                exists = await conn.scalar(
                    sa.select(sa.func.count())
                    .select_from(signing_key)
                    .where(signing_key.c.retired_at.is_(None))
                )
            if not exists:
                await rotate_key(self.db, self.secrets)
            await self.load()

    async def load(self) -> None:
        cutoff = dt.datetime.now(dt.UTC) - MAX_TOKEN_LIFETIME
        async with self._lock:
            async with self.db.public.connect() as conn:
                rows = (
                    await conn.execute(
                        sa.select(signing_key)
                        .where(sa.or_(signing_key.c.retired_at.is_(None), signing_key.c.retired_at > cutoff))
                        .order_by(signing_key.c.created_at.desc())
                    )
                ).all()
            active = next((row for row in rows if row.retired_at is None), None)
            self._signing = (
                KeySet([ECKey.import_key(json.loads(self.secrets.decrypt(active.private_encrypted)))])
                if active
                else None
            )
            self._public_jwks = [dict(row.public_jwk) for row in rows]
            self._verifying = KeySet([ECKey.import_key(jwk) for jwk in self._public_jwks])
            self._loaded_at = time.monotonic()

    def signing_keyset(self) -> KeySet:
        if self._signing is None:
            raise RuntimeError("no signing key loaded: call ensure() at startup")
        return self._signing

    async def verifying_keyset(self, kid: str | None) -> KeySet:
        """The public keys, reloaded when stale or when ``kid`` is one we have not seen."""
        now = time.monotonic()
        known = kid is not None and any(jwk.get("kid") == kid for jwk in self._public_jwks)
        if now - self._loaded_at > _RELOAD_EVERY or (
            not known and now - self._unknown_checked_at > _UNKNOWN_KID_COOLDOWN
        ):
            self._unknown_checked_at = now
            await self.load()
        return self._verifying

    def verifying_snapshot(self) -> KeySet:
        """The public keys as last loaded (for synchronous code; ``verifying_keyset`` refreshes)."""
        return self._verifying

    def jwks(self) -> dict:
        return {"keys": [{**jwk, "alg": ALGORITHM, "use": "sig"} for jwk in self._public_jwks]}
