"""The protocol buffers wire format, as far as OTLP spans need it.

Only encoding, and only the field types OTLP traces use: varints, fixed 32 and
64 bit numbers, doubles and length-delimited fields (strings, bytes and nested
messages). Every function returns ``bytes`` ready to be joined.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence

_FIXED64 = struct.Struct("<Q").pack
_FIXED32 = struct.Struct("<I").pack
_DOUBLE = struct.Struct("<d").pack
_ONE_BYTE = tuple(bytes((value,)) for value in range(128))

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


def varint(value: int) -> bytes:
    """Encode a non-negative integer below 2**64, or an int64 as two's complement."""
    if 0 <= value < 128:
        return _ONE_BYTE[value]
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while value > 127:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def tag(field: int, wire_type: int) -> bytes:
    """Encode the key that precedes a field: its number and wire type."""
    return varint(field << 3 | wire_type)


def delimited(key: bytes, payload: bytes) -> bytes:
    """Encode a length-delimited field: string, bytes or nested message."""
    return key + varint(len(payload)) + payload


def text(value: str) -> bytes:
    """Return the UTF-8 bytes of a string field.

    Protocol buffers strings must be valid UTF-8, and the Collector rejects a
    whole request that contains one invalid string, so lone surrogates become U+FFFD.
    """
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        # Through UTF-16, a surrogate pair becomes its character and a lone
        # surrogate becomes U+FFFD.
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace").encode()


def fixed64(value: int) -> bytes:
    return _FIXED64(value)


def fixed32(value: int) -> bytes:
    return _FIXED32(value)


# AnyValue (opentelemetry.proto.common.v1): one field of a oneof, always written,
# even when it contains the type's default, because a oneof records which one is set.
_STRING_VALUE = tag(1, 2)
_BOOL_VALUE = tag(2, 0)
_INT_VALUE = tag(3, 0)
_DOUBLE_VALUE = tag(4, 1)
_ARRAY_VALUE = tag(5, 2)
_KVLIST_VALUE = tag(6, 2)
_BYTES_VALUE = tag(7, 2)
# ArrayValue.values, KeyValueList.values, KeyValue.key and KeyValue.value.
_VALUES = tag(1, 2)
_KEY = tag(1, 2)
_VALUE = tag(2, 2)


def any_value(value: object) -> bytes:
    """Encode an attribute value as the content of an AnyValue message.

    The checks run in the order the OpenTelemetry SDK's encoder uses, so a
    ``str`` is a string, not a sequence, and a ``bool`` is not an int. Raises
    ``TypeError`` for a type OTLP cannot carry and ``ValueError`` for an int
    outside int64.
    """
    if value is None:
        return b""
    if isinstance(value, bool):
        return _BOOL_VALUE + (b"\x01" if value else b"\x00")
    if isinstance(value, str):
        return delimited(_STRING_VALUE, text(value))
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError(f"integer attribute value {value} does not fit in int64")
        return _INT_VALUE + varint(value)
    if isinstance(value, float):
        return _DOUBLE_VALUE + _DOUBLE(value)
    if isinstance(value, bytes):
        return delimited(_BYTES_VALUE, value)
    if isinstance(value, Sequence):
        items = b"".join(delimited(_VALUES, any_value(item)) for item in value)
        return delimited(_ARRAY_VALUE, items)
    if isinstance(value, Mapping):
        pairs = b"".join(delimited(_VALUES, key_value(str(k), v)) for k, v in value.items())
        return delimited(_KVLIST_VALUE, pairs)
    raise TypeError(f"attribute value of type {type(value).__name__} cannot be encoded")


def key_value(key: str, value: object) -> bytes:
    """Encode the content of a KeyValue message."""
    encoded_key = delimited(_KEY, text(key)) if key else b""
    return encoded_key + delimited(_VALUE, any_value(value))
