"""HTTP abuse against a live gateway: lying lengths, oversized and chunked bodies, header
floods, request smuggling, pipelined garbage, odd request lines.

Each attack gets a refusal with the documented status (or, for a well-formed message, its
normal answer), the connection is closed after a refusal, the gateway keeps serving, and no
attack changes state: smuggled requests carry a *victim's* token (what a desync would let an
attacker do) and the victim never gets the order; the state fingerprint (last WAL seq,
state hash) is unchanged at the end. The HTTP engineer's tests (tests/integration/
test_http_server.py) cover the protocol class with a stub router; these go through the
whole gateway, with auth, JSON decoding and the sequencer behind it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest

from switchyard.testing.gateway_harness import GatewayProcess
from tests.security.helpers import (
    HEADER_TIMEOUT_MS,
    client,
    fingerprint,
    order_bytes,
    raw_exchange,
    statuses,
    token,
)

pytestmark = pytest.mark.integration

VICTIM = "smuggle-victim"
ATTACKER = "smuggle-attacker"
_ids = itertools.count()


@pytest.fixture(autouse=True)
def unchanged(gateway: GatewayProcess) -> Iterator[None]:
    """Every test here: the gateway state is the same after as before, and it still answers."""
    before = fingerprint(gateway)
    yield
    assert gateway.process is not None
    assert gateway.process.poll() is None, gateway.log()
    assert client(gateway, "probe").get("/health").status in (200, 503)
    assert fingerprint(gateway) == before


def head(method: str, path: str, *lines: str, account: str = ATTACKER) -> bytes:
    text = f"{method} {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token(account)}\r\n"
    return (text + "".join(line + "\r\n" for line in lines) + "\r\n").encode()


def smuggled(gateway: GatewayProcess) -> tuple[str, bytes]:
    cid = f"smuggled-{next(_ids)}"
    return cid, order_bytes(VICTIM, cid)


def assert_not_executed(gateway: GatewayProcess, cid: str) -> None:
    status = client(gateway, VICTIM).get(f"/orders/client/{cid}").json()["status"]
    assert status == "UNKNOWN", f"the smuggled request {cid} was executed"


# --- lengths and bodies -------------------------------------------------------------------


def test_declared_oversized_body_is_413_before_it_is_sent(gateway: GatewayProcess) -> None:
    started = time.monotonic()
    answer = raw_exchange(
        gateway.port,
        head("POST", "/orders", "content-type: application/json", "content-length: 10000000"),
        wait_s=2,
    )
    assert statuses(answer) == [413], answer
    assert b"connection: close" in answer
    assert time.monotonic() - started < 1.5, "answered without waiting for the body"


def test_expect_continue_with_an_oversized_body_gets_413_not_100(gateway: GatewayProcess) -> None:
    answer = raw_exchange(
        gateway.port,
        head(
            "POST",
            "/orders",
            "content-type: application/json",
            "content-length: 9999999",
            "expect: 100-continue",
        ),
    )
    assert statuses(answer) == [413], answer


def test_a_body_shorter_than_its_content_length_times_out_with_408(gateway: GatewayProcess) -> None:
    cid, _ = smuggled(gateway)
    body = b'{"symbol":"BTC","side":"BUY","type":"LIMIT","qty":1,"price":60000,"clientOrderId":"'
    request = (
        head(
            "POST",
            "/orders",
            "content-type: application/json",
            "content-length: 500",
            account=VICTIM,
        )
        + body
        + cid.encode()
        + b'"}'
    )
    started = time.monotonic()
    answer = raw_exchange(gateway.port, request, wait_s=HEADER_TIMEOUT_MS / 1000 + 3)
    assert statuses(answer) == [408], answer
    assert time.monotonic() - started < HEADER_TIMEOUT_MS / 1000 + 2.5
    assert_not_executed(gateway, cid)


def test_bytes_after_a_content_length_body_are_the_next_request(gateway: GatewayProcess) -> None:
    """The declared length is honoured exactly: what follows is never merged into the body."""
    following = head("GET", "/orders/client/after-the-body", account=VICTIM)
    request = (
        head("POST", "/orders", "content-type: application/json", "content-length: 16")
        + b'{"symbol":"BTC"}'
        + following
    )
    answer = raw_exchange(gateway.port, request, expect=2)
    assert statuses(answer) == [400, 200], answer
    assert answer.count(b'"field"') == 1  # the first is an incomplete order
    assert b'"clientOrderId":"after-the-body"' in answer


def test_a_chunked_body_over_the_limit_is_413_as_it_crosses(gateway: GatewayProcess) -> None:
    chunk = b"4000\r\n" + b"x" * 0x4000 + b"\r\n"
    request = (
        head("POST", "/orders", "content-type: application/json", "transfer-encoding: chunked")
        + chunk * 6
        + b"0\r\n\r\n"
    )
    answer = raw_exchange(gateway.port, request, chunks=12)
    assert statuses(answer) == [413], answer


@pytest.mark.parametrize(
    "size_line", [b"fffffffffffffffff", b"-1", b"0x10", b"zz", b"10;" + b"e" * 20000]
)
def test_malformed_chunk_sizes_are_refused(gateway: GatewayProcess, size_line: bytes) -> None:
    request = (
        head("POST", "/orders", "content-type: application/json", "transfer-encoding: chunked")
        + size_line
        + b"\r\n{}\r\n0\r\n\r\n"
    )
    codes = statuses(raw_exchange(gateway.port, request, wait_s=HEADER_TIMEOUT_MS / 1000 + 3))
    assert codes, "no answer"
    assert codes[0] in (400, 408, 413, 431), codes  # 408: a huge chunk extension times out


# --- heads --------------------------------------------------------------------------------


def test_a_header_flood_is_431(gateway: GatewayProcess) -> None:
    lines = [f"x-flood-{index}: {index}" for index in range(150)]
    answer = raw_exchange(gateway.port, head("GET", "/health", *lines))
    assert statuses(answer) == [431], answer


def test_one_huge_header_is_431(gateway: GatewayProcess) -> None:
    answer = raw_exchange(gateway.port, head("GET", "/health", "x-big: " + "a" * 20_000))
    assert statuses(answer) == [431], answer


def test_a_huge_token_is_431_or_401_never_a_crash(gateway: GatewayProcess) -> None:
    request = b"GET /orders HTTP/1.1\r\nhost: x\r\nauthorization: Bearer " + b"a" * 15000
    answer = raw_exchange(gateway.port, request + b"\r\n\r\n", expect=1)
    assert statuses(answer) in ([401], [431]), answer


def test_a_long_url_is_414(gateway: GatewayProcess) -> None:
    answer = raw_exchange(gateway.port, head("GET", "/orders/" + "a" * 5000))
    assert statuses(answer) == [414], answer


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"\x00\x01\x02\x03\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"GET /health HTTP/1.1\r\nhost: x\r\nbad header line\r\n\r\n",
        b"GET /health HTTP/1.1\r\nhost: x\r\nx-nul: a\x00b\r\n\r\n",
        b"GET /he alth HTTP/1.1\r\n\r\n",
        b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nhost: 127.0.0.1:22\r\n\r\n",
    ],
)
def test_garbage_and_odd_request_lines_are_refused(
    gateway: GatewayProcess, request_bytes: bytes
) -> None:
    codes = statuses(raw_exchange(gateway.port, request_bytes))
    assert codes, "no answer at all"
    assert 400 <= codes[0] < 600, codes


@pytest.mark.parametrize("method", ["TRACE", "OPTIONS", "DELETE", "PATCH", "PROPFIND"])
def test_unknown_methods_are_refused(gateway: GatewayProcess, method: str) -> None:
    codes = statuses(raw_exchange(gateway.port, head(method, "/orders"), expect=1))
    assert codes, "no answer"
    assert codes[0] in (400, 404, 405, 501), codes


def test_path_tricks_reach_nothing(gateway: GatewayProcess) -> None:
    attacker = client(gateway, ATTACKER)
    for path in (
        "/orders/..%2f..%2fapi%2fadmin",
        "/orders/%2e%2e/events",
        "//api/admin",
        "/api/admin/../admin/kill-switch",
        "/ORDERS",
        "/orders%00",
    ):
        result = attacker.get(path)
        assert result.status in (400, 404, 405), (path, result)


@pytest.mark.parametrize("upgrade", [b"h2c", b"websocket"])
def test_upgrade_requests_never_switch_protocols(gateway: GatewayProcess, upgrade: bytes) -> None:
    request = b"GET /health HTTP/1.1\r\nhost: x\r\nupgrade: %s\r\nconnection: upgrade\r\n\r\n"
    codes = statuses(raw_exchange(gateway.port, request % upgrade))
    # answered as if plain (RFC 9110 lets a server ignore Upgrade), then the connection is
    # refused (400 UPGRADE_NOT_SUPPORTED) instead of switching: never a 101
    assert codes in ([200], [400], [200, 400]), codes


# --- smuggling ------------------------------------------------------------------------------

SMUGGLE_FRAMINGS = {
    "CL and TE": ["content-length: {cl}", "transfer-encoding: chunked"],
    "TE then CL": ["transfer-encoding: chunked", "content-length: {cl}"],
    "two different CL": ["content-length: 5", "content-length: {cl}"],
    "CL list": ["content-length: 5, {cl}"],
    "CL plus sign": ["content-length: +{cl}"],
    "TE xchunked + CL": ["transfer-encoding: xchunked", "content-length: {cl}"],
    "TE space before colon + CL": ["transfer-encoding : chunked", "content-length: {cl}"],
    "TE chunked, identity + CL": ["transfer-encoding: chunked, identity", "content-length: {cl}"],
    "two TE + CL": [
        "transfer-encoding: chunked",
        "transfer-encoding: identity",
        "content-length: {cl}",
    ],
    "TE tab + CL": ["transfer-encoding:\tchunked", "content-length: {cl}"],
    "TE obs-fold + CL": ["transfer-encoding:", " chunked", "content-length: {cl}"],
    "TE uppercase + CL": ["TRANSFER-ENCODING: CHUNKED", "content-length: {cl}"],
}


@pytest.mark.parametrize("framing", sorted(SMUGGLE_FRAMINGS))
def test_ambiguous_framing_is_refused_and_nothing_is_smuggled(
    gateway: GatewayProcess, framing: str
) -> None:
    cid, hidden = smuggled(gateway)
    body = b"0\r\n\r\n" + hidden
    lines = [line.format(cl=len(body)) for line in SMUGGLE_FRAMINGS[framing]]
    request = head("POST", "/events?key=SMG", "content-type: application/json", *lines) + body
    codes = statuses(raw_exchange(gateway.port, request))
    assert codes, "no answer"
    assert codes[0] == 400, (framing, codes)
    assert len(codes) == 1, f"{framing}: a second request was parsed: {codes}"
    assert_not_executed(gateway, cid)


# --- pipelining ----------------------------------------------------------------------------


def test_pipelined_garbage_after_a_valid_request(gateway: GatewayProcess) -> None:
    request = head("GET", "/market/symbols") + b"\x16\x03\x01\x02\x00garbage\r\n\r\n"
    codes = statuses(raw_exchange(gateway.port, request))
    assert codes == [200, 400], codes


def test_hundreds_of_pipelined_requests_are_answered_in_order(gateway: GatewayProcess) -> None:
    requests = b"".join(head("GET", f"/orders/client/pipe-{index}") for index in range(500))
    answer = raw_exchange(gateway.port, requests, wait_s=10, expect=500)
    assert statuses(answer) == [200] * 500
    order = [int(part.split(b'"', 1)[0]) for part in answer.split(b'"clientOrderId":"pipe-')[1:]]
    assert order == list(range(500))


def test_pipelined_requests_after_a_refusal_are_dropped(gateway: GatewayProcess) -> None:
    cid, hidden = smuggled(gateway)
    request = head("POST", "/orders", "content-length: 99999999") + hidden
    codes = statuses(raw_exchange(gateway.port, request))
    assert codes == [413], codes
    assert_not_executed(gateway, cid)
