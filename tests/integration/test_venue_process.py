"""A real `switchyard venue` process: orders, cancels, kill/restart, bad input, slow readers."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import orjson
import pytest
from tests.fixtures.venue import VENUE_TEST_SPECS, FixedClock, VenueProcess, wait_until

from switchyard.core.codes import Reason
from switchyard.core.enums import OrderType, ReportKind, Side, TimeInForce
from switchyard.core.limits import VENUE_TCP_LINE_MAX_BYTES
from switchyard.core.messages import ExecReport, VenueCancel, VenueNewOrder, VenueStatusQuery
from switchyard.venue.server import VenueServer
from switchyard.venue.service import VenueService
from switchyard.venue.transport_tcp import TcpVenueTransport

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def new(order_id: str, side: Side, qty: int, price: int, account: str = "acct") -> VenueNewOrder:
    return VenueNewOrder(
        order_id, account, "BTC", side, OrderType.LIMIT, qty, price, TimeInForce.GTC
    )


async def connected(port: int, reports: list[ExecReport], ups: list[bool]) -> TcpVenueTransport:
    client = TcpVenueTransport("127.0.0.1", port, session="gw-test", backoff_max_s=0.2)
    client.set_handlers(reports.append, lambda data: None, ups.append)
    await client.start()
    await wait_until(client.is_up)
    return client


async def test_venue_process_fills_and_cancels(
    venue_process: Callable[..., VenueProcess],
) -> None:
    venue = venue_process("--no-liquidity")
    reports: list[ExecReport] = []
    client = await connected(venue.port, reports, [])
    client.send(new("s1", Side.SELL, 5, 65_000, account="maker"))
    client.send(new("b1", Side.BUY, 3, 65_000))
    client.send(VenueCancel("s1", "BTC"))
    await wait_until(lambda: any(r.kind == ReportKind.CANCELED for r in reports))
    fills = [r for r in reports if r.kind == ReportKind.FILL]
    assert [(r.order_id, r.last_qty, r.cum_qty) for r in fills] == [("b1", 3, 3), ("s1", 3, 3)]
    canceled = [r for r in reports if r.kind == ReportKind.CANCELED][0]
    assert (canceled.order_id, canceled.cum_qty, canceled.leaves_qty) == ("s1", 3, 0)
    await client.close()
    assert venue.terminate() == 0  # SIGTERM: graceful, exit 0


async def test_venue_restart_reconnects_and_reports_lost_orders_unknown(
    venue_process: Callable[..., VenueProcess],
) -> None:
    venue = venue_process("--no-liquidity")
    reports: list[ExecReport] = []
    ups: list[bool] = []
    client = await connected(venue.port, reports, ups)
    client.send(new("b1", Side.BUY, 5, 64_900))
    await wait_until(lambda: bool(reports))
    venue.kill()
    await wait_until(lambda: not client.is_up())
    assert client.send(VenueStatusQuery("b1", "BTC")) is False  # down: refused at once
    venue_process("--no-liquidity", port=venue.port)
    await wait_until(client.is_up, timeout_s=10)
    assert ups == [True, False, True]
    client.send(VenueStatusQuery("b1", "BTC"))
    await wait_until(lambda: reports[-1].kind == ReportKind.STATUS)
    assert (reports[-1].reason, reports[-1].order_status) == (Reason.UNKNOWN_ORDER, None)
    await client.close()


def _exchange(port: int, payload: bytes, *, read_timeout_s: float = 2.0) -> list[bytes]:
    """Send raw bytes, read until the venue closes or goes quiet; the lines received."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        sock.settimeout(read_timeout_s)
        data = b""
        try:
            while chunk := sock.recv(65_536):
                data += chunk
        except TimeoutError:
            pass
    return [line for line in data.split(b"\n") if line]


async def test_venue_survives_garbage_unknown_types_and_missing_fields(
    venue_process: Callable[..., VenueProcess],
) -> None:
    venue = venue_process("--no-liquidity")
    payload = (
        b"\x00\xff garbage\n"
        b"[1,2,3]\n"
        b'{"type":"EXPLODE","orderId":"x1"}\n'
        b'{"type":"NEW","orderId":"n1","symbol":"BTC","side":"BUY","price":1}\n'
        b'{"type":"CANCEL","orderId":"n1"}\n'
        b'{"type":"PING"}\n'
    )
    lines = await asyncio.to_thread(_exchange, venue.port, payload, read_timeout_s=1.0)
    messages = [orjson.loads(line) for line in lines]
    assert [m["type"] for m in messages] == ["ERROR", "ERROR", "ERROR", "REPORT", "ERROR", "PONG"]
    assert messages[3]["status"] == "REJECTED"
    assert "qty" in messages[3]["message"]
    assert messages[2]["orderId"] == "x1"
    assert venue.process is not None
    assert venue.process.poll() is None  # still running


async def test_venue_closes_a_connection_sending_a_huge_line(
    venue_process: Callable[..., VenueProcess],
) -> None:
    venue = venue_process("--no-liquidity")
    huge = b'{"type":"PING","pad":"' + b"x" * (VENUE_TCP_LINE_MAX_BYTES + 10) + b'"}\n'
    lines = await asyncio.to_thread(_exchange, venue.port, huge)
    assert orjson.loads(lines[-1])["error"] == "LINE_TOO_LONG"
    again = await asyncio.to_thread(_exchange, venue.port, b'{"type":"PING"}\n', read_timeout_s=0.5)
    assert again == [b'{"type":"PONG"}']


async def test_slow_reader_is_cut_off() -> None:
    service = VenueService(VENUE_TEST_SPECS, liquidity=False)
    server = VenueServer(service, clock=FixedClock(), write_buffer_max_bytes=256 * 1024)
    port = await server.start("127.0.0.1", 0)
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    query = b'{"type":"STATUS","orderId":"' + b"q" * 120 + b'","symbol":"BTC"}\n'
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    for _ in range(200):  # never read: replies (~600 B each) pile up at the venue
        await loop.sock_sendall(sock, query * 100)
        if server.slow_readers_cut:
            break
    await wait_until(lambda: server.slow_readers_cut == 1)
    assert not server.connections
    sock.close()
    await server.stop(0.5)
