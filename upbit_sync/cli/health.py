"""``upbit-sync health``: ask a health endpoint (``manager.serve_health()``) and say, in one line and by
the exit status, whether it is healthy."""

from __future__ import annotations

import argparse
import http.client
import json
import urllib.error
from urllib.parse import urlsplit, urlunsplit

from ..redact import redact, redact_url
from .deadline_http import get_within
from .failure import reason, usage
from .parser import CommandLine, positive

HEALTH_PATH = "/healthz"
HEALTH_TIMEOUT_MAX = 3600.0  # a probe that waits longer has no use, and a socket timeout must fit a time_t

_HELP = """\
Ask a health endpoint (the SDK's manager.serve_health(), GET /healthz by default) and print one line:
'healthy', or 'unhealthy: <reasons>'. Exit 0 when it answers 200 with {"healthy": true}, 1 otherwise
(503, no answer within --timeout, not a health report), 2 for a URL that is not one. A user and
password in the URL are sent as basic auth and shown masked."""

_EXAMPLES = """\
examples:
  upbit-sync health 127.0.0.1:8080
  upbit-sync health http://bot.internal:9000/healthz --timeout 2"""


def register(cli: CommandLine) -> None:
    health = cli.add("health", "check a health endpoint: exit 0 when healthy", _HELP, _EXAMPLES)
    health.add_argument("url", metavar="URL", help="e.g. 127.0.0.1:8080 (/healthz is added when no path)")
    health.add_argument("--timeout", type=_timeout, default=5.0,
                        help="seconds the whole check may take (default 5, at most 3600)")
    health.set_defaults(run=run)


def _timeout(text: str) -> float:
    """``health --timeout``: more than 0 and at most HEALTH_TIMEOUT_MAX seconds."""
    value = positive(text)
    if value > HEALTH_TIMEOUT_MAX:
        raise argparse.ArgumentTypeError(f"must be at most {HEALTH_TIMEOUT_MAX:g} seconds, not {text}")
    return value


def _url(text: str) -> str:
    """The URL to ask: ``http://`` when no scheme is given, ``/healthz`` when no path is."""
    url = text if "://" in text else f"http://{text}"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError as exc:
        raise usage(f"not a URL: {redact_url(text)!r} ({redact(str(exc))})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise usage(f"not an http:// or https:// URL with a host: {redact_url(text)!r}")
    path = parts.path if parts.path not in ("", "/") else HEALTH_PATH
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def run(args: argparse.Namespace) -> int:
    url = _url(args.url)
    shown = redact_url(url)
    try:
        status, body = get_within(url, args.timeout)
    except urllib.error.URLError as exc:
        cause = exc.reason
        why = reason(cause) if isinstance(cause, OSError) else str(cause)
        if isinstance(cause, TimeoutError):
            why = f"no answer within {args.timeout:g} s"
        print(f"unhealthy: cannot reach {shown}: {redact(why)}", flush=True)
        return 1
    except TimeoutError:
        print(f"unhealthy: no answer from {shown} within {args.timeout:g} s", flush=True)
        return 1
    except (OSError, http.client.HTTPException) as exc:
        print(f"unhealthy: {shown}: {redact(str(exc)) or type(exc).__name__}", flush=True)
        return 1
    try:
        report = json.loads(body)
    except ValueError:
        report = None
    if not isinstance(report, dict) or not isinstance(report.get("healthy"), bool):
        print(f"unhealthy: {shown} answered {status} without a health report (JSON with \"healthy\")",
              flush=True)
        return 1
    if status == 200 and report["healthy"]:
        print("healthy", flush=True)
        return 0
    reasons = [redact(str(r)) for r in report.get("reasons") or []]
    print(f"unhealthy: {'; '.join(reasons) or f'{shown} answered {status}'}", flush=True)
    return 1
