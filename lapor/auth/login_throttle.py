"""Failed staff logins slow down further attempts: a growing delay, never a permanent lock.

Issue 9 item 4: 100 wrong passwords in 21 s, then the right one was accepted. Each failure is
counted twice: per (account, IP) and per account. Past ``PAIR_THRESHOLD`` failures from one
address, that address must wait 1, 2, 4, ... seconds (at most ``MAX_DELAY_SECONDS``) after each
further failure before the password is even checked; past ``ACCOUNT_THRESHOLD`` failures from
anywhere (a distributed guesser), every address must. A success clears the counts; counts are
forgotten ``FORGET_SECONDS`` after the last failure.

Why not a lockout: a lock that an attacker triggers with a few wrong passwords would be a
weapon against staff. With the pair counter first, one attacking address delays only itself;
only many addresses together can delay an account's owner, and then by at most five minutes
per attempt. No CAPTCHA (WCAG 2.2 success criterion 3.3.8): the answer is a plain message.

Counts live in Redis when configured (every API process sees the same counts), in this process
otherwise or while Redis fails, like revocations (``lapor.auth.revocations``).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections import OrderedDict

from redis.asyncio import Redis

from lapor.platform.keys import platform_key

log = logging.getLogger(__name__)

PAIR_THRESHOLD = 5
ACCOUNT_THRESHOLD = 20
MAX_DELAY_SECONDS = 300
FORGET_SECONDS = 900
_MAX_LOCAL = 100_000


def delay_after(failures: int, threshold: int) -> int:
    """Seconds to wait after the last failure, given how many there were."""
    if failures < threshold:
        return 0
    return min(MAX_DELAY_SECONDS, 2 ** (failures - threshold))


class LoginThrottle:
    def __init__(self, redis: Redis | None, clock=time.time) -> None:
        self.redis = redis
        self._clock = clock
        self._local: OrderedDict[str, tuple[int, float]] = OrderedDict()

    @staticmethod
    def _keys(email: str, ip: str) -> tuple[str, str]:
        account = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
        return platform_key("login-fail", "pair", account, ip), platform_key("login-fail", "acct", account)

    async def wait_seconds(self, email: str, ip: str) -> int:
        """How long this address must still wait before a password for ``email`` is checked."""
        pair, account = self._keys(email, ip)
        now = self._clock()
        wait = 0.0
        for key, threshold in ((pair, PAIR_THRESHOLD), (account, ACCOUNT_THRESHOLD)):
            count, last = await self._read(key)
            wait = max(wait, last + delay_after(count, threshold) - now)
        return math.ceil(wait) if wait > 0 else 0

    async def failed(self, email: str, ip: str) -> None:
        for key in self._keys(email, ip):
            await self._bump(key)

    async def succeeded(self, email: str, ip: str) -> None:
        for key in self._keys(email, ip):
            self._local.pop(key, None)
            if self.redis is not None:
                try:
                    await self.redis.delete(key)
                except Exception as error:
                    log.warning("could not clear a login counter in Redis: %s", error)

    async def _read(self, key: str) -> tuple[int, float]:
        if self.redis is not None:
            try:
                count, last = await self.redis.hmget(key, ["n", "last"])
                remote = (int(count or 0), float(last or 0))
            except Exception as error:
                log.warning("could not read a login counter in Redis: %s", error)
            else:
                return max(remote, self._local_read(key))
        return self._local_read(key)

    def _local_read(self, key: str) -> tuple[int, float]:
        count, last = self._local.get(key, (0, 0.0))
        if last + FORGET_SECONDS <= self._clock():
            self._local.pop(key, None)
            return 0, 0.0
        return count, last

    async def _bump(self, key: str) -> None:
        now = self._clock()
        if self.redis is not None:
            try:
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.hincrby(key, "n", 1).hset(key, "last", repr(now)).expire(key, FORGET_SECONDS)
                    await pipe.execute()
                return
            except Exception as error:
                log.warning("could not count a failed login in Redis, counting here: %s", error)
        count, _last = self._local_read(key)
        self._local.pop(key, None)
        self._local[key] = (count + 1, now)
        while len(self._local) > _MAX_LOCAL:
            self._local.popitem(last=False)
