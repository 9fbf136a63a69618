"""JWT tokens, and the wire spelling of REST parameters their query hashes are made of (docs/upbit.md §6)."""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import unquote, urlencode

from .errors import AuthenticationError, InvalidRequestError

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


# One parameter as it goes on the wire: text, a whole number or a flag; or a list of those (``k[]``).
Scalar = str | int | bool
WireValue = Scalar | list[Scalar]


@dataclass(frozen=True)
class WireParams:
    """A request's parameters in the one spelling that is both sent and hashed (docs/upbit.md §6).

    ``values`` is what a JSON body holds (its top-level pairs in order); ``pairs`` is what the query
    string, and the hash, are made of: lists as ``k[]=v`` one pair per item, booleans ``true`` and
    ``false``, numbers as their text. A body written from ``values`` spells every value as ``pairs``
    does, so the hash of either is the hash of what went out.
    """

    values: dict[str, WireValue]
    pairs: tuple[tuple[str, str], ...]

    @property
    def query(self) -> str:
        """The URL-encoded query string (``states%5B%5D=wait``), as sent."""
        return urlencode(self.pairs)

    @property
    def hashed(self) -> str:
        """The text Upbit hashes: the query string as sent, not URL-encoded (``states[]=wait``)."""
        return unquote(urlencode(self.pairs))


def wire_params(params: object, what: str = "params") -> WireParams:
    """``params`` in their wire spelling; InvalidRequestError naming the parameter (and ``what``: the
    query's ``params`` or the ``json`` body) that has none, before anything is sent.

    A None value is left out (neither sent nor hashed); a bool is ``true``/``false``; a float or a
    Decimal is the exact text of its value in plain notation (``1e-05`` is ``0.00001``), sent as text;
    NaN and infinities, nested mappings, empty lists, lists in lists and other types are refused.
    """
    if not isinstance(params, Mapping):
        raise InvalidRequestError(f"{what} must be a mapping of parameter names to values, "
                                  f"not {type(params).__name__}")
    values: dict[str, WireValue] = {}
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if not isinstance(key, str) or not key:
            raise InvalidRequestError(f"{what}: a parameter name must be a non-empty string, not {key!r}")
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            if not value:
                raise InvalidRequestError(f"{what}: parameter {key!r} is an empty list, which has no wire "
                                          "form (leave it out, or give it as None)")
            items = [_scalar(key, item, what) for item in value]
            name = key if key.endswith("[]") else f"{key}[]"
            values[key] = items
            pairs.extend((name, _spelled(item)) for item in items)
        else:
            scalar = _scalar(key, value, what)
            values[key] = scalar
            pairs.append((key, _spelled(scalar)))
    return WireParams(values, tuple(pairs))


def _scalar(key: str, value: object, what: str) -> Scalar:
    """One value (a list's item, or a parameter's) in its wire form."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)  # an IntEnum as its number
    if isinstance(value, str):
        return str.__str__(value)  # a str Enum as its text
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidRequestError(f"{what}: parameter {key!r} is {value!r}, which cannot be sent")
        return format(Decimal(repr(value)), "f")  # the shortest text of the float, no exponent
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidRequestError(f"{what}: parameter {key!r} is {value!r}, which cannot be sent")
        return format(value, "f")  # exact, trailing zeros kept, no exponent
    kind = "a mapping nested in a parameter" if isinstance(value, Mapping) else type(value).__name__
    raise InvalidRequestError(f"{what}: parameter {key!r} cannot be sent: {kind} ({value!r}); give text, "
                              "a number, True/False, or a list of those")


def _spelled(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def query_string(params: Mapping[str, Any] | str) -> str:
    """The query string Upbit hashes (:attr:`WireParams.hashed`): not URL-encoded, lists as
    ``k[]=a&k[]=b``; a string is taken as that text already."""
    if isinstance(params, str):
        return params
    return wire_params(params).hashed


def query_hash(params: Mapping[str, Any] | str) -> str:
    """Hex SHA-512 of :func:`query_string` (the ``query_hash`` claim)."""
    return hashlib.sha512(query_string(params).encode("utf-8")).hexdigest()
