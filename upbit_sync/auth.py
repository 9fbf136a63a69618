"""JWT tokens and query hashes for Upbit's private WebSocket and REST (docs/upbit.md §6)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlencode

from .errors import AuthenticationError

_signer: Any = None  # made on first use: PyJWT (with cryptography, when installed) costs megabytes


def _jws() -> Any:
    """A private PyJWS signer whose HS512 skips PyJWT's key-length warning.

    Upbit issues 40-character secrets and recommends HS512, whose digest is 64 bytes: PyJWT would warn
    on every connect about a key length the user cannot change. The warning is dropped here, on a
    private signer, rather than by a process-wide warnings filter that would hide it for other code.
    """
    global _signer
    if _signer is None:
        import jwt
        from jwt.algorithms import HMACAlgorithm

        class UpbitHMAC(HMACAlgorithm):
            def check_key_length(self, key: bytes) -> str | None:
                return None

        signer = jwt.PyJWS()
        signer.unregister_algorithm("HS512")
        signer.register_algorithm("HS512", UpbitHMAC(HMACAlgorithm.SHA512))
        _signer = signer
    return _signer


class Credentials:
    """An access/secret key pair; its repr and str never show the secret."""

    __slots__ = ("_secret", "access_key")

    def __init__(self, access_key: str, secret_key: str) -> None:
        if not access_key or not secret_key:
            raise AuthenticationError("both an access key and a secret key are required")
        self.access_key = access_key
        self._secret = secret_key

    def __repr__(self) -> str:
        return f"Credentials(access_key={_mask(self.access_key)!r}, secret_key='***')"

    __str__ = __repr__

    def token(self, query: Mapping[str, Any] | str | None = None) -> str:
        """A fresh HS512 JWT with a new nonce (and a query hash when the request has parameters)."""
        return make_token(self.access_key, self._secret, query)

    def header(self) -> list[str]:
        """The upgrade header for the private WebSocket; call it for every connect."""
        return [f"Authorization: Bearer {self.token()}"]


def _mask(key: str) -> str:
    return key[:4] + "…" if len(key) > 8 else "…"


def make_token(
    access_key: str, secret_key: str, query: Mapping[str, Any] | str | None = None
) -> str:
    """An HS512 token: ``access_key``, a uuid4 ``nonce``, and ``query_hash`` when ``query`` is given."""
    payload: dict[str, Any] = {"access_key": access_key, "nonce": str(uuid.uuid4())}
    if query:
        payload["query_hash"] = query_hash(query)
        payload["query_hash_alg"] = "SHA512"
    body = json.dumps(payload, separators=(",", ":")).encode()
    token: str = _jws().encode(body, secret_key.encode("utf-8"), algorithm="HS512")
    return token


def query_string(params: Mapping[str, Any] | str) -> str:
    """The query string Upbit hashes: not URL-encoded, lists as ``k[]=a&k[]=b``."""
    if isinstance(params, str):
        return params
    pairs: list[tuple[str, Any]] = []
    for key, value in params.items():
        if isinstance(value, (list, tuple)):
            name = key if key.endswith("[]") else f"{key}[]"
            pairs.extend((name, item) for item in value)
        else:
            pairs.append((key, value))
    return unquote(urlencode(pairs))


def query_hash(params: Mapping[str, Any] | str) -> str:
    """Hex SHA-512 of :func:`query_string` (the ``query_hash`` claim)."""
    return hashlib.sha512(query_string(params).encode("utf-8")).hexdigest()
