"""The REST side's check of a signed call: a token that verifies, a nonce never seen, and a query
hash recomputed from the request as received (docs/upbit.md §6), by Upbit's rule written apart from
the SDK's, so a client that spells a value one way and hashes it another is refused."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import unquote

from .rest_params import RestError, text
from .tokens import Nonces, TokenCheck


def authorize(check: TokenCheck | None, raw_query: str, raw_body: bytes, nonces: Nonces) -> None:
    """The token verified, its nonce is new, and its query hash matches the parameters sent."""
    if check is None or not check.ok or check.nonce is None:
        reason = check.reason if check is not None else "missing Authorization header"
        raise RestError(401, "jwt_verification", f"Failed to verify Jwt token: {reason}.")
    if not nonces.claim(check.nonce):
        raise RestError(401, "nonce_used", "This nonce has been used before.")
    hashed = hashed_text(raw_query, raw_body)
    if hashed is None:
        return
    claimed = check.claims.get("query_hash")
    expected = hashlib.sha512(hashed.encode("utf-8")).hexdigest()
    if (not isinstance(claimed, str) or claimed.lower() != expected
            or check.claims.get("query_hash_alg") != "SHA512"):
        raise RestError(401, "invalid_query_payload",
                        "query_hash does not match the parameters sent (SHA512 expected).")


class _Written(str):
    """A number of a JSON body, as the body wrote it (``1e-05`` stays ``1e-05``)."""


def hashed_text(raw_query: str, raw_body: bytes) -> str | None:
    """What a token's ``query_hash`` must be the SHA-512 of (docs/upbit.md §6), or None when the
    request has no parameters. Written from the request as received, independently of the SDK."""
    if raw_query:
        return unquote(raw_query)
    try:
        body = json.loads(raw_body.decode("utf-8"), parse_float=_Written, parse_int=_Written,
                          parse_constant=_Written)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    pairs: list[str] = []
    for key, value in body.items():
        if value is None:  # a null is no parameter: neither sent as a pair nor hashed
            continue
        if isinstance(value, list):
            name, items = (key if key.endswith("[]") else f"{key}[]"), value
        else:
            name, items = key, [value]
        for item in items:
            if item is None or isinstance(item, (dict, list)):
                raise RestError(401, "invalid_query_payload",
                                f"{key} holds a value that has no query form, so no hash can match it.")
            pairs.append(f"{name}={text(item)}")
    # unquote(urlencode(pairs)): every character as it is but the space, which urlencode writes "+"
    return "&".join(pairs).replace(" ", "+") if pairs else None
