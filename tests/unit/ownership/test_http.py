"""The small HTTP client: body framings, streams, timeouts and refusals, on a loopback server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from tests.fixtures.services import free_port

from switchyard.ownership._http import (
    BODY_SIZE_MAX_BYTES,
    Endpoint,
    HTTPError,
    parse_endpoint,
    request,
    stream_lines,
)

Reply = Callable[[asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def served(reply: Reply) -> AsyncIterator[Endpoint]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        try:
            await reply(writer)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield Endpoint("127.0.0.1", server.sockets[0].getsockname()[1])
    finally:
        server.close()


async def collect(endpoint: Endpoint, seen: list[bytes]) -> None:
    async for line in stream_lines(endpoint, "/w", b"{}", connect_timeout_s=2):
        seen.append(line)


def writes(data: bytes) -> Reply:
    async def reply(writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        await writer.drain()

    return reply


@pytest.mark.asyncio
async def test_content_length_body() -> None:
    async with served(writes(b'HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{"a":1}')) as endpoint:
        reply = await request(endpoint, "POST", "/x", b"{}", timeout_s=2)
        assert (reply.status, reply.body) == (200, b'{"a":1}')


@pytest.mark.asyncio
async def test_chunked_body_with_trailers() -> None:
    data = (
        b"HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'4\r\n{"a"\r\n3\r\n:1}\r\n0\r\nGrpc-Trailer-Content-Type: application/grpc\r\n\r\n'
    )
    async with served(writes(data)) as endpoint:
        reply = await request(endpoint, "POST", "/x", timeout_s=2)
        assert (reply.status, reply.body) == (500, b'{"a":1}')


@pytest.mark.asyncio
async def test_body_until_close_without_length() -> None:
    async with served(writes(b"HTTP/1.1 200 OK\r\n\r\nhello")) as endpoint:
        reply = await request(endpoint, "GET", "/x", timeout_s=2)
        assert reply.body == b"hello"


@pytest.mark.asyncio
async def test_stream_lines_splits_messages_across_and_within_chunks() -> None:
    async def reply(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in (b'{"n":1}\n{"n"', b":2}\n", b'{"n":3}\n'):
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(b"0\r\n\r\n")

    async with served(reply) as endpoint:
        seen: list[bytes] = []
        with pytest.raises(HTTPError, match="ended the stream"):
            await collect(endpoint, seen)
        assert seen == [b'{"n":1}', b'{"n":2}', b'{"n":3}']


@pytest.mark.asyncio
async def test_stream_non_200_raises_with_the_body() -> None:
    async with served(
        writes(b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope")
    ) as endpoint:
        with pytest.raises(HTTPError, match="404"):
            await collect(endpoint, [])


@pytest.mark.asyncio
async def test_silent_server_times_out() -> None:
    async def never(writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)

    async with served(never) as endpoint:
        with pytest.raises(HTTPError, match="no complete answer within 0.1"):
            await request(endpoint, "POST", "/x", timeout_s=0.1)


@pytest.mark.asyncio
async def test_refused_connection_is_an_http_error() -> None:
    with pytest.raises(HTTPError, match="POST http://127.0.0.1"):
        await request(Endpoint("127.0.0.1", free_port()), "POST", "/x", timeout_s=1)


@pytest.mark.asyncio
async def test_oversized_body_is_refused() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (BODY_SIZE_MAX_BYTES + 1)
    async with served(writes(head)) as endpoint:
        with pytest.raises(HTTPError, match="content-length"):
            await request(endpoint, "GET", "/x", timeout_s=1)


@pytest.mark.asyncio
async def test_garbage_status_line_is_an_http_error() -> None:
    async with served(writes(b"SSH-2.0-OpenSSH\r\n\r\n")) as endpoint:
        with pytest.raises(HTTPError, match="status line"):
            await request(endpoint, "GET", "/x", timeout_s=1)


def test_parse_endpoint() -> None:
    assert parse_endpoint("http://10.0.0.1:2379/") == Endpoint("10.0.0.1", 2379)
    assert parse_endpoint("http://etcd") == Endpoint("etcd", 80)
    for bad in ("https://h:1", "h:1", "http://:1", "http://h:x"):
        with pytest.raises(ValueError, match="h|port|host|only"):
            parse_endpoint(bad)
