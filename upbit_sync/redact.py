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
# a URL's scheme (letters, digits, "+", "-" and "."), and a URL within text: up to a space or a quote
_SCHEME = re.compile(r"(?i)\b[a-z][a-z0-9+.\-]*://")
_URL_IN_TEXT = re.compile(r"(?i)\b[a-z][a-z0-9+.\-]*://[^\s'\"<>]*")
# what may stand before the path when no userinfo does: a host (a name, an address, [IPv6]) and a port
# of digits; empty for sqlite:///path
_HOST_PORT = re.compile(r"(?:[a-z0-9._~%!$&'()*+,;=\-]*|\[[0-9a-f:.]+\])(?::\d*)?", re.IGNORECASE)


def _mask_one(url: str) -> str:
    """``url`` (starting with its scheme) with its userinfo masked: ``user:****@`` or ``****@``.

    The userinfo normally ends at the last "@" before the path. A password holding an unescaped
    "/", "?" or "#" would end the authority early (``wss://user:pa/ss@host``): when what stands
    before that delimiter is no host[:port], everything up to the URL's last "@" is taken as the
    userinfo, so such a password is masked whole rather than shown in part.
    """
    scheme = _SCHEME.match(url)
    if scheme is None or "@" not in url:
        return url
    rest = url[scheme.end():]
    end = next((i for i, c in enumerate(rest) if c in "/?#"), len(rest))
    authority = rest[:end]
    if "@" in authority:
        at = authority.rindex("@")
    elif not _HOST_PORT.fullmatch(authority):
        at = rest.rindex("@")
    else:
        return url  # an "@" in the path or query, after a plain host
    user, colon, _ = rest[:at].partition(":")
    shown = f"{user}:{MASK}" if colon and user and not any(c in user for c in "/?#") else MASK
    return f"{scheme.group()}{shown}{rest[at:]}"


def _mask_params(text: str) -> str:
    return _SECRET_PARAMS.sub(lambda found: found.group(1) + MASK, text) if "=" in text else text


def redact(text: str) -> str:
    """``text`` with the userinfo of every URL in it and every secret query value masked; a URL in
    text ends at a space or a quote."""
    if "@" in text:
        text = _URL_IN_TEXT.sub(lambda found: _mask_one(found.group()), text)
    return _mask_params(text)


def redact_url(url: str) -> str:
    """``url`` with its password (or a lone user part) and secret query values masked: what may be
    shown of it in a repr, a log line or an error. The whole string is one URL, spaces included."""
    if _SCHEME.match(url) is None:  # a mistyped scheme ("redis//:pw@host"): all before the "@" may be secret
        return _mask_params(f"{MASK}{url[url.rindex('@'):]}" if "@" in url else url)
    return _mask_params(_mask_one(url))
