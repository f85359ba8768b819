"""Reading the login identifier and replaying the body."""

from __future__ import annotations

from typing import Any

import pytest

from otel_flux.security.login import extract_identifier, read_body, replay


def scope(content_type: bytes, length: int | None = None) -> dict[str, Any]:
    headers = [(b"content-type", content_type)]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return {"headers": headers}


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        (b"application/json", b'{"email": "a@b.c"}', "a@b.c"),
        (b"application/json; charset=utf-8", b'{"email": "a@b.c"}', "a@b.c"),
        (b"application/vnd.api+json", b'{"email": "a@b.c"}', "a@b.c"),
        (b"application/x-www-form-urlencoded", b"email=a%40b.c&password=x", "a@b.c"),
        (b"application/json", b'{"email": 5}', None),
        (b"application/json", b'{"email": "  "}', None),
        (b"application/json", b'["a@b.c"]', None),
        (b"application/json", b"{not json", None),
        (b"application/json", b"[" * 100000, None),
        (b"application/x-www-form-urlencoded", b"\xff\xfe", None),
        (b"text/plain", b"email=a@b.c", None),
    ],
)
def test_extract_identifier(content_type: bytes, body: bytes, expected: str | None) -> None:
    """The identifier comes from JSON or form bodies; anything else yields None."""
    assert extract_identifier(scope(content_type), body, "email") == expected


async def test_read_body_joins_chunks() -> None:
    """A body in several chunks is read whole."""
    chunks = iter([b'{"email":', b' "a@b.c"}'])

    async def receive() -> dict[str, Any]:
        chunk = next(chunks)
        return {"type": "http.request", "body": chunk, "more_body": chunk.startswith(b"{")}

    result = await read_body(scope(b"application/json"), receive, 1024)

    assert result.body == b'{"email": "a@b.c"}'


async def test_read_body_stops_at_limit() -> None:
    """A body over the limit is reported as too large without reading it all."""
    reads = 0

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 100, "more_body": True}

    result = await read_body(scope(b"application/json"), receive, 250)

    assert result.too_large
    assert reads == 3


async def test_declared_length_over_limit_rejected_unread() -> None:
    """A Content-Length over the limit is rejected before reading."""

    async def receive() -> dict[str, Any]:
        raise AssertionError("the body must not be read")

    result = await read_body(scope(b"application/json", 10_000), receive, 1024)

    assert result.too_large


async def test_replay_then_defers() -> None:
    """The replayed receive yields the body once, then the server's messages."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    replayed = replay(b"body", receive)

    first = await replayed()
    second = await replayed()
    assert first == {"type": "http.request", "body": b"body", "more_body": False}
    assert second == {"type": "http.disconnect"}
