"""Stand-in HTTP servers for the toolchain: a constant-202 server and a small fake gateway.

`constant` answers every POST with a fixed 202 order acknowledgement: it is the ceiling
reference for the load generator. By default it runs on the gateway's own HTTP stack
(`switchyard.adapters.http`: HTTPServer + Router, a handler returning a constant Response);
where that is not importable, on a minimal asyncio Protocol on uvloop + httptools.

`gateway` speaks the part of the gateway's public API the tools use (DESIGN.md §3: auth,
idempotency, orders, cancel, events, book, stats, health, metrics) with optional injected
faults (refusals, delays, dropped connections), so the tools can be tested before and beside
the real gateway; `tests/integration/test_sre_gateway_contract.py` runs the same checks
against both. Run as `python -m switchyard.sre.standin --mode constant --port 0`; the first
stdout line is `READY <port> <stack>`.
"""

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import httptools
import jwt
import orjson

from switchyard.book.spec import DEFAULT_SPECS

CONSTANT_BODY = (
    b'{"orderId":"e1-000000-1","acceptSeq":1,"requestId":"r-1","clientOrderId":"c-1",'
    b'"status":"ACCEPTED","durable":false}'
)
REASONS = {
    200: b"OK",
    202: b"Accepted",
    400: b"Bad Request",
    401: b"Unauthorized",
    404: b"Not Found",
    405: b"Method Not Allowed",
    409: b"Conflict",
    422: b"Unprocessable Entity",
    429: b"Too Many Requests",
    503: b"Service Unavailable",
}
REFERENCE_TICKS = {symbol: spec.reference_price for symbol, spec in DEFAULT_SPECS.items()}
IDEMPOTENCY_ENTRIES_MAX = 1_000_000  # the fake forgets the oldest keys beyond this


def _response(status: int, body: bytes, extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%s\r\n"
        % (status, REASONS.get(status, b"Status"), len(body), extra)
        + body
    )


CONSTANT_RESPONSE = _response(202, CONSTANT_BODY)


class ConstantProtocol(asyncio.Protocol):
    """Answers every complete request with the same 202: the cheapest possible server."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        self.parser = httptools.HttpRequestParser(self)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_message_complete(self) -> None:
        self.transport.write(CONSTANT_RESPONSE)


@dataclass(slots=True)
class Faults:
    """Injected misbehaviour; every N-th order request (0 = never)."""

    refuse_every: int = 0  # 503 BACKPRESSURE_INFLIGHT with Retry-After
    drop_every: int = 0  # close the connection without answering
    delay_us: int = 0  # answer orders this late


@dataclass(slots=True)
class FakeState:
    """The fake gateway's state, shared by its connections (one event loop)."""

    secret: bytes
    faults: Faults
    seq: int = 0
    orders_received: int = 0
    accepted: int = 0
    refused: int = 0
    dropped: int = 0
    canceled: int = 0
    events: int = 0
    orders: dict[str, str] = field(default_factory=dict)  # orderId -> account
    idempotency: dict[tuple[str, str], tuple[bytes, bytes]] = field(default_factory=dict)
    tokens: dict[bytes, str] = field(default_factory=dict)  # verified-token cache


class FakeGatewayProtocol(asyncio.Protocol):
    """One connection of the fake gateway."""

    def __init__(self, state: FakeState) -> None:
        self.state = state
        self.url = b""
        self.headers: dict[bytes, bytes] = {}
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        self.parser = httptools.HttpRequestParser(self)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.write(_response(400, b'{"error":"INVALID_REQUEST"}'))
            self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url = url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        method = self.parser.get_method()
        body = b"".join(self.body)
        headers = self.headers
        self.body, self.headers = [], {}
        parsed = httptools.parse_url(self.url)
        path = parsed.path.decode()
        query = (parsed.query or b"").decode()
        reply = self.route(method, path, query, headers, body)
        if reply is None:
            self.transport.close()
            return
        if self.state.faults.delay_us and path == "/orders":
            asyncio.get_running_loop().call_later(
                self.state.faults.delay_us / 1e6, self.transport.write, reply
            )
        else:
            self.transport.write(reply)

    def route(
        self, method: bytes, path: str, query: str, headers: dict[bytes, bytes], body: bytes
    ) -> bytes | None:
        if method == b"GET" and not path.startswith("/market/"):
            return self._get(path)  # operations endpoints are open, like the gateway's
        if method not in (b"GET", b"POST"):
            return _response(405, b'{"error":"METHOD_NOT_ALLOWED"}', b"allow: GET, POST\r\n")
        account = self._account(headers)
        if account is None:
            return _response(401, b'{"error":"UNAUTHORIZED","message":"bad or missing token"}')
        if method == b"GET":
            return self._get(path)
        if path == "/events":
            return self._event(query, body)
        if path == "/orders":
            return self._order(account, headers, body, query)
        if path.startswith("/orders/") and path.endswith("/cancel"):
            return self._cancel(account, path[len("/orders/") : -len("/cancel")])
        return _response(404, b'{"error":"NOT_FOUND"}')

    def _get(self, path: str) -> bytes:
        state = self.state
        if path == "/health":
            return _response(200, b'{"status":"healthy"}')
        if path == "/stats":
            return _response(200, orjson.dumps(_stats(state)))
        if path == "/metrics":
            return _metrics(state)
        if path.startswith("/market/") and path.endswith("/book"):
            symbol = path[len("/market/") : -len("/book")]
            if symbol not in REFERENCE_TICKS:
                return _response(404, b'{"error":"UNKNOWN_SYMBOL"}')
            ref = REFERENCE_TICKS[symbol]
            book = {
                "symbol": symbol,
                "seq": state.seq,
                "bids": [{"price": ref - 1, "qty": 10}],
                "asks": [{"price": ref + 1, "qty": 10}],
            }
            return _response(200, orjson.dumps(book))
        return _response(404, b'{"error":"NOT_FOUND"}')

    def _account(self, headers: dict[bytes, bytes]) -> str | None:
        auth = headers.get(b"authorization", b"")
        if not auth.startswith(b"Bearer "):
            return None
        token = auth[len(b"Bearer ") :]
        cached = self.state.tokens.get(token)
        if cached is not None:
            return cached
        try:
            claims = jwt.decode(
                token, self.state.secret, algorithms=["HS256"], options={"require": ["exp"]}
            )
        except jwt.PyJWTError:
            return None
        account = str(claims.get("accountId") or claims.get("sub") or "")
        if not account:
            return None
        self.state.tokens[token] = account
        return account

    def _order(
        self, account: str, headers: dict[bytes, bytes], body: bytes, query: str
    ) -> bytes | None:
        state = self.state
        state.orders_received += 1
        faults = state.faults
        if faults.drop_every and state.orders_received % faults.drop_every == 0:
            state.dropped += 1
            return None
        if faults.refuse_every and state.orders_received % faults.refuse_every == 0:
            state.refused += 1
            return _response(
                503,
                b'{"error":"BACKPRESSURE_INFLIGHT","message":"too many orders in flight",'
                b'"retryAfterMs":10}',
                b"retry-after: 1\r\n",
            )
        return self._accept(account, headers, body, durable="ack=durable" in query)

    def _accept(
        self, account: str, headers: dict[bytes, bytes], body: bytes, durable: bool
    ) -> bytes:
        state = self.state
        try:
            order = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _response(400, b'{"error":"INVALID_REQUEST","message":"body is not JSON"}')
        if not isinstance(order, dict):
            return _response(400, b'{"error":"INVALID_REQUEST","message":"body is not an object"}')
        problem = _invalid_field(order)
        if problem:
            return _response(400, orjson.dumps({"error": "INVALID_REQUEST", "field": problem}))
        key = headers.get(b"idempotency-key", b"").decode() or str(order.get("clientOrderId", ""))
        if not key:
            return _response(400, b'{"error":"IDEMPOTENCY_REQUIRED"}')
        previous = state.idempotency.get((account, key))
        if previous is not None:
            if previous[0] != body:
                return _response(422, b'{"error":"IDEMPOTENCY_KEY_REUSED"}')
            return previous[1]
        state.seq += 1
        state.accepted += 1
        order_id = f"e1-fake00-{state.seq}"
        state.orders[order_id] = account
        answer = {
            "orderId": order_id,
            "acceptSeq": state.seq,
            "requestId": f"r-{state.seq}",
            "clientOrderId": order.get("clientOrderId", key),
            "status": "ACCEPTED",
            "durable": durable,
        }
        reply = _response(202, orjson.dumps(answer))
        if len(state.idempotency) >= IDEMPOTENCY_ENTRIES_MAX:
            state.idempotency.pop(next(iter(state.idempotency)))
        state.idempotency[(account, key)] = (body, reply)
        return reply

    def _cancel(self, account: str, order_id: str) -> bytes:
        if self.state.orders.get(order_id) != account:
            return _response(404, b'{"error":"NOT_FOUND"}')
        self.state.canceled += 1
        del self.state.orders[order_id]
        return _response(202, orjson.dumps({"orderId": order_id, "status": "CANCEL_REQUESTED"}))

    def _event(self, query: str, body: bytes) -> bytes:
        params = dict(part.partition("=")[::2] for part in query.split("&") if part)
        if not params.get("key"):
            return _response(400, b'{"error":"MISSING_KEY"}')
        self.state.events += 1
        return _response(200, b'{"status":"OK"}')


def _invalid_field(order: dict[str, Any]) -> str | None:
    checks: dict[str, Callable[[Any], bool]] = {
        "symbol": lambda v: isinstance(v, str) and 0 < len(v) <= 16,
        "side": lambda v: v in ("BUY", "SELL"),
        "type": lambda v: v in ("LIMIT", "MARKET"),
        "qty": lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0,
    }
    for name, check in checks.items():
        if not check(order.get(name)):
            return name
    if order["type"] == "LIMIT" and not (
        isinstance(order.get("price"), int) and order["price"] > 0
    ):
        return "price"
    return None


def _stats(state: FakeState) -> dict[str, Any]:
    return {
        "ordersReceived": state.orders_received,
        "ordersAccepted": state.accepted,
        "ordersRefused": state.refused,
        "ordersCanceled": state.canceled,
        "eventsReceived": state.events,
        "connectionsDropped": state.dropped,
        "lastSeq": state.seq,
    }


def _metrics(state: FakeState) -> bytes:
    times = os.times()
    lines = [
        "# TYPE process_cpu_seconds_total counter",
        f"process_cpu_seconds_total {times.user + times.system:.6f}",
        "# TYPE switchyard_orders_accepted_total counter",
        f"switchyard_orders_accepted_total {state.accepted}",
        "# TYPE switchyard_backpressure_refusals_total counter",
        f'switchyard_backpressure_refusals_total{{reason="BACKPRESSURE_INFLIGHT"}} {state.refused}',
    ]
    body = ("\n".join(lines) + "\n").encode()
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\n"
        b"content-length: %d\r\n\r\n" % len(body)
    ) + body


def gateway_stack_available() -> bool:
    """Whether the gateway's own HTTP stack (switchyard.adapters.http) can be imported."""
    try:
        from switchyard.adapters.http import HTTPServer, Router  # noqa: F401
    except ImportError:
        return False
    return True


async def serve_constant_on_gateway_stack(host: str, port: int) -> None:
    """The constant 202 behind the gateway's own HTTPServer and Router (the real ceiling)."""
    from switchyard.adapters.http import HTTPServer, Response, Router

    answer = Response(202, CONSTANT_BODY)
    router = Router()
    router.add("POST", "/orders", lambda request: answer, name="constant_202")
    server = HTTPServer(router)
    await server.start(host, port, backlog=4096)
    sys.stdout.write(f"READY {server.port} adapters.http\n")
    sys.stdout.flush()
    try:
        await asyncio.Event().wait()
    finally:
        await server.shutdown(grace_s=0.5)


async def serve(mode: str, host: str, port: int, state: FakeState | None) -> None:
    """Serve until cancelled; writes `READY <port> <stack>` to stdout once listening."""
    loop = asyncio.get_running_loop()
    if mode == "constant":
        factory: Callable[[], asyncio.Protocol] = ConstantProtocol
    else:
        assert state is not None
        factory = lambda: FakeGatewayProtocol(state)  # noqa: E731 - one-line protocol factory
    server = await loop.create_server(factory, host, port, backlog=4096)
    bound = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"READY {bound} standin\n")
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m switchyard.sre.standin")
    parser.add_argument("--mode", choices=("constant", "gateway"), default="constant")
    parser.add_argument(
        "--stack",
        choices=("auto", "standin", "adapters.http"),
        default="auto",
        help="constant mode: the gateway's HTTP stack when importable (auto), or the stand-in",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--secret-file", help="HS256 secret (gateway mode)")
    parser.add_argument("--refuse-every", type=int, default=0)
    parser.add_argument("--drop-every", type=int, default=0)
    parser.add_argument("--delay-us", type=int, default=0)
    parser.add_argument("--cpu", type=int, help="pin this process to one CPU")
    args = parser.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    state = None
    if args.mode == "gateway":
        if not args.secret_file:
            parser.error("--secret-file is required in gateway mode")
        with open(args.secret_file, "rb") as handle:
            secret = handle.read().strip()
        state = FakeState(secret, Faults(args.refuse_every, args.drop_every, args.delay_us))
    import uvloop

    stack = args.stack
    if stack == "auto":
        stack = "adapters.http" if gateway_stack_available() else "standin"
    try:
        if args.mode == "constant" and stack == "adapters.http":
            uvloop.run(serve_constant_on_gateway_stack(args.host, args.port))
        else:
            uvloop.run(serve(args.mode, args.host, args.port, state))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
