"""Hypothesis fuzzing of every input surface (targets in tests/fuzz/targets.py).

Structured generators (valid requests, records and lines, then mutated) plus raw bytes, so
the search starts inside the grammar and walks out of it. The default suite runs a few
hundred examples per target; FUZZ_EXAMPLES raises it; `make fuzz` adds coverage-guided
atheris runs of the same targets. A failure prints the falsifying input and the
`@reproduce_failure` blob (Hypothesis replays it); the examples database is off so runs are
independent.
"""

from __future__ import annotations

import json
import os
from typing import Any

import msgspec
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz import targets

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=12,
)
ORDER_FIELDS = (
    "symbol",
    "side",
    "type",
    "qty",
    "price",
    "timeInForce",
    "expireAt",
    "clientOrderId",
    "postOnly",
)
interesting = st.one_of(
    json_value,
    st.sampled_from(
        [
            "BUY",
            "SELL",
            "LIMIT",
            "MARKET",
            "GTD",
            "IOC",
            "",
            "BTC",
            "buy",
            "0",
            "-1",
            "1e3",
            "\u0000",
            "²",
        ]
    ),
    st.sampled_from([0, -1, 1, 2**31, 2**63, 10**12, 10**12 + 1, 10**15 + 1, 1.0, 1e300]),
)


@st.composite
def mutated_json(draw: Any, base: dict[str, Any], fields: tuple[str, ...]) -> bytes:
    body = dict(base)
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from([*fields, draw(st.text(max_size=8))]))
        if draw(st.booleans()):
            body[name] = draw(interesting)
        else:
            body.pop(name, None)
    raw = json.dumps(body).encode()  # stdlib: integers beyond 64 bits too
    if draw(st.integers(0, 9)) == 0:  # break the JSON itself
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(max_size=4)) + raw[at + 1 :]
    return raw


ORDER = {
    "symbol": "BTC",
    "side": "BUY",
    "type": "LIMIT",
    "qty": 1,
    "price": 60000,
    "clientOrderId": "fz-1",
}


@FUZZ
@given(data=st.one_of(st.binary(max_size=300), mutated_json(ORDER, ORDER_FIELDS)))
def test_fuzz_order_decoder(data: bytes) -> None:
    targets.order_decoder(data)


@FUZZ
@given(data=st.binary(max_size=400))
def test_fuzz_wal_record_decoder(data: bytes) -> None:
    targets.wal_record(data)


@st.composite
def damaged_segment(draw: Any) -> bytes:
    image = targets._IMAGE or targets.WALImage()
    targets._IMAGE = image
    data = bytearray(image.data)
    used = len(image.data.rstrip(b"\x00")) + 64
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, used))
        kind = draw(st.sampled_from(["flip", "zero", "insert", "delete", "overwrite"]))
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "zero":
            data[at : at + draw(st.integers(1, 64))] = bytes(draw(st.integers(1, 64)))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        else:
            chunk = draw(st.binary(min_size=1, max_size=32))
            data[at : at + len(chunk)] = chunk
    return bytes(data[: len(image.data)].ljust(len(image.data), b"\x00"))


@settings(FUZZ, max_examples=max(50, EXAMPLES // 3))
@given(data=damaged_segment())
def test_fuzz_wal_segment_recovery(data: bytes) -> None:
    targets.wal_segment(data)


VENUE_TYPES = [
    "HELLO",
    "NEW",
    "CANCEL",
    "REPLACE",
    "STATUS",
    "REFERENCE",
    "SUBSCRIBE",
    "BOOK",
    "PING",
    "REPORT",
    "DELTA",
    "TRADE",
    "ERROR",
    "PONG",
    "hello",
    "",
]
VENUE_FIELDS = (
    "type",
    "orderId",
    "symbol",
    "side",
    "orderType",
    "qty",
    "price",
    "timeInForce",
    "accountId",
    "expireAt",
    "postOnly",
    "depth",
    "symbols",
    "status",
    "filledQty",
    "cumQty",
    "lastQty",
    "lastPx",
)


@FUZZ
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.sampled_from(VENUE_TYPES).flatmap(
            lambda kind: mutated_json(
                {
                    "type": kind,
                    "orderId": "o-1",
                    "symbol": "BTC",
                    "side": "BUY",
                    "qty": 1,
                    "price": 100,
                },
                VENUE_FIELDS,
            )
        ),
    )
)
def test_fuzz_venue_protocol(data: bytes) -> None:
    targets.venue_line(data)


def _envelopes() -> list[dict[str, Any]]:
    from switchyard.outbox.envelope import EnvelopeEncoder
    from tests.fixtures.backoffice import sample_records

    encoder = EnvelopeEncoder("e1:abcdef")
    return [
        orjson.loads(encoder.encode(r, seq=i + 1, ts_ns=1_700_000_000_000_000_000))
        for i, r in enumerate(sample_records().values())
    ]


ENVELOPES = _envelopes()


@FUZZ
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.sampled_from(ENVELOPES).flatmap(lambda e: mutated_json(e, tuple(e))),
        st.sampled_from(ENVELOPES).flatmap(
            lambda e: mutated_json(e["data"], tuple(e["data"])).map(
                lambda d: orjson.dumps({**e, "data": orjson.loads(d)}) if _is_json(d) else d
            )
        ),
    )
)
def test_fuzz_backoffice_event_envelope(data: bytes) -> None:
    targets.event_envelope(data)


def _is_json(data: bytes) -> bool:
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError:
        return False
    return True


# --- HTTP ---------------------------------------------------------------------------------

PATHS = [
    "/orders",
    "/orders/{id}",
    "/orders/client/{id}",
    "/orders/{id}/cancel",
    "/orders/{id}/replace",
    "/orders/{id}/events",
    "/orders/{id}/stream",
    "/stream",
    "/accounts/{id}/events",
    "/market/symbols",
    "/market/{id}/book",
    "/events",
    "/events/{id}",
    "/audit/verify",
    "/audit/anchor",
    "/stats",
    "/health",
    "/api/admin",
    "/api/admin/kill-switch",
    "/api/reconcile",
    "/api/strategy",
    "/openapi.json",
    "/ui/api/info",
    "/ui/api/stream-ticket",
    "/ui/api/dev-sign-in",
    "/nowhere",
    "/",
]
QUERY_KEYS = [
    "ack",
    "limit",
    "status",
    "account",
    "afterSeq",
    "fromSeq",
    "depth",
    "key",
    "symbols",
    "lastEventId",
    "ticket",
    "afterOrderSeq",
]
segment = st.one_of(
    st.sampled_from(["e1-abcdef-2", "BTC", "fuzzer", "0", "%2e%2e", "x-²", "a" * 70]),
    st.text(
        alphabet=st.characters(codec="ascii", exclude_characters="/ ?#"), min_size=1, max_size=12
    ),
)


@st.composite
def http_requests(draw: Any) -> list[bytes]:
    gateway = targets.gateway_in_process()
    method = draw(st.sampled_from(["GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "G\x00T"]))
    path = draw(st.sampled_from(PATHS)).replace("{id}", draw(segment))
    pairs = draw(st.lists(st.tuples(st.sampled_from(QUERY_KEYS), segment), max_size=3))
    target = path + ("?" + "&".join(f"{k}={v}" for k, v in pairs) if pairs else "")
    body = draw(
        st.one_of(
            st.just(b""),
            mutated_json(ORDER, ORDER_FIELDS),
            st.just(b'{"qty": 2}'),
            st.just(b'{"price": 100, "volume": 1}'),
            st.binary(max_size=80),
        )
    )
    auth = draw(st.sampled_from([gateway.token, gateway.ops_token, "not.a.jwt", "", None]))
    lines = [f"{method} {target} HTTP/1.1", "host: fuzz"]
    if auth is not None:
        lines.append(f"authorization: Bearer {auth}")
    if draw(st.booleans()):
        lines.append(
            "content-type: "
            + draw(
                st.sampled_from(["application/json", "text/plain", "application/problem+json", ""])
            )
        )
    framing = draw(st.sampled_from(["length", "lying", "chunked", "none", "both"]))
    if framing in ("length", "both"):
        lines.append(f"content-length: {len(body)}")
    elif framing == "lying":
        lines.append(f"content-length: {len(body) + draw(st.integers(-5, 5))}")
    if framing in ("chunked", "both"):
        lines.append("transfer-encoding: chunked")
        body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if body else b"0\r\n\r\n"
    for name in draw(
        st.lists(
            st.sampled_from(
                [
                    "idempotency-key: k-1",
                    "last-event-id: 3",
                    "expect: 100-continue",
                    "connection: close",
                    "x-actor: fz",
                ]
            ),
            max_size=2,
        )
    ):
        lines.append(name)
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    if draw(st.integers(0, 7)) == 0:
        at = draw(st.integers(0, len(raw) - 1))
        raw = raw[:at] + bytes([draw(st.integers(0, 255))]) + raw[at + 1 :]
    cuts = sorted(draw(st.lists(st.integers(1, max(1, len(raw) - 1)), max_size=3)))
    return [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True) if raw[a:b]]


@settings(FUZZ, max_examples=max(50, EXAMPLES // 2))
@given(
    pieces=st.one_of(
        http_requests(), st.lists(st.binary(min_size=1, max_size=60), min_size=1, max_size=3)
    )
)
def test_fuzz_http_request_path(pieces: list[bytes]) -> None:
    targets.http_request_path(pieces)


def test_the_http_target_really_answers() -> None:
    """The harness is not vacuous: a valid order is accepted, a bad token refused."""
    gateway = targets.gateway_in_process()
    body = targets.valid_order_json(clientOrderId="fz-check")
    request = (
        f"POST /orders HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {gateway.token}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode()
    written = gateway.feed([request + body])
    assert written.startswith(b"HTTP/1.1 202"), written[:200]
    assert msgspec.json.decode(written.split(b"\r\n\r\n", 1)[1])["status"] == "ACCEPTED"
    refused = gateway.feed([b"GET /orders HTTP/1.1\r\nauthorization: Bearer x.y.z\r\n\r\n"])
    assert refused.startswith(b"HTTP/1.1 401"), refused[:200]
