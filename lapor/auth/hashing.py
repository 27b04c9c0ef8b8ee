"""Hashes for what we must check but never keep: passwords, client secrets, codes, tokens.

Passwords and client secrets use argon2 with its default (memory-hard) parameters: people choose
passwords, and a leaked client secret table must not be cheap to crack. Authorization codes and
refresh tokens are 256-bit random strings; SHA-256 is enough for those and lets us look them up
by hash.
"""

from __future__ import annotations

import hashlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
_DUMMY = _hasher.hash("not-a-real-password")


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(stored: str | None, candidate: str) -> bool:
    """Same work for unknown accounts (``stored`` None) as for wrong passwords."""
    try:
        return _hasher.verify(stored or _DUMMY, candidate) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
