"""The outbox's hot path in native code: WAL batch -> Kafka messages in one C call per batch.

`_codec.c` verifies a batch frame's records (crc32, seqs, the SHA-256 / HMAC chain) and writes
each record's envelope JSON, byte-identical to `EnvelopeEncoder.encode_keyed`, from tables this
module generates from the msgspec Structs (as envelope.py generates its builders). Python kept
~3.7 us of one thread per record for that work; the bare producer's whole cost is 1.6-2 us
(docs/PERFORMANCE.md "Outbox"). The pure-Python path stays the reference: the back office's WAL
source and the tools use it, a batch the codec refuses is judged by `wal.scan.read_batch`, and
a record it does not handle (SessionStarted, or a payload msgspec would refuse or read
differently) by `decode_payload` + `EnvelopeEncoder`. tests/unit/outbox/test_native.py proves
both paths give the same bytes and the same verdicts.

The extension is built by `make setup` (setuptools, `pyproject.toml`); `load_codec` raises if
it is missing or disagrees with the reference: the outbox does not start without it.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Final

import msgspec

from switchyard.core.events import RECORD_CLASSES, Record, SessionStarted
from switchyard.wal import PayloadError, WALTailer, decode_payload
from switchyard.wal.format import RECORD_HEADER, RECORD_OVERHEAD, record_size

from .envelope import _KEY_FIELD, _LIFTED, SCHEMA_VERSION, EnvelopeEncoder, camel

if TYPE_CHECKING:
    from ._codec import Codec

__all__ = ["NativeEnvelopes", "codec_schemas", "load_codec"]

# Field kinds of _codec.c.
_INT, _STR, _BOOL, _ENUM, _STR_TUPLE = 0, 1, 2, 3, 4
_PYTHON_ONLY: Final = frozenset({SessionStarted})  # changes the source: the reference handles it

# produce()'s arguments, one list each: envelope JSON, Kafka key, timestamp ms. Three lists, not
# a tuple per message: zip() hands them to the produce loop in one reused tuple, and a tuple
# per message cost an allocation and the garbage collector's attention (measured).
Messages = tuple[list[bytes], list[bytes], list[int]]


def _field_spec(info: msgspec.structs.FieldInfo, prefix: bytes | None) -> tuple[Any, ...]:
    kind = info.type
    assert info.default_factory is msgspec.NODEFAULT, info
    default = None if info.default is msgspec.NODEFAULT else info.default
    if isinstance(kind, type) and issubclass(kind, IntEnum):
        names = {int(member): msgspec.json.encode(member.name) for member in kind}
        default_json = None if default is None else msgspec.json.encode(kind(default).name)
        return (_ENUM, prefix, default_json, names)
    default_json = None if default is None else msgspec.json.encode(default)
    # exact types only (a bool is not read as an int); anything else must be added to _codec.c
    codes = {bool: _BOOL, int: _INT, str: _STR, tuple[str, ...]: _STR_TUPLE}
    code = codes.get(kind)
    if code is None:
        raise TypeError(f"field {info.name}: type {kind!r} has no native encoding (_codec.c)")
    return (code, prefix, default_json, None)


def _schema(cls: type[Record]) -> tuple[Any, ...]:
    fields = msgspec.structs.fields(cls)
    names = [info.name for info in fields]
    specs: list[tuple[Any, ...]] = []
    first = True
    for info in fields:
        prefix = None
        if info.name not in _LIFTED:
            prefix = (b"" if first else b",") + msgspec.json.encode(camel(info.name)) + b":"
            first = False
        specs.append(_field_spec(info, prefix))
    after_seq = b'","eventType":' + msgspec.json.encode(cls.__name__) + b',"seq":'
    key = names.index(_KEY_FIELD.get(cls, "account_id"))
    account = names.index("account_id") if "account_id" in names else -1
    order = names.index("order_id") if "order_id" in names else -1
    return (cls in _PYTHON_ONLY, after_seq, tuple(specs), key, account, order)


def codec_schemas() -> dict[int, tuple[Any, ...]]:
    """The per-record-type tables _codec.c encodes from, keyed by record type."""
    assert SCHEMA_VERSION == 1  # written as a literal by _codec.c
    return {int(record_type): _schema(cls) for record_type, cls in RECORD_CLASSES.items()}


def _sample(cls: type[Record]) -> Record:
    """A record of `cls` with every field set (strings that need escaping, non-ASCII)."""
    values: dict[str, Any] = {}
    for index, info in enumerate(msgspec.structs.fields(cls)):
        kind = info.type
        if isinstance(kind, type) and issubclass(kind, IntEnum):
            values[info.name] = list(kind)[-1]
        elif kind is bool:
            values[info.name] = True
        elif kind is int:
            values[info.name] = -(10**12) - index
        elif kind is str:
            values[info.name] = f'{info.name} "é\\\n{index}'
        else:
            values[info.name] = ("a", 'b"', "ü")
    return cls(**values)


def load_codec(hmac_key: bytes | None) -> Codec:
    """The native codec for a WAL chained with `hmac_key`; raises if it cannot be used.

    Checks itself against the reference encoder on one record of every type, so a codec that
    an envelope change left behind fails here, at outbox start, not in a consumer.
    """
    try:
        from ._codec import Codec
    except ImportError as error:
        raise RuntimeError(
            f"the outbox's native codec is not built ({error}): run `make setup`"
        ) from error
    codec = Codec(codec_schemas(), hmac_key)
    encoder = EnvelopeEncoder('gw "1":abcdef')
    source = msgspec.json.encode(encoder.source)[1:-1]
    ts_ns = 1_700_000_000_123_456_789
    for seq, cls in enumerate(RECORD_CLASSES.values(), start=1):
        if cls in _PYTHON_ONLY:
            continue
        record = _sample(cls)
        payload = msgspec.msgpack.encode(record)
        body = RECORD_HEADER.pack(b"SR", 1, int(cls.record_type), len(payload), seq, ts_ns)
        body += payload + bytes(RECORD_OVERHEAD - RECORD_HEADER.size)
        _, values, keys, stamps = codec.encode(body, 0, 1, source)
        key, value = encoder.encode_keyed(record, seq=seq, ts_ns=ts_ns)
        if (values, keys, stamps) != ([value], [key], [ts_ns // 1_000_000]):
            raise RuntimeError(f"native codec disagrees with the reference on {cls.__name__}")
    return codec


class NativeEnvelopes:
    """The Kafka messages of a `WALTailer`'s durable records, in seq order, by batches.

    `read(n)` returns up to n messages (values, keys, timestamps ms) and moves `next_seq`;
    `first_ts_ns` is the WAL time of the first record of the last read. Not thread-safe (the
    outbox's thread).
    """

    __slots__ = (
        "_body",
        "_codec",
        "_encoder",
        "_left",
        "_on_session",
        "_pos",
        "_source",
        "_source_text",
        "_tailer",
        "first_ts_ns",
        "next_seq",
    )

    def __init__(
        self,
        tailer: WALTailer,
        codec: Codec,
        encoder: EnvelopeEncoder,
        on_session: Callable[[int, str], None],
    ) -> None:
        self._tailer = tailer
        self._codec = codec
        self._encoder = encoder  # the reference; its `source` is the truth (SessionStarted)
        self._on_session = on_session  # (seq, engine id) of a SessionStarted record
        self._body = b""
        self._pos = 0
        self._left = 0  # records of `_body` from `_pos` not read yet
        self._source = ""
        self._source_text = b""
        self.next_seq = tailer.next_seq
        self.first_ts_ns = 0

    def read(self, max_records: int) -> Messages:
        """Up to `max_records` messages (empty lists if nothing new is durable).

        Raises WALError (damage: nothing of this read may be sent) and PayloadError (a record
        that does not decode, named by its seq).
        """
        assert max_records >= 1
        values: list[bytes] = []
        keys: list[bytes] = []
        stamps: list[int] = []
        encode = self._codec.encode
        while len(values) < max_records:
            if self._left == 0 and not self._next_batch():
                break
            if not values:
                self.first_ts_ns = RECORD_HEADER.unpack_from(self._body, self._pos)[5]
            if self._encoder.source is not self._source:
                self._source = self._encoder.source
                self._source_text = msgspec.json.encode(self._source)[1:-1]
            wanted = min(max_records - len(values), self._left)
            self._pos, more, more_keys, more_stamps = encode(
                self._body, self._pos, wanted, self._source_text
            )
            values += more
            keys += more_keys
            stamps += more_stamps
            done = len(more)
            self._left -= done
            self.next_seq += done
            if done < wanted:
                value, key, stamp = self._reference()
                values.append(value)
                keys.append(key)
                stamps.append(stamp)
        return values, keys, stamps

    def _next_batch(self) -> bool:
        batch = self._tailer.poll_batch(self._codec.verify)
        if batch is None:
            return False
        body, pos = batch.body, 0
        for _ in range(batch.skip):  # only the first batch after the tailer located itself
            pos += record_size(RECORD_HEADER.unpack_from(body, pos)[3])
        assert batch.first_seq + batch.skip == self.next_seq, (batch.first_seq, self.next_seq)
        self._body, self._pos, self._left = body, pos, batch.count - batch.skip
        return True

    def _reference(self) -> tuple[bytes, bytes, int]:
        """The record at `_pos` the codec left to Python: decoded and encoded the plain way."""
        body, pos = self._body, self._pos
        _, _, record_type, length, seq, ts_ns = RECORD_HEADER.unpack_from(body, pos)
        payload = body[pos + RECORD_HEADER.size : pos + RECORD_HEADER.size + length]
        try:
            event = decode_payload(record_type, payload)
        except PayloadError as error:
            raise PayloadError(f"seq {seq}: {error}") from None
        if type(event) is SessionStarted:
            self._on_session(seq, event.engine_id)
        key, value = self._encoder.encode_keyed(event, seq=seq, ts_ns=ts_ns)
        self._pos = pos + record_size(length)
        self._left -= 1
        self.next_seq += 1
        return (value, key, ts_ns // 1_000_000)
