"""A minimal YAML writer for the generated rule files, so they need no YAML library.

Mappings and sequences use block style. Strings are written as JSON strings,
which YAML reads as double-quoted scalars, unless they are plain identifiers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./:-]*$")
# Plain words that YAML would read as booleans or null.
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}

Node = Mapping[str, "Node"] | Sequence["Node"] | str | int | float | bool | None


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text)


def _is_block(value: object) -> bool:
    return isinstance(value, Mapping | list | tuple) and len(value) > 0


def _lines(node: object, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(node, Mapping):
        lines = []
        for key, value in node.items():
            if _is_block(value):
                lines.append(f"{pad}{_scalar(key)}:")
                child_indent = indent if isinstance(value, list | tuple) else indent + 2
                lines.extend(_lines(value, child_indent))
            else:
                lines.append(f"{pad}{_scalar(key)}: {_empty_or_scalar(value)}")
        return lines
    if isinstance(node, list | tuple):
        lines = []
        for item in node:
            if _is_block(item):
                child = _lines(item, indent + 2)
                child[0] = f"{pad}- {child[0][indent + 2 :]}"
                lines.extend(child)
            else:
                lines.append(f"{pad}- {_empty_or_scalar(item)}")
        return lines
    return [f"{pad}{_scalar(node)}"]


def _empty_or_scalar(value: object) -> str:
    if isinstance(value, Mapping):
        return "{}"
    if isinstance(value, list | tuple):
        return "[]"
    return _scalar(value)


def dump(document: object, header: str = "") -> str:
    """Render a document of mappings, sequences and scalars as YAML text."""
    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return comment + "\n".join(_lines(document, 0)) + "\n"
