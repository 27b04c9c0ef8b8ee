"""Revoked access-token ids: checked on every request without a database read.

A revoked ``jti`` lives in Redis until the token would have expired anyway, so every API process
refuses it at once; without Redis (or while Redis is down) the in-process set does the same for
this process.
"""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis

from lapor.platform.keys import platform_key

log = logging.getLogger(__name__)


class Revocations:
    def __init__(self, redis: Redis | None) -> None:
        self.redis = redis
        self._local: dict[str, float] = {}

    @staticmethod
    def _key(jti: str) -> str:
        return platform_key("revoked-jti", jti)

    async def revoke(self, jti: str, expires_at: float) -> None:
        ttl = max(1, int(expires_at - time.time()) + 1)
        self._local[jti] = time.monotonic() + ttl
        if self.redis is not None:
            try:
                await self.redis.set(self._key(jti), "1", ex=ttl)
            except Exception as error:
                log.warning("could not record a revocation in Redis: %s", error)

    async def is_revoked(self, jti: str) -> bool:
        deadline = self._local.get(jti)
        if deadline is not None:
            if deadline > time.monotonic():
                return True
            del self._local[jti]
        if self.redis is None:
            return False
        try:
            return bool(await self.redis.exists(self._key(jti)))
        except Exception as error:
            log.warning("could not check a revocation in Redis: %s", error)
            return False
