"""to_default(to_simple(x)) == x for any DEFAULT-keyed message of a known type."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from upbit_sync import formats
from upbit_sync.protocol import ALL_TYPES

PROPERTY = settings(max_examples=150, deadline=None, derandomize=True, database=None)

values = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)

# Keys no map knows in either direction: they must pass through untouched.
unknown_keys = st.text(min_size=1, max_size=8).map(lambda key: "x_" + key)


def _items(key_map: formats.KeyMap) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(sorted(key_map.simple)) | unknown_keys, values,
                           max_size=6)


@st.composite
def default_messages(draw: st.DrawFn) -> dict[str, Any]:
    message_type = draw(st.sampled_from((*ALL_TYPES, "LIST_SUBSCRIPTIONS")))
    if message_type == "LIST_SUBSCRIPTIONS":
        key_map = formats.LIST_SUBSCRIPTIONS
        message = draw(_items(key_map))
        message["method"] = "LIST_SUBSCRIPTIONS"
    else:
        key_map = formats.BY_TYPE[message_type]
        message = draw(_items(key_map))
        message["type"] = message_type
    for list_field, item_map in key_map.nested.items():
        message[list_field] = draw(st.lists(_items(item_map), max_size=3))
    return message


@PROPERTY
@given(default_messages())
def test_to_default_of_to_simple_is_the_identity(message: dict[str, Any]) -> None:
    assert formats.to_default(formats.to_simple(message)) == message


@PROPERTY
@given(default_messages())
def test_to_simple_renames_known_keys_and_keeps_unknown_ones(message: dict[str, Any]) -> None:
    key_map = formats.LIST_SUBSCRIPTIONS if "method" in message else formats.BY_TYPE[
        message["type"]
    ]
    expected = {key_map.simple.get(key, key) for key in message}
    assert set(formats.to_simple(message)) == expected
