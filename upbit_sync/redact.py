"""Secrets out of what the SDK prints: the userinfo and the secret query values of a URL.

Every URL the SDK writes into a repr, a log line or an exception goes through :func:`redact_url`
(one URL) or :func:`redact` (any text that may hold URLs, such as a library's error message).
"""

from __future__ import annotations

import re

MASK = "****"
# query parameters whose values are secrets (redis-py reads ?password=, proxies and brokers the rest)
_SECRET_PARAMS = re.compile(r"(?i)([?&;](?:password|passwd|pass|pwd|secret|token|auth|access_key|"
                            r"secret_key|api_key|apikey)=)[^&;#\s'\"]*")
# scheme://userinfo@ : the userinfo ends at the last "@" before the path, and holds no "/", space
# or quote; a scheme is letters, digits, "+", "-" and "."
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)([^/?#\s'\"]*)@")


def _mask_userinfo(found: re.Match[str]) -> str:
    scheme, userinfo = found.group(1), found.group(2)
    user, colon, _ = userinfo.partition(":")
    if colon and user:  # user:password -> user:****
        return f"{scheme}{user}:{MASK}@"
    return f"{scheme}{MASK}@"  # :password, or a user part alone (often a token)


def redact(text: str) -> str:
    """``text`` with the userinfo of every URL in it and every secret query value masked."""
    if "@" in text:
        text = _USERINFO.sub(_mask_userinfo, text)
    if "=" in text:
        text = _SECRET_PARAMS.sub(lambda found: found.group(1) + MASK, text)
    return text


def redact_url(url: str) -> str:
    """``url`` with its password (or a lone user part) and secret query values masked: what may be
    shown of it in a repr, a log line or an error."""
    return redact(url)
