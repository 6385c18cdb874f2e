"""A minimal asyncio HTTP/1.1 client for etcd's JSON gateway and for peer engines.

Owns one thing: send one request, read one response. One connection per call (`Connection:
close`): the control plane makes a few calls a second, so reuse would buy nothing and a fresh
connection is never a stale one. Bodies are read by `Content-Length`, chunked (trailers
skipped) or to EOF, and are bounded. `stream_lines()` yields the newline-delimited JSON
messages of a streaming answer (etcd's watch) as they arrive. Every call takes its timeout
at the call site. Never used on the order path; holds no state between calls.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

BODY_SIZE_MAX_BYTES: Final = 16 * 1024 * 1024  # an assignment of 10k keys is ~0.3 MB
LINE_SIZE_MAX_BYTES: Final = 64 * 1024  # status line, one header, one chunk-size line
STREAM_BUFFER_MAX_BYTES: Final = 4 * 1024 * 1024  # one watch message (a full-prefix burst)


class HTTPError(Exception):
    """The call did not complete: connect, send, read, timeout or a malformed answer."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where to send: host and port of a plain-HTTP server."""

    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class HTTPReply:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


def parse_endpoint(url: str) -> Endpoint:
    """`http://host:port` (path ignored) -> Endpoint; ValueError names what is wrong."""
    parts = urlsplit(url.strip())
    if parts.scheme != "http":
        raise ValueError(f"{url!r}: only http:// endpoints are supported")
    if not parts.hostname:
        raise ValueError(f"{url!r}: no host")
    try:
        port = parts.port or 80
    except ValueError:
        raise ValueError(f"{url!r}: bad port") from None
    return Endpoint(parts.hostname, port)


async def request(
    endpoint: Endpoint,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    timeout_s: float,
) -> HTTPReply:
    """One request on a fresh connection, answered completely within `timeout_s`."""
    assert timeout_s > 0, timeout_s
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await _connect(endpoint)
            try:
                writer.write(_head(endpoint, method, path, len(body)) + body)
                await writer.drain()
                status, headers = await _read_head(reader)
                data = await _read_body(reader, headers)
            finally:
                writer.close()
    except TimeoutError:
        raise HTTPError(
            f"{method} {endpoint.url}{path}: no complete answer within {timeout_s:.3g} s"
        ) from None
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
        raise HTTPError(f"{method} {endpoint.url}{path}: {error!r}") from error
    return HTTPReply(status, headers, data)


async def stream_lines(
    endpoint: Endpoint, path: str, body: bytes, *, connect_timeout_s: float
) -> AsyncGenerator[bytes, None]:
    """POST and yield each newline-delimited message of a 200 streaming answer.

    Ends (HTTPError) when the server closes or the connection breaks; the caller decides
    whether and when to open a new stream. A non-200 answer raises HTTPError with its body.
    """
    try:
        async with asyncio.timeout(connect_timeout_s):
            reader, writer = await _connect(endpoint)
    except (TimeoutError, OSError) as error:
        raise HTTPError(f"POST {endpoint.url}{path}: {error!r}") from error
    try:
        try:
            async with asyncio.timeout(connect_timeout_s):
                writer.write(_head(endpoint, "POST", path, len(body)) + body)
                await writer.drain()
                status, headers = await _read_head(reader)
        except TimeoutError:
            raise HTTPError(f"POST {endpoint.url}{path}: no answer head in time") from None
        if status != 200:
            data = await _read_body(reader, headers)
            raise HTTPError(f"POST {endpoint.url}{path}: HTTP {status} {data[:300]!r}")
        buffer = b""
        async for piece in _body_pieces(reader, headers):
            buffer += piece
            if len(buffer) > STREAM_BUFFER_MAX_BYTES:
                raise HTTPError(f"{endpoint.url}{path}: a message exceeds the stream buffer")
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if line.strip():
                    yield line
        raise HTTPError(f"{endpoint.url}{path}: the server ended the stream")
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
        raise HTTPError(f"{endpoint.url}{path}: {error!r}") from error
    finally:
        writer.close()


async def _connect(endpoint: Endpoint) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(endpoint.host, endpoint.port, limit=LINE_SIZE_MAX_BYTES)


def _head(endpoint: Endpoint, method: str, path: str, length: int) -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nhost: {endpoint.host}:{endpoint.port}\r\n"
        f"content-type: application/json\r\ncontent-length: {length}\r\n"
        "connection: close\r\n\r\n"
    ).encode()


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head[:-4].decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ValueError(f"not an HTTP/1.x status line: {status_line[:100]!r}")
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(parts[1]), headers


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    pieces: list[bytes] = []
    size = 0
    async for piece in _body_pieces(reader, headers):
        size += len(piece)
        if size > BODY_SIZE_MAX_BYTES:
            raise ValueError(f"body larger than {BODY_SIZE_MAX_BYTES} bytes")
        pieces.append(piece)
    return b"".join(pieces)


async def _body_pieces(
    reader: asyncio.StreamReader, headers: dict[str, str]
) -> AsyncIterator[bytes]:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        async for chunk in _chunks(reader):
            yield chunk
        return
    length = headers.get("content-length")
    if length is not None:
        if not length.isdigit() or int(length) > BODY_SIZE_MAX_BYTES:
            raise ValueError(f"bad content-length {length[:20]!r}")
        yield await reader.readexactly(int(length))
        return
    while True:  # no length: the body ends when the server closes
        piece = await reader.read(65536)
        if not piece:
            return
        yield piece


async def _chunks(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    while True:
        line = await reader.readuntil(b"\r\n")
        size_text = line.split(b";", 1)[0].strip()
        size = int(size_text, 16)
        if size < 0 or size > BODY_SIZE_MAX_BYTES:
            raise ValueError(f"bad chunk size {size_text[:20]!r}")
        if size == 0:
            with contextlib.suppress(asyncio.IncompleteReadError):
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers (etcd sends Grpc-Trailer-Content-Type)
            return
        data = await reader.readexactly(size)
        await reader.readexactly(2)
        yield data
