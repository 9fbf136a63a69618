"""Upbit's wire protocol: validate subscriptions, build request frames, decode server frames.

Pure functions and values, no I/O and no threads (docs/upbit.md §2-§3 are the facts used here), in
three modules, every name of which is here too:

- ``requests``: the type names and endpoints, ``make_spec`` and ``StreamSpec``, ``build_request``
- ``decoding``: one object into its typed message, strictly (``typed_decoder``) or carefully
  (``to_message``)
- ``frames``: loading a frame as JSON, ``decode``, and ``FrameReader``, which sorts a frame's objects
"""

from __future__ import annotations

from .decoding import CLASSES, EXACT_CLASSES, INFO_CLASSES, STRICT_ERRORS, to_message, typed_decoder
from .frames import (
    BadFrameHandler,
    ControlHandler,
    DataHandler,
    FrameReader,
    decode,
    load,
    load_bytes,
    load_exact,
    parse,
    parse_wire,
)
from .requests import (
    ALL_TYPES,
    INFO,
    KEYED_TYPES,
    ORDERBOOK_DEPTHS,
    PRIVATE,
    PRIVATE_TYPES,
    PUBLIC,
    PUBLIC_TYPES,
    REALTIME_TYPES,
    SNAPSHOT_TYPES,
    WIRE_FORMATS,
    StreamSpec,
    build_list_subscriptions,
    build_request,
    endpoint_for,
    endpoint_of,
    is_private,
    make_spec,
    market_codes,
    new_ticket,
)

__all__ = [
    "ALL_TYPES", "CLASSES", "EXACT_CLASSES", "INFO", "INFO_CLASSES", "KEYED_TYPES", "ORDERBOOK_DEPTHS",
    "PRIVATE", "PRIVATE_TYPES", "PUBLIC", "PUBLIC_TYPES", "REALTIME_TYPES", "SNAPSHOT_TYPES",
    "STRICT_ERRORS", "WIRE_FORMATS", "BadFrameHandler", "ControlHandler", "DataHandler", "FrameReader",
    "StreamSpec", "build_list_subscriptions", "build_request", "decode", "endpoint_for", "endpoint_of",
    "is_private", "load", "load_bytes", "load_exact", "make_spec", "market_codes", "new_ticket", "parse",
    "parse_wire", "to_message", "typed_decoder",
]
