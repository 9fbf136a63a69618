"""Where the commands connect, and what they check before they do: the exchange (Upbit, or the fake one
with ``--fake``), the market codes, the keys, and the subscriptions, each refusal one line."""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..client import WebSocketClient
from ..config import Config
from ..errors import AuthenticationError, ConfigError, InvalidRequestError, UpbitError
from ..protocol import PRIVATE_TYPES, make_spec
from ..rest import RestClient
from ..subscriptions import Subscription
from .failure import Failure, usage

if TYPE_CHECKING:
    from ..testing import FakeUpbitServer

log = logging.getLogger("upbit_sync.cli")  # the command line's one logger, whichever module speaks

NEED_TESTING = "the fake exchange needs the 'testing' extra: pip install 'upbit-sync[testing]'"


def fake_exchange() -> type[FakeUpbitServer]:
    """The fake exchange's class, or a usage failure when the 'testing' extra is not installed."""
    try:
        from ..testing import FakeUpbitServer
    except ImportError:
        raise usage(NEED_TESTING) from None
    return FakeUpbitServer


def exchange_config(args: argparse.Namespace, stack: contextlib.ExitStack) -> Config:
    """``--fake``: a fake exchange started on ``stack`` (with the keys it accepts, so myOrder/myAsset
    work too); otherwise Config.from_env(): Upbit unless UPBIT_WS_URL, UPBIT_REST_URL... say otherwise."""
    if not args.fake:
        try:
            return Config.from_env()
        except ConfigError as exc:
            raise usage(f"the UPBIT_* environment: {exc}") from None
    server = stack.enter_context(fake_exchange()())
    from ..testing import TEST_ACCESS_KEY, TEST_SECRET_KEY

    return Config(public_url=server.public_url, private_url=server.private_url, rest_url=server.rest_url,
                  access_key=TEST_ACCESS_KEY, secret_key=TEST_SECRET_KEY)


def market_codes(words: Sequence[str]) -> list[str]:
    """Market codes from the command line: separate words, or comma-separated, repeats dropped."""
    return list(dict.fromkeys(code for word in words for code in word.split(",") if code))


def check_subscription(kind: str, codes: Sequence[str] | None, **options: Any) -> None:
    """The SDK's own checks of a type, codes and options, before anything is started."""
    try:
        make_spec(kind, codes, **options)
    except InvalidRequestError as exc:
        raise usage(str(exc)) from None


def check_listed(rest: RestClient, codes: Sequence[str]) -> None:
    """Upbit ignores a well-formed code it does not list, without a word: say so now. When the list
    cannot be had, the codes go unchecked (the connection will tell what is wrong)."""
    if not codes:
        return
    try:
        listed = {market.market for market in rest.markets()}
    except UpbitError as exc:
        log.info("market codes not checked against the exchange's list: %s", exc)
        return
    unknown = [code for code in codes if code not in listed]
    if unknown:
        raise usage(f"the exchange lists no market {', '.join(unknown)} (see 'upbit-sync markets')")


def check_keys(config: Config, kinds: Sequence[str]) -> None:
    """myOrder and myAsset need API keys: say so before connecting anywhere."""
    private = [kind for kind in kinds if kind in PRIVATE_TYPES]
    if private and not config.has_keys:
        raise usage(f"{' and '.join(private)} need API keys: set UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY "
                    "(or use --fake)")


def quoted(rest: RestClient, quote: str) -> list[str]:
    """Every market the exchange lists in ``quote`` (``--all-markets``), asked once for all types."""
    try:
        codes = [market.market for market in rest.markets(quote=quote)]
    except UpbitError as exc:
        raise Failure(f"cannot list the markets: {exc}") from None
    if not codes:
        raise usage(f"the exchange lists no market quoted in {quote!r}")
    return codes


def subscribe(client: WebSocketClient, kind: str, codes: Sequence[str] | None,
              callback: Callable[[dict[str, Any]], None], **options: Any) -> Subscription:
    """``client.subscribe`` of DEFAULT-keyed dicts, its refusals turned into failures of the command."""
    try:
        subscribe: Callable[..., Subscription] = client.subscribe
        return subscribe(kind, codes, callback, raw=True, **options)
    except InvalidRequestError as exc:
        raise usage(str(exc)) from None
    except AuthenticationError as exc:
        raise usage(f"{exc} (set UPBIT_ACCESS_KEY and UPBIT_SECRET_KEY, or use --fake)") from None
    except UpbitError as exc:  # a REST call behind the subscription (a level check)
        raise Failure(str(exc)) from None
