"""WAL payload codec: msgpack of the `core.events` record Structs.

One msgspec Encoder, and one Decoder per RecordType, built once at import (a Decoder is
specialised to its type, which is what makes decoding cheap). Payloads are `array_like`
Structs: fields are positional, so a record type may only gain fields at its end.
"""

from typing import Final

import msgspec

from switchyard.core.events import RECORD_CLASSES, Record, RecordType

_ENCODER: Final = msgspec.msgpack.Encoder()
_DECODERS: Final[dict[int, msgspec.msgpack.Decoder[Record]]] = {
    int(record_type): msgspec.msgpack.Decoder(cls) for record_type, cls in RECORD_CLASSES.items()
}


class PayloadError(ValueError):
    """A payload that does not decode as its record type."""


def encode_payload(record: Record) -> bytes:
    """The WAL payload of `record` (its type goes in the record header)."""
    return _ENCODER.encode(record)


def decode_payload(record_type: int, payload: bytes | memoryview) -> Record:
    """The record Struct stored in `payload` under `record_type`."""
    decoder = _DECODERS.get(record_type)
    if decoder is None:
        raise PayloadError(f"unknown record type {record_type}")
    try:
        return decoder.decode(payload)
    except (msgspec.DecodeError, UnicodeDecodeError) as error:  # a str that is not UTF-8
        name = RecordType(record_type).name
        raise PayloadError(f"payload does not decode as {name}: {error}") from None
