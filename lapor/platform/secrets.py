"""Secrets of the platform: reporter data encryption, fingerprints, access codes.

* Reporter names and contacts are encrypted with AES-256-GCM before they reach the database, so
  a dump of a tenant schema does not reveal who complained.
* Fingerprints (who supported a report, which reporter is the same person) are HMACs: equal
  inputs give equal fingerprints, but a fingerprint does not give the phone number back.
* Access codes are 12 characters from a 32-letter alphabet (60 bits), stored as argon2 hashes.
  Argon2 runs with small parameters on purpose: the codes are random, not chosen by people, so
  the work factor adds nothing against guessing 2**60 values, while it would dominate the cost
  of every submission. A channel submission's code is derived from its (channel, reference)
  with an HMAC, so a gateway's retry gets the same code back without us keeping it.

All keys derive from one master key (``LAPOR_SECRET_KEY``) with HKDF, one key per purpose.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from lapor.settings import Settings, SettingsError

log = logging.getLogger(__name__)

ACCESS_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I, O, 0, 1: read aloud over SMS
ACCESS_CODE_LENGTH = 12
_NONCE_BYTES = 12
_hasher = PasswordHasher(time_cost=1, memory_cost=2048, parallelism=1)
# Verified when a tracking id is unknown, so unknown ids and wrong codes take the same time.
_DUMMY_HASH = _hasher.hash("DUMMYDUMMYDU")


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"lapor " + purpose).derive(master)


def normalize_access_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def format_access_code(code: str) -> str:
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


class Secrets:
    def __init__(self, master: bytes) -> None:
        if len(master) < 32:
            raise SettingsError("LAPOR_SECRET_KEY must hold at least 32 bytes")
        self._cipher = AESGCM(_derive(master, b"reporter encryption"))
        self._fingerprint_key = _derive(master, b"fingerprint")
        self._code_key = _derive(master, b"access code")
        self.form_key = _derive(master, b"login form")
        """Keys the CSRF tokens of the OAuth login form."""
        self.client_secret_key = _derive(master, b"client secret")
        """Keys the HMAC-SHA256 hashes of OAuth client secrets (random, so no memory-hard hash)."""

    def encrypt(self, plaintext: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._cipher.encrypt(nonce, plaintext.encode(), b"reporter")

    def decrypt(self, blob: bytes) -> str:
        return self._cipher.decrypt(blob[:_NONCE_BYTES], blob[_NONCE_BYTES:], b"reporter").decode()

    def fingerprint(self, identifier: str) -> str:
        normalized = " ".join(identifier.strip().casefold().split())
        return hmac.new(self._fingerprint_key, normalized.encode(), hashlib.sha256).hexdigest()

    def new_access_code(self, *, derive_from: str | None = None) -> str:
        """A fresh random code, or (for an idempotent retry) one derived from ``derive_from``."""
        if derive_from is None:
            return "".join(secrets.choice(ACCESS_CODE_ALPHABET) for _ in range(ACCESS_CODE_LENGTH))
        digest = hmac.new(self._code_key, derive_from.encode(), hashlib.sha256).digest()
        return "".join(ACCESS_CODE_ALPHABET[b % 32] for b in digest[:ACCESS_CODE_LENGTH])


def hash_access_code(code: str) -> str:
    return _hasher.hash(normalize_access_code(code))


def verify_access_code(stored_hash: str | None, code: str) -> bool:
    """Constant work whether or not the complaint exists (``stored_hash`` None)."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, normalize_access_code(code)) and bool(stored_hash)
    except (VerificationError, InvalidHashError):
        return False


def _decode_key(raw: str) -> bytes:
    raw = raw.strip()
    for decode in (bytes.fromhex, base64.b64decode, base64.urlsafe_b64decode):
        try:
            key = decode(raw)
        except (ValueError, binascii.Error):
            continue
        if len(key) >= 32:
            return key
    raise SettingsError("LAPOR_SECRET_KEY must be at least 32 random bytes, hex or base64 encoded")


def load_secrets(settings: Settings) -> Secrets:
    if settings.secret_key:
        return Secrets(_decode_key(settings.secret_key))
    path = Path(settings.data_dir) / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32))
        log.warning("no LAPOR_SECRET_KEY: created %s; back it up, every API process needs it", path)
    return Secrets(_decode_key(path.read_text()))
