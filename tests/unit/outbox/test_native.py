"""The outbox's native codec (outbox/_codec.c, outbox/native.py) against the Python reference.

Identity: for every record type, random field values and any strings, the (value, key,
timestamp ms) it returns equal `EnvelopeEncoder.encode_keyed` byte for byte. Verdicts: for any
payload bytes it either returns the reference's message or leaves the record to the reference
(never accepts what msgspec refuses); for every byte flip and truncation of a batch, `verify`
says what `wal.scan` says; through a WALTailer, damage raises the same WALCorruption.
"""

import sys
import zlib
from enum import IntEnum
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.fixtures.backoffice import SOURCE, TS0_NS, WALWriter, order_flow, sample_records

from switchyard.core.events import RECORD_CLASSES, MarketEvent, Record, RecordType, SessionStarted
from switchyard.outbox import native
from switchyard.outbox._codec import Codec, crc32
from switchyard.outbox.envelope import EnvelopeEncoder, source_name
from switchyard.outbox.native import NativeEnvelopes, codec_schemas, load_codec
from switchyard.wal import PayloadError, WALCorruption, WALTailer, decode_payload
from switchyard.wal.format import ZERO_HASH, ChainHasher, encode_record
from switchyard.wal.payload import encode_payload
from switchyard.wal.scan import BadFrame, _parse_records

KEY = b"test-chain-key"
CODECS = {None: load_codec(None), KEY: load_codec(KEY)}


def _text(source: str) -> bytes:
    return msgspec.json.encode(source)[1:-1]


def _body(
    records: list[tuple[int, bytes]],
    *,
    first_seq: int = 1,
    ts_ns: int = TS0_NS,
    key: bytes | None = None,
) -> tuple[bytes, bytes]:
    """A batch body of (record type, payload) records from `first_seq`; and the prev hash."""
    hasher = ChainHasher(key)
    prev = bytes(range(32))
    body, chain = b"", prev
    for index, (record_type, payload) in enumerate(records):
        frame, chain = encode_record(
            seq=first_seq + index,
            record_type=record_type,
            ts_ns=ts_ns + index * 1_001,
            payload=payload,
            prev_hash=chain,
            hasher=hasher,
        )
        body += frame
    return body, prev


def _reference(record: Record, *, seq: int, ts_ns: int, source: str) -> tuple[bytes, bytes, int]:
    key, value = EnvelopeEncoder(source).encode_keyed(record, seq=seq, ts_ns=ts_ns)
    return (value, key, ts_ns // 1_000_000)


def _encode_one(record_type: int, payload: bytes, *, seq: int, ts_ns: int, source: str) -> list:
    body, _ = _body([(record_type, payload)], first_seq=seq, ts_ns=ts_ns)
    pos, values, keys, stamps = CODECS[None].encode(body, 0, 1, _text(source))
    assert pos == (len(body) if values else 0)
    return list(zip(values, keys, stamps, strict=True))


# --- identity with the reference encoder ---------------------------------------------------


@pytest.mark.parametrize("record_type", list(RecordType), ids=lambda t: t.name)
@pytest.mark.parametrize("ts_ns", [0, 999, 1_000, TS0_NS + 123_456_789, 2**63 - 1])
def test_codec_every_record_type_equals_the_reference(record_type: RecordType, ts_ns: int) -> None:
    record = sample_records()[record_type]
    messages = _encode_one(record_type, encode_payload(record), seq=7, ts_ns=ts_ns, source=SOURCE)
    if type(record) is SessionStarted:
        assert messages == []  # changes the source: always left to the reference
    else:
        assert messages == [_reference(record, seq=7, ts_ns=ts_ns, source=SOURCE)]


def _field_strategy(info: msgspec.structs.FieldInfo) -> st.SearchStrategy[Any]:
    kind = info.type
    if isinstance(kind, type) and issubclass(kind, IntEnum):
        return st.sampled_from(list(kind))
    if kind is bool:
        return st.booleans()
    if kind is int:
        return st.integers(-(2**63), 2**64 - 1)
    if kind is str:
        return st.text(max_size=24)
    assert kind == tuple[str, ...], kind
    return st.lists(st.text(max_size=8), max_size=20).map(tuple)


RECORDS = st.one_of(
    *(
        st.builds(cls, **{info.name: _field_strategy(info) for info in msgspec.structs.fields(cls)})
        for cls in RECORD_CLASSES.values()
        if cls is not SessionStarted
    )
)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(
    record=RECORDS,
    seq=st.integers(1, 2**64 - 1),
    ts_ns=st.integers(0, 2**63 - 1),
    engine=st.text(min_size=1, max_size=12).filter(lambda t: ":" not in t),
)
def test_codec_any_record_equals_the_reference(
    record: Record, seq: int, ts_ns: int, engine: str
) -> None:
    source = source_name(engine, "abcdef")
    payload = encode_payload(record)
    messages = _encode_one(int(record.record_type), payload, seq=seq, ts_ns=ts_ns, source=source)
    assert messages == [_reference(record, seq=seq, ts_ns=ts_ns, source=source)]


def test_codec_escapes_every_ascii_character_and_unicode_edges_like_msgspec() -> None:
    texts = [chr(code) for code in range(128)]
    texts += ["\u2028\u2029", "\ufeff", "\uffff", "\U0010ffff", 'é\x00"\\/', "\x7f\x80"]
    for text in texts:
        record = MarketEvent(key=text, price=1, volume=2, account_id=text)
        messages = _encode_one(40, encode_payload(record), seq=1, ts_ns=TS0_NS, source=text)
        assert messages == [_reference(record, seq=1, ts_ns=TS0_NS, source=text)], repr(text)


def test_codec_writes_every_integer_edge_like_msgspec() -> None:
    from switchyard.core.enums import OrderStatus
    from switchyard.core.events import OrderAcked

    edges = {0, 2**63 - 1, -(2**63), 2**64 - 1}
    for power in range(20):
        edges |= {10**power - 1, 10**power, 10**power + 1, -(10**power)}
    edges |= {2**32 - 1, 2**32, 2**31, -(2**31) - 1}
    for value in sorted(v for v in edges if -(2**63) <= v < 2**64):
        record = OrderAcked(
            order_id="o", account_id="a", status=OrderStatus.SENT, filled_qty=value, venue_seq=value
        )
        messages = _encode_one(
            13, encode_payload(record), seq=max(value, 1), ts_ns=TS0_NS, source=SOURCE
        )
        assert messages == [_reference(record, seq=max(value, 1), ts_ns=TS0_NS, source=SOURCE)], (
            value
        )


def test_codec_short_array_takes_the_defaults_like_msgspec() -> None:
    record = sample_records()[RecordType.ORDER_ACCEPTED]
    short = msgspec.msgpack.encode(msgspec.structs.astuple(record)[:-2])  # no post_only, origin
    decoded = decode_payload(RecordType.ORDER_ACCEPTED, short)
    messages = _encode_one(10, short, seq=3, ts_ns=TS0_NS, source=SOURCE)
    assert messages == [_reference(decoded, seq=3, ts_ns=TS0_NS, source=SOURCE)]


# --- payloads: never laxer than msgspec ----------------------------------------------------


def _same_verdict_as_the_reference(record_type: int, payload: bytes) -> None:
    messages = _encode_one(record_type, payload, seq=5, ts_ns=TS0_NS, source=SOURCE)
    try:
        decoded = decode_payload(record_type, payload)
    except PayloadError:
        assert messages == []  # left to the reference, which refuses it
        return
    if messages:
        assert messages == [_reference(decoded, seq=5, ts_ns=TS0_NS, source=SOURCE)]


@settings(max_examples=1500)
@given(record_type=st.sampled_from([int(t) for t in RecordType] + [0, 2, 255]), data=st.binary())
def test_codec_any_payload_bytes_same_verdict_as_msgspec(record_type: int, data: bytes) -> None:
    _same_verdict_as_the_reference(record_type, data)


@settings(max_examples=1500)
@given(
    record=RECORDS,
    where=st.floats(0, 1, exclude_max=True),
    value=st.integers(0, 255),
    cut=st.booleans(),
)
def test_codec_damaged_payload_same_verdict_as_msgspec(
    record: Record, where: float, value: int, cut: bool
) -> None:
    payload = bytearray(encode_payload(record))
    at = int(where * len(payload))
    if cut:
        del payload[at:]
    else:
        payload[at] = value
    _same_verdict_as_the_reference(int(record.record_type), bytes(payload))


def test_codec_invalid_utf8_and_wrong_kinds_are_left_to_the_reference() -> None:
    good = encode_payload(MarketEvent(key="k", price=1, volume=2, account_id="a"))
    for bad in [
        good.replace(b"\xa1k", b"\xa1\xff"),  # invalid UTF-8
        good.replace(b"\xa1k", b"\xa2\xed\xa0"),  # a surrogate: CPython refuses it
        good.replace(b"\x01", b"\xc3"),  # a bool where an int goes
        good + b"\x00",  # trailing bytes
        b"\x95" + good[1:] + b"\x01",  # an extra element: msgspec ignores it, the codec defers
    ]:
        assert _encode_one(40, bad, seq=1, ts_ns=TS0_NS, source=SOURCE) == []
        _same_verdict_as_the_reference(40, bad)


def test_codec_time_before_1970_is_left_to_the_reference() -> None:
    payload = encode_payload(sample_records()[RecordType.ORDER_SENT])
    assert _encode_one(12, payload, seq=1, ts_ns=-1, source=SOURCE) == []


# --- verify: the checks of wal.scan ---------------------------------------------------------


def _reference_accepts(body: bytes, count: int, first_seq: int, prev: bytes, key: bytes | None):
    try:
        _parse_records(
            body, 0, count, segment="s", expected_seq=first_seq, prev_hash=prev,
            hasher=ChainHasher(key),
        )  # fmt: skip
    except BadFrame:
        return False
    return True


def _small_batch(key: bytes | None) -> tuple[bytes, bytes, int]:
    records = [sample_records()[t] for t in (RecordType.ORDER_ACCEPTED, RecordType.ORDER_FILLED)]
    records.append(MarketEvent(key="k", price=1, volume=2, account_id=""))
    body, prev = _body(
        [(int(r.record_type), encode_payload(r)) for r in records], first_seq=9, key=key
    )
    return body, prev, len(records)


@pytest.mark.parametrize("key", [None, KEY], ids=["sha256", "hmac"])
def test_codec_verify_every_byte_flip_and_truncation_same_verdict(key: bytes | None) -> None:
    codec = CODECS[key]
    body, prev, count = _small_batch(key)
    assert codec.verify(body, count, 9, prev)
    assert not codec.verify(body, count, 10, prev)  # another first seq
    assert not codec.verify(body, count, 9, ZERO_HASH)  # another predecessor
    assert not codec.verify(body, count + 1, 9, prev)
    assert not codec.verify(body, count - 1, 9, prev)  # stray bytes after the records
    other = CODECS[None if key else KEY]
    assert not other.verify(body, count, 9, prev)  # the other key
    for offset in range(len(body)):
        for bit in (0, 3, 7):
            damaged = bytearray(body)
            damaged[offset] ^= 1 << bit
            verdict = codec.verify(bytes(damaged), count, 9, prev)
            assert verdict == _reference_accepts(bytes(damaged), count, 9, prev, key)
            assert not verdict, (offset, bit)
    for length in range(len(body)):
        assert not codec.verify(body[:length], count, 9, prev)
        assert not _reference_accepts(body[:length], count, 9, prev, key)


@settings(max_examples=300)
@given(data=st.binary(max_size=400), count=st.integers(1, 4))
def test_codec_verify_arbitrary_bytes_same_verdict(data: bytes, count: int) -> None:
    prev = bytes(32)
    assert CODECS[None].verify(data, count, 1, prev) == _reference_accepts(
        data, count, 1, prev, None
    )


def test_codec_crc32_equals_zlib_for_every_length() -> None:
    import random

    generator = random.Random(5)
    for length in range(1_100):
        data = generator.randbytes(length)
        assert crc32(data) == zlib.crc32(data), length
        assert crc32(b"\xff" * length) == zlib.crc32(b"\xff" * length), length


# --- through a WALTailer --------------------------------------------------------------------


def _reference_messages(wal_dir: Path, start_seq: int) -> list[tuple[bytes, bytes, int]]:
    """What the outbox sent before the codec: WALTailer.poll, decode, encode_keyed."""
    tailer = WALTailer(wal_dir, start_seq=start_seq, hmac_key=None)
    encoder = EnvelopeEncoder(source_name("gw0", "abcdef"))
    out = []
    while records := tailer.poll(100):
        for record in records:
            event = decode_payload(record.record_type, record.payload)
            if type(event) is SessionStarted:
                encoder.source = source_name(event.engine_id, "abcdef")
            key, value = encoder.encode_keyed(event, seq=record.seq, ts_ns=record.ts_ns)
            out.append((value, key, record.ts_ns // 1_000_000))
    return out


def _native_messages(wal_dir: Path, start_seq: int, read_size: int) -> list[Any]:
    tailer = WALTailer(wal_dir, start_seq=start_seq, hmac_key=None)
    encoder = EnvelopeEncoder(source_name("gw0", "abcdef"))
    sessions: list[tuple[int, str]] = []

    def session(seq: int, engine_id: str) -> None:
        sessions.append((seq, engine_id))
        encoder.source = source_name(engine_id, "abcdef")

    messages = NativeEnvelopes(tailer, CODECS[None], encoder, session)
    out: list[Any] = []
    while True:
        values, keys, stamps = messages.read(read_size)
        if not values:
            return out
        assert len(values) <= read_size
        assert messages.first_ts_ns // 1_000_000 == stamps[0]  # the lag clock's start
        out += zip(values, keys, stamps, strict=True)
        assert messages.next_seq == start_seq + len(out)


@pytest.mark.parametrize("read_size", [1, 7, 64, 512])
@pytest.mark.parametrize("start_seq", [1, 2, 50, 97])
def test_native_envelopes_equal_the_reference_path(
    tmp_path: Path, read_size: int, start_seq: int
) -> None:
    wal = WALWriter(tmp_path / "wal", wal_id="abcdef")
    items, _ = order_flow(seed=4, orders=30)
    more, _ = order_flow(seed=5, orders=10, engine_id="gw2", first_seq=len(items) + 1)
    wal.append_all(items + more, batch=13)  # a SessionStarted mid-batch changes the source
    expected = _reference_messages(wal.wal_dir, start_seq)
    assert len(expected) == len(items) + len(more) - start_seq + 1
    assert _native_messages(wal.wal_dir, start_seq, read_size) == expected


def test_native_envelopes_stop_at_the_watermark(tmp_path: Path) -> None:
    wal = WALWriter(tmp_path / "wal", wal_id="abcdef")
    items, _ = order_flow(seed=4, orders=5)
    wal.append(items[:10])
    wal.append(items[10:20], durable=False)
    assert len(_native_messages(wal.wal_dir, 1, 512)) == 10


def _corruption(read: Any) -> WALCorruption | None:
    try:
        read()
    except WALCorruption as error:
        return error
    return None


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(where=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_native_envelopes_damage_raises_what_the_reference_raises(
    tmp_path_factory: pytest.TempPathFactory, where: float, bit: int
) -> None:
    directory = tmp_path_factory.mktemp("wal") / "wal"
    wal = WALWriter(directory, wal_id="abcdef", segment_size_bytes=64 * 1024)
    items, _ = order_flow(seed=6, orders=8)
    wal.append_all(items, batch=9)
    start = 128  # the segment header
    offset = start + int(where * (wal.offset - start))
    data = bytearray(wal.segment.read_bytes())
    data[offset] ^= 1 << bit
    wal.segment.write_bytes(bytes(data))
    reference = _corruption(lambda: _reference_messages(wal.wal_dir, 1))
    found = _corruption(lambda: _native_messages(wal.wal_dir, 1, 512))
    assert reference is not None  # every flip below the watermark is damage
    assert found is not None
    assert (found.file, found.offset, found.reason, found.intact) == (
        reference.file,
        reference.offset,
        reference.reason,
        reference.intact,
    )


def test_native_envelopes_bad_payload_raises_payload_error_with_its_seq(tmp_path: Path) -> None:
    wal = WALWriter(tmp_path / "wal", wal_id="abcdef")
    items, _ = order_flow(seed=4, orders=3)
    wal.append(items[:4])

    class Broken(msgspec.Struct, array_like=True):
        record_type = RecordType.ORDER_SENT
        text: str

    wal.append([(5, TS0_NS, Broken("not an order"))])  # type: ignore[list-item]
    with pytest.raises(PayloadError, match="^seq 5: payload does not decode as ORDER_SENT"):
        _native_messages(wal.wal_dir, 1, 512)


def test_load_codec_without_the_extension_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "switchyard.outbox._codec", None)
    with pytest.raises(RuntimeError, match="make setup"):
        native.load_codec(None)


def test_codec_schemas_cover_every_record_type() -> None:
    assert set(codec_schemas()) == {int(t) for t in RecordType}
    Codec(codec_schemas(), None)
