"""Fuzz targets: one function per input surface, shared by the Hypothesis harnesses (default
suite, bounded examples) and the atheris harnesses (`make fuzz`, coverage-guided, for time).

Each target takes bytes an attacker or a damaged disk controls and checks the surface's
contract: only its documented refusals come out (an HTTP status, FrameError/PayloadError,
WALCorruption, ProtocolError, EventError), never another exception, never a 500, and what
is accepted holds its invariants. A target raises AssertionError (or lets a stray exception
out) on a defect; both fuzzers report it with the input that did it.
"""

from __future__ import annotations

import asyncio
import copy
import tempfile
from pathlib import Path
from typing import Any

import msgspec

from switchyard.adapters.api_common import decode_body
from switchyard.adapters.api_orders import _ORDER_DECODER, _check_order
from switchyard.adapters.auth import mint_token
from switchyard.adapters.http import Response
from switchyard.adapters.http.protocol import HTTPProtocol
from switchyard.backoffice.events import EventError, decode_event
from switchyard.core.events import RecordType
from switchyard.testing.fake_disk import FakeDisk
from switchyard.venue.protocol import (
    ProtocolError,
    decode_request,
    decode_venue_message,
    encode_request,
)
from switchyard.wal import WALCorruption, WALReader
from switchyard.wal.errors import WALError
from switchyard.wal.format import FrameError, check_record, decode_batch_header
from switchyard.wal.payload import PayloadError, decode_payload

SECRET = "fuzz-secret-0123456789abcdef0123456789"
KNOWN_STATUSES = frozenset(
    {100, 200, 201, 202, 400, 401, 403, 404, 405, 408, 409, 413, 414, 415, 417, 422, 429, 431, 503}
)

# --- the JSON order decoder ------------------------------------------------------------------


def order_decoder(data: bytes) -> None:
    """POST /orders body -> OrderRequest or a 400 naming a field; accepted ones are sane."""
    decoded = decode_body(_ORDER_DECODER, data)
    if isinstance(decoded, Response):
        assert decoded.status == 400, decoded.status
        assert b'"INVALID_REQUEST"' in decoded.body
        return
    assert 0 < decoded.qty <= 10**12
    assert decoded.price is None or 0 < decoded.price <= 10**15
    assert decoded.side in ("BUY", "SELL")
    assert decoded.type in ("LIMIT", "MARKET")
    problem = _check_order(decoded)
    if problem is None and decoded.type == "LIMIT":
        assert decoded.price is not None
    if problem is not None:
        assert problem.status == 400


# --- the WAL decoder ------------------------------------------------------------------------


def wal_record(data: bytes) -> None:
    """Record and batch frames and payloads from untrusted bytes: decoded or refused."""
    try:
        header = check_record(data, 0, len(data))
    except FrameError:
        header = None
    if header is not None:
        assert 0 <= header.record_type <= 255
    try:
        decode_batch_header(data, 0)
    except FrameError:
        pass
    for record_type in RecordType:
        try:
            decode_payload(record_type, data)
        except PayloadError:
            pass


class WALImage:
    """A closed, valid log on a FakeDisk: the base every segment mutation starts from."""

    def __init__(self) -> None:
        from tests.fixtures.wal import FAKE_WAL_DIR, append_many, close, open_journal

        disk = FakeDisk(seed=9)
        disk.makedirs("/data")
        journal, _ = open_journal(disk, segment_size_bytes=64 * 1024)
        seq = 0
        for size in (3, 1, 4, 2):
            append_many(journal, seq + 1, size, commit_every=size)
            seq += size
        close(journal)
        self.disk = disk
        self.last_seq = seq
        self.wal_dir = FAKE_WAL_DIR
        names = sorted(n for n in disk.listdir(FAKE_WAL_DIR) if n.endswith(".wal"))
        self.segment = f"{FAKE_WAL_DIR}/{names[0]}"
        self.data = disk.file_bytes(self.segment)
        self.payloads = {r.seq: r.payload for r in self._reader(disk).iter_from(1)}

    def _reader(self, disk: FakeDisk) -> WALReader:
        from tests.fixtures.wal import WAL_KEY

        return WALReader(Path(self.wal_dir), hmac_key=WAL_KEY, disk=disk, durable_only=False)


_IMAGE: WALImage | None = None


def wal_segment(mutated: bytes) -> None:
    """Recovery of a damaged segment: a verified prefix of the true log, or WALCorruption."""
    from tests.fixtures.wal import open_journal

    global _IMAGE
    if _IMAGE is None:
        _IMAGE = WALImage()
    image = _IMAGE
    disk = copy.deepcopy(image.disk)
    disk.set_file_bytes(image.segment, mutated)
    try:
        records = list(image._reader(disk).iter_from(1))
    except (WALCorruption, WALError):
        records = None
    if records is not None:
        for record in records:
            assert record.payload == image.payloads.get(record.seq), record.seq
    try:
        journal, _ = open_journal(disk, segment_size_bytes=64 * 1024)
    except WALError:
        return  # refused, naming file and offset (test_power_corruption.py checks that)
    for record in journal.replay(1):
        assert record.payload == image.payloads[record.seq], "recovery invented a record"


# --- the venue TCP protocol ---------------------------------------------------------------


def venue_line(data: bytes) -> None:
    """One line each way: a message or a ProtocolError; requests round-trip."""
    try:
        message = decode_request(data)
    except ProtocolError:
        message = None
    if message is not None:
        assert decode_request(encode_request(message).rstrip(b"\n")) == message
    try:
        decode_venue_message(data)
    except ProtocolError:
        pass


def event_envelope(data: bytes) -> None:
    """What the back office reads from Kafka: an Event or an EventError (then quarantined)."""
    try:
        decode_event(data)
    except EventError:
        pass


# --- the HTTP request path, in process -------------------------------------------------------


class _Transport:
    """The asyncio.Transport surface HTTPProtocol uses, recording what it writes."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.closed = False
        self.reading = True

    def write(self, data: bytes) -> None:
        assert not self.closed or True  # late writes after close are dropped by asyncio too
        self.written += data

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default


class GatewayInProcess:
    """A built gateway (every extension, inline WAL flusher in a temp dir) and its loop."""

    def __init__(self) -> None:
        from switchyard import app
        from switchyard.extensions import discover
        from switchyard.venue.transports import transport_from_env

        self.loop = asyncio.new_event_loop()
        self.data_dir = Path(tempfile.mkdtemp(prefix="fuzz-gateway-"))
        environ = {
            "JWT_HS256_SECRET": SECRET,
            "GATEWAY_PORT": "0",
            "WAL_FLUSHER": "inline",
            "VENUE_LIQUIDITY": "0",
            "STRATEGY_ADMIN_TOKEN": "a" * 24,
        }

        async def build() -> Any:
            gateway = await app.build_gateway(
                environ,
                data_dir=self.data_dir,
                venue_factory=transport_from_env,
                extensions=discover(),
            )
            await gateway.node.start()
            gateway.sse.start(gateway.journal.durable_seq)
            return gateway

        self.gateway = self.loop.run_until_complete(build())
        self.state = self.gateway.http.state
        self.token = mint_token(SECRET.encode(), "fuzzer")
        self.ops_token = mint_token(SECRET.encode(), "fuzz-ops", role="ops")

    def feed(self, pieces: list[bytes]) -> bytes:
        """One connection receiving `pieces` (on the loop, as in the server); what it wrote."""
        transport = _Transport()
        protocol = HTTPProtocol(self.state)
        errors_before = self.state.counters["handler_errors"]

        async def connection() -> None:
            protocol.connection_made(transport)  # type: ignore[arg-type]
            for piece in pieces:
                protocol.data_received(piece)
                await asyncio.sleep(0)
            for _ in range(20):  # deferred answers: durable ACK, WAL reads in threads
                if not protocol.pending:
                    break
                await asyncio.sleep(0.002)
            protocol.connection_lost(None)

        self.loop.run_until_complete(connection())
        assert self.state.counters["handler_errors"] == errors_before, "a handler raised"
        return bytes(transport.written)


_GATEWAY: GatewayInProcess | None = None


def gateway_in_process() -> GatewayInProcess:
    global _GATEWAY
    if _GATEWAY is None:
        _GATEWAY = GatewayInProcess()
    return _GATEWAY


def http_request_path(pieces: list[bytes]) -> None:
    """Bytes in, one connection: well-formed answers with known statuses, never a 500."""
    written = gateway_in_process().feed(pieces)
    rest = written
    while rest.startswith(b"HTTP/1.1 "):
        status = int(rest[9:12])
        assert status in KNOWN_STATUSES, (status, rest[:300])
        head, _, rest = rest.partition(b"\r\n\r\n")
        if b"text/event-stream" in head:
            return  # a stream took the connection over
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        if rest.startswith(b"HTTP/1.1 ") and not rest[length:].startswith(b"HTTP/1.1 "):
            length = 0  # the answer to a HEAD: its length, without its body
        rest = rest[length:]
    assert rest == b"", rest[:200]


def valid_order_json(**overrides: Any) -> bytes:
    body = {
        "symbol": "BTC",
        "side": "BUY",
        "type": "LIMIT",
        "qty": 1,
        "price": 60000,
        "clientOrderId": "fz-1",
    }
    body.update(overrides)
    return msgspec.json.encode(body)
