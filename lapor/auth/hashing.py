"""Hashes for what we must check but never keep: passwords, client secrets, codes, tokens.

Passwords use argon2 with its default (memory-hard, 64 MiB) parameters: people choose passwords.
That memory is also an attacker's lever (issue 9 item 5: 40 concurrent wrong guesses took a
process to 2.3 GiB), so at most ``MAX_CONCURRENT_HASHES`` argon2 verifications run at once in a
process; a caller that cannot get a slot within ``HASH_WAIT_SECONDS`` gets ``HashingBusy`` (the
routes answer 429 with a code) instead of queueing without bound.

Client secrets are 256-bit random strings, not chosen by people: a keyed fast hash (HMAC-SHA256
under a key derived from the platform secret) is as strong against guessing and costs nothing
per request. Secrets hashed with argon2 before still verify (through the bounded gate) and are
re-hashed with HMAC on their first successful use. Authorization codes and refresh tokens are
256-bit random too; SHA-256 is enough for those and lets us look them up by hash.
"""

from __future__ import annotations

import hashlib
import hmac
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MAX_CONCURRENT_HASHES = 2
"""Argon2 verifications at once per process (64 MiB each); the machine has few cores anyway."""
HASH_WAIT_SECONDS = 2.0
"""How long a login waits for a free hashing slot before it is told to retry (429)."""
HMAC_PREFIX = "hmac-sha256$"

_hasher = PasswordHasher()
_DUMMY = _hasher.hash("not-a-real-password")
_gate = threading.BoundedSemaphore(MAX_CONCURRENT_HASHES)


class HashingBusy(Exception):
    """Every hashing slot stayed taken for ``HASH_WAIT_SECONDS``: the caller should retry later."""


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def _argon2_verify(stored: str, candidate: str) -> bool:
    """The memory-hard step itself (a seam tests replace to count concurrent entries)."""
    return _hasher.verify(stored, candidate)


def verify_secret(stored: str | None, candidate: str) -> bool:
    """Same work for unknown accounts (``stored`` None) as for wrong passwords; bounded concurrency."""
    if not _gate.acquire(timeout=HASH_WAIT_SECONDS):
        raise HashingBusy
    try:
        return _argon2_verify(stored or _DUMMY, candidate) and stored is not None
    except (VerificationError, InvalidHashError):
        return False
    finally:
        _gate.release()


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ClientSecretHasher:
    """HMAC-SHA256 for client secrets, keyed by a key derived from the platform secret."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def hash(self, secret: str) -> str:
        return HMAC_PREFIX + hmac.new(self._key, secret.encode(), hashlib.sha256).hexdigest()

    def verify(self, stored: str, candidate: str) -> tuple[bool, str | None]:
        """Whether ``candidate`` matches, and the HMAC hash to store instead of a legacy argon2 one."""
        if stored.startswith(HMAC_PREFIX):
            return hmac.compare_digest(stored, self.hash(candidate)), None
        if verify_secret(stored, candidate):
            return True, self.hash(candidate)
        return False, None
