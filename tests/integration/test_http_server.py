"""The HTTP server over real loopback sockets: routing, limits, pipelining, streams."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import pytest
import uvloop

from switchyard.adapters.http import (
    DEFERRED,
    HTTPLimits,
    HTTPProtocol,
    HTTPServer,
    Request,
    Response,
    Router,
    StreamResponse,
    json_response,
)

FAST = dict(
    header_timeout_ns=300_000_000,
    body_timeout_ns=300_000_000,
    keepalive_idle_ns=400_000_000,
    sweep_interval_s=0.05,
)


def make_router(deferred: list[Request]) -> Router:
    router = Router()
    router.get("/ping", lambda r: json_response(200, {"pong": True}))
    router.post("/echo", lambda r: Response(200, r.body), json_body=True)
    router.get("/orders/{order_id}", lambda r: json_response(200, dict(r.params)))
    router.get("/orders/{order_id}/events", lambda r: json_response(200, {"events": r.params}))

    def defer(request: Request) -> object:
        deferred.append(request)
        return DEFERRED

    router.post("/later", defer)  # type: ignore[arg-type]

    def stream(request: Request) -> StreamResponse:
        def start(protocol: HTTPProtocol) -> None:
            protocol.write_stream(b"data: hello\n\n")

        return StreamResponse(start, lambda: None)

    router.get("/stream", stream)
    return router


def serve(test: Callable[[int, list[Request]], Awaitable[None]], **limit_overrides: object) -> None:
    async def main() -> None:
        deferred: list[Request] = []
        server = HTTPServer(make_router(deferred), HTTPLimits(**{**FAST, **limit_overrides}))  # type: ignore[arg-type]
        await server.start("127.0.0.1", 0)
        try:
            await asyncio.wait_for(test(server.port, deferred), timeout=10)
        finally:
            await server.shutdown(grace_s=0.1)

    uvloop.run(main())


async def exchange(port: int, raw: bytes, *, read_until_close: bool = True) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    if read_until_close:
        data = await reader.read(-1)
    else:
        data = await reader.read(65536)
    writer.close()
    return data


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def test_get_route_answers_200_with_json() -> None:
    async def t(port: int, _: list[Request]) -> None:
        data = await exchange(port, b"GET /ping HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        assert status_of(data) == 200
        assert data.endswith(b'{"pong":true}')
        assert b"content-length: 13\r\n" in data

    serve(t)


def test_unknown_path_is_404_and_wrong_method_is_405_with_allow() -> None:
    async def t(port: int, _: list[Request]) -> None:
        data = await exchange(port, b"GET /nope HTTP/1.1\r\nconnection: close\r\n\r\n")
        assert status_of(data) == 404
        data = await exchange(port, b"DELETE /ping HTTP/1.1\r\nconnection: close\r\n\r\n")
        assert status_of(data) == 405
        assert b"allow: GET\r\n" in data

    serve(t)


def test_path_parameters_are_decoded() -> None:
    async def t(port: int, _: list[Request]) -> None:
        data = await exchange(
            port, b"GET /orders/a%2Fb/events HTTP/1.1\r\nconnection: close\r\n\r\n"
        )
        assert data.endswith(b'{"events":{"order_id":"a/b"}}')

    serve(t)


def test_non_json_body_is_415() -> None:
    async def t(port: int, _: list[Request]) -> None:
        raw = b"POST /echo HTTP/1.1\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nhi"
        data = await exchange(port, raw)
        assert status_of(data) == 415

    serve(t)


def test_declared_oversized_body_is_413_without_reading_it() -> None:
    async def t(port: int, _: list[Request]) -> None:
        # Only the head is sent: the answer must come without waiting for the body.
        raw = (
            b"POST /echo HTTP/1.1\r\ncontent-type: application/json\r\ncontent-length: 2000\r\n\r\n"
        )
        data = await exchange(port, raw)
        assert status_of(data) == 413
        assert b'"limit":1000' in data
        assert b"connection: close" in data

    serve(t, body_max_bytes=1000)


def test_chunked_body_over_limit_is_413() -> None:
    async def t(port: int, _: list[Request]) -> None:
        chunk = b"x" * 600
        raw = (
            b"POST /echo HTTP/1.1\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
            + b"%x\r\n%s\r\n" % (len(chunk), chunk) * 2
        )
        data = await exchange(port, raw)
        assert status_of(data) == 413

    serve(t, body_max_bytes=1000)


def test_conflicting_content_length_and_transfer_encoding_is_400() -> None:
    async def t(port: int, _: list[Request]) -> None:
        raw = (
            b"POST /echo HTTP/1.1\r\ncontent-type: application/json\r\ncontent-length: 4\r\n"
            b"transfer-encoding: chunked\r\n\r\n0\r\n\r\n"
        )
        data = await exchange(port, raw)
        assert status_of(data) == 400

    serve(t)


def test_too_many_headers_is_431() -> None:
    async def t(port: int, _: list[Request]) -> None:
        headers = b"".join(b"x-h%d: v\r\n" % i for i in range(20))
        data = await exchange(port, b"GET /ping HTTP/1.1\r\n" + headers + b"\r\n")
        assert status_of(data) == 431

    serve(t, header_count_max=10)


def test_endless_header_line_is_431_before_it_ends() -> None:
    async def t(port: int, _: list[Request]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /ping HTTP/1.1\r\nx-big: ")
        try:
            for _ in range(40):
                writer.write(b"a" * 1024)  # never terminated
                await writer.drain()
                await asyncio.sleep(0)
        except ConnectionResetError:
            pass  # the server may stop reading once it has refused
        data = await reader.read(-1)
        writer.close()
        assert status_of(data) == 431

    serve(t, head_max_bytes=8 * 1024, url_max_bytes=1024)


def test_long_url_is_414() -> None:
    async def t(port: int, _: list[Request]) -> None:
        data = await exchange(port, b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\n\r\n")
        assert status_of(data) == 414

    serve(t, url_max_bytes=2048)


def test_slow_head_is_cut_off_with_408() -> None:
    async def t(port: int, _: list[Request]) -> None:
        data = await exchange(port, b"GET /ping HTTP/1.1\r\nhost: x\r\n")  # head never finishes
        assert status_of(data) == 408

    serve(t)


def test_slow_body_is_cut_off_with_408() -> None:
    async def t(port: int, _: list[Request]) -> None:
        raw = (
            b"POST /echo HTTP/1.1\r\ncontent-type: application/json\r\ncontent-length: 10\r\n\r\n{}"
        )
        data = await exchange(port, raw)
        assert status_of(data) == 408

    serve(t)


def test_idle_keepalive_connection_is_closed() -> None:
    async def t(port: int, _: list[Request]) -> None:
        data = await exchange(port, b"GET /ping HTTP/1.1\r\n\r\n")  # keep-alive, then idle
        assert status_of(data) == 200  # answered, then closed by the idle deadline

    serve(t)


def test_pipelined_responses_come_back_in_request_order() -> None:
    async def t(port: int, deferred: list[Request]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /later HTTP/1.1\r\ncontent-length: 0\r\n\r\n"
            b"GET /ping HTTP/1.1\r\n\r\n"
            b"GET /orders/7 HTTP/1.1\r\n\r\n"
        )
        await writer.drain()
        for _ in range(100):
            if deferred:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        assert not reader._buffer  # type: ignore[attr-defined]  # nothing may overtake the first
        deferred[0].respond(json_response(202, {"first": 1}))
        data = b""
        while data.count(b"HTTP/1.1") < 3:
            data += await reader.read(65536)
        writer.close()
        first = data.index(b'{"first":1}')
        second = data.index(b'{"pong":true}')
        third = data.index(b'{"order_id":"7"}')
        assert first < second < third

    serve(t)


def test_held_answers_go_out_before_a_closing_answer_and_a_stream() -> None:
    """Keep-alive answers are held to the end of the loop iteration; an answer that closes
    the connection, and a stream's head, are written at once: neither may overtake them."""

    async def t(port: int, _: list[Request]) -> None:
        data = await exchange(
            port,
            b"GET /ping HTTP/1.1\r\n\r\n"
            b"GET /orders/1 HTTP/1.1\r\n\r\n"
            b"GET /orders/2 HTTP/1.1\r\nconnection: close\r\n\r\n",
        )
        assert data.count(b"HTTP/1.1 200") == 3
        assert data.index(b'{"pong":true}') < data.index(b'"1"') < data.index(b'"2"')
        assert data.endswith(b'{"order_id":"2"}')
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /ping HTTP/1.1\r\n\r\nGET /stream HTTP/1.1\r\n\r\n")
        streamed = b""
        while b"data: hello" not in streamed:
            chunk = await reader.read(65536)
            assert chunk, streamed
            streamed += chunk
        writer.close()
        assert streamed.index(b'{"pong":true}') < streamed.index(b"text/event-stream")

    serve(t)


def test_keepalive_serves_many_requests_on_one_connection() -> None:
    async def t(port: int, _: list[Request]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(50):
            writer.write(b"GET /ping HTTP/1.1\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            assert status_of(head) == 200
            await reader.readexactly(13)
        writer.close()

    serve(t)


def test_http10_without_keepalive_closes_after_answer() -> None:
    async def t(port: int, _: list[Request]) -> None:
        data = await exchange(port, b"GET /ping HTTP/1.0\r\n\r\n")
        assert status_of(data) == 200
        assert b"connection: close" in data

    serve(t)


def test_connections_over_the_cap_get_503() -> None:
    async def t(port: int, _: list[Request]) -> None:
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
        data = await exchange(port, b"GET /ping HTTP/1.1\r\n\r\n")
        assert status_of(data) == 503
        assert b"retry-after: 1" in data
        for _, writer in held:
            writer.close()

    serve(t, connections_max=2)


def test_stream_takes_the_connection_over() -> None:
    async def t(port: int, _: list[Request]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /stream HTTP/1.1\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        assert b"content-type: text/event-stream" in head
        assert b"content-length" not in head
        assert await reader.readuntil(b"\n\n") == b"data: hello\n\n"
        writer.close()

    serve(t)


def test_expect_100_continue_gets_an_interim_answer() -> None:
    async def t(port: int, _: list[Request]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /echo HTTP/1.1\r\ncontent-type: application/json\r\ncontent-length: 2\r\n"
            b"expect: 100-continue\r\n\r\n"
        )
        interim = await reader.readuntil(b"\r\n\r\n")
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"{}")
        head = await reader.readuntil(b"\r\n\r\n")
        assert status_of(head) == 200
        writer.close()

    serve(t)


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00\x01\x02\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET /ping HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
    ],
)
def test_garbage_is_400(garbage: bytes) -> None:
    async def t(port: int, _: list[Request]) -> None:
        data = await exchange(port, garbage)
        assert status_of(data) == 400

    serve(t)


def test_response_to_a_client_that_left_is_dropped_quietly() -> None:
    async def t(port: int, deferred: list[Request]) -> None:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"POST /later HTTP/1.1\r\ncontent-length: 0\r\n\r\n")
        for _ in range(100):
            if deferred:
                break
            await asyncio.sleep(0.01)
        sock.close()
        await asyncio.sleep(0.05)
        deferred[0].respond(json_response(202, {}))  # must not raise

    serve(t)


def test_half_closed_client_still_gets_its_deferred_answer() -> None:
    async def t(port: int, deferred: list[Request]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /later HTTP/1.1\r\ncontent-length: 0\r\n\r\n")
        writer.write_eof()
        for _ in range(100):
            if deferred:
                break
            await asyncio.sleep(0.01)
        deferred[0].respond(json_response(202, {"late": True}))
        data = await reader.read(-1)
        writer.close()
        assert status_of(data) == 202
        assert data.endswith(b'{"late":true}')

    serve(t)


def test_responses_are_counted_by_status_code() -> None:
    async def main() -> dict[int, int]:
        server = HTTPServer(make_router([]), HTTPLimits(**FAST))  # type: ignore[arg-type]
        await server.start("127.0.0.1", 0)
        try:
            for raw in (
                b"GET /ping HTTP/1.1\r\nconnection: close\r\n\r\n",
                b"GET /ping HTTP/1.1\r\nconnection: close\r\n\r\n",
                b"GET /nope HTTP/1.1\r\nconnection: close\r\n\r\n",
                b"DELETE /ping HTTP/1.1\r\nconnection: close\r\n\r\n",
            ):
                await exchange(server.port, raw)
            return dict(server.state.responses)
        finally:
            await server.shutdown(grace_s=0.1)

    assert uvloop.run(main()) == {200: 2, 404: 1, 405: 1}
