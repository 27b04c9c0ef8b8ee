"""Single-use values (the login form's CSRF token ids): the first claim wins, replays lose.

Claims live in Redis when configured, so a token used on one API process is refused on every
other; in this process otherwise or while Redis fails (then a replay on another process could
pass once: logged).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

from redis.asyncio import Redis

from lapor.platform.keys import platform_key

log = logging.getLogger(__name__)
_MAX_LOCAL = 200_000


class Nonces:
    def __init__(self, redis: Redis | None, purpose: str) -> None:
        self.redis = redis
        self.purpose = purpose
        self._local: OrderedDict[str, float] = OrderedDict()

    async def claim(self, nonce: str, ttl_seconds: int) -> bool:
        """True the first time ``nonce`` is claimed within ``ttl_seconds``, False ever after."""
        now = time.monotonic()
        deadline = self._local.get(nonce)
        if deadline is not None and deadline > now:
            return False
        if self.redis is not None:
            try:
                won = await self.redis.set(platform_key(self.purpose, nonce), "1", nx=True, ex=ttl_seconds)
            except Exception as error:
                log.warning("could not claim a single-use token in Redis, claiming here: %s", error)
            else:
                if not won:
                    return False
        self._local.pop(nonce, None)
        self._local[nonce] = now + ttl_seconds
        while self._local and (len(self._local) > _MAX_LOCAL or next(iter(self._local.values())) <= now):
            self._local.popitem(last=False)
        return True
