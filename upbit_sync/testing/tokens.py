"""JWTs for the fake exchange: make them like Upbit's clients do, verify them like Upbit does.

Upbit signs ``{"access_key", "nonce"}`` (plus ``query_hash`` for REST calls with parameters) with the
raw secret, HS256 or HS512 (docs/upbit.md §6). A nonce is good once, across the private WebSocket
and REST alike (:class:`Nonces`).
Its 40-character secrets are shorter than an HS512 digest, so PyJWT would warn on every token; this
module uses its own PyJWS instance whose HMAC skips that check, instead of touching the
process-wide warning filters from a server thread.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from jwt.algorithms import HMACAlgorithm

TEST_ACCESS_KEY = "fakeUpbitAccessKey0123456789abcdefABCDEF"
TEST_SECRET_KEY = "fakeUpbitSecretKey0123456789abcdefABCDEF"
ALGORITHMS = ("HS256", "HS512")


class _QuietHMAC(HMACAlgorithm):
    """HMAC that does not warn about short keys: Upbit's own secrets are 40 characters."""

    def check_key_length(self, key: bytes) -> str | None:
        return None


# Signs with any algorithm PyJWT knows (tests need wrong ones too); verification passes ALGORITHMS.
_JWS = jwt.PyJWS()
for _name, _hash in (
    ("HS256", HMACAlgorithm.SHA256),
    ("HS384", HMACAlgorithm.SHA384),
    ("HS512", HMACAlgorithm.SHA512),
):
    _JWS.unregister_algorithm(_name)
    _JWS.register_algorithm(_name, _QuietHMAC(_hash))


@dataclass(frozen=True)
class TokenCheck:
    """The outcome of checking an ``Authorization`` header: the access key, or why it failed.

    ``claims`` is the verified payload (``query_hash`` and the like); empty when the check failed.
    """

    access_key: str | None
    nonce: str | None
    reason: str
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        return self.access_key is not None


class Nonces:
    """The nonces seen so far; thread-safe. Upbit refuses a token whose nonce it has seen before."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: set[str] = set()

    def claim(self, nonce: str) -> bool:
        """True the first time a nonce is claimed, False ever after."""
        with self._lock:
            if nonce in self._seen:
                return False
            self._seen.add(nonce)
            return True


def make_token(
    access_key: str = TEST_ACCESS_KEY,
    secret_key: str = TEST_SECRET_KEY,
    *,
    algorithm: str = "HS512",
    nonce: str | None = None,
    **claims: Any,
) -> str:
    """A signed token as an Upbit client makes it (fresh uuid4 nonce unless one is given)."""
    payload = {"access_key": access_key, "nonce": str(uuid.uuid4()) if nonce is None else nonce, **claims}
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return _JWS.encode(body, secret_key, algorithm=algorithm)


def bearer(token: str) -> str:
    """The ``Authorization`` header value for a token."""
    return f"Bearer {token}"


def check_authorization(header: str | None, keys: Mapping[str, str]) -> TokenCheck:
    """Verify a ``Bearer`` header against known key pairs; nonce reuse is the caller's to check."""
    if not header:
        return TokenCheck(None, None, "missing Authorization header")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return TokenCheck(None, None, "not a Bearer token")
    token = token.strip()
    try:
        unverified = json.loads(_JWS.decode(token, options={"verify_signature": False}))
    except (jwt.PyJWTError, ValueError):
        return TokenCheck(None, None, "malformed token")
    if not isinstance(unverified, dict):
        return TokenCheck(None, None, "malformed token")
    access_key = unverified.get("access_key")
    nonce = unverified.get("nonce")
    if not isinstance(access_key, str) or access_key not in keys:
        return TokenCheck(None, None, "unknown access key")
    if not isinstance(nonce, str) or not nonce:
        return TokenCheck(None, None, "missing nonce")
    try:
        _JWS.decode(token, keys[access_key], algorithms=list(ALGORITHMS))
    except jwt.InvalidAlgorithmError:
        return TokenCheck(None, None, "algorithm not accepted")
    except jwt.PyJWTError:
        return TokenCheck(None, None, "bad signature")
    return TokenCheck(access_key, nonce, "ok", unverified)
