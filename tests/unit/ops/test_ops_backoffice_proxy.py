"""The back office proxy: parses complete answers, refuses broken ones, reports offline."""

import asyncio

import pytest

from switchyard.adapters.http import Request, Response
from switchyard.ops.backoffice_proxy import BackofficeOffline, BackofficeProxy, parse_response


def test_parse_response_returns_status_and_json_body() -> None:
    raw = b'HTTP/1.1 200 OK\r\ncontent-length: 16\r\n\r\n{"positions":[]}'
    assert parse_response(raw) == (200, b'{"positions":[]}')


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"HTTP/1.1 200 OK\r\ncontent-length: 10",
        b"SMTP 220 hello\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\n\r\n<html>",
        b"HTTP/1.1 299 Odd\r\n\r\n{}",
    ],
)
def test_parse_response_refuses_broken_answers(raw: bytes) -> None:
    with pytest.raises(BackofficeOffline):
        parse_response(raw)


def _request() -> Request:
    return Request(None, "GET", "/ui/api/backoffice/positions", "", {}, b"", True, 0)


async def _relay(proxy: BackofficeProxy, view: str) -> Response:
    request = _request()
    proxy.relay(request, view)
    await asyncio.wait_for(asyncio.gather(*proxy._tasks), timeout=5)
    assert isinstance(request.response, Response)
    return request.response


@pytest.mark.asyncio
async def test_relay_to_a_closed_port_answers_backoffice_offline() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    response = await _relay(BackofficeProxy("127.0.0.1", port), "positions")
    assert response.status == 503
    assert b"BACKOFFICE_OFFLINE" in response.body


@pytest.mark.asyncio
async def test_relay_passes_the_back_office_answer_through() -> None:
    seen: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b'HTTP/1.1 403 Forbidden\r\ncontent-length: 20\r\n\r\n{"error":"FORBIDDEN"}')
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    response = await _relay(BackofficeProxy("127.0.0.1", port), "pnl")
    server.close()
    assert response.status == 403
    assert seen[0].startswith(b"GET /pnl HTTP/1.1\r\n")


def test_relay_refuses_views_it_does_not_know() -> None:
    response = BackofficeProxy("127.0.0.1", 1).relay(_request(), "ledger")
    assert isinstance(response, Response)
    assert response.status == 404
