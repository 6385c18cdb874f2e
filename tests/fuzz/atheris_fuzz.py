"""Coverage-guided fuzzing with atheris (libFuzzer) of the targets in tests/fuzz/targets.py.

    python tests/fuzz/atheris_fuzz.py TARGET [libFuzzer flags, e.g. -max_total_time=60]

TARGET: http, order, wal-record, wal-segment, venue, envelope. `make fuzz` runs each for
FUZZ_SECONDS with a corpus under test-artifacts/fuzz/TARGET (seeded with valid inputs) and
keeps crash inputs there (crash-*); replay one with
`python tests/fuzz/atheris_fuzz.py TARGET test-artifacts/fuzz/TARGET/crash-...`.
Not collected by pytest (no test_ prefix).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

with atheris.instrument_imports(include=["switchyard"]):
    from tests.fuzz import targets


def _http(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    cuts = provider.ConsumeIntInRange(0, 3)
    raw = provider.ConsumeBytes(provider.remaining_bytes())
    step = max(1, len(raw) // (cuts + 1))
    pieces = [raw[i : i + step] for i in range(0, len(raw), step)] or [b"\r\n"]
    targets.http_request_path(pieces)


def _segment(data: bytes) -> None:
    image = targets._IMAGE or targets.WALImage()
    targets._IMAGE = image
    provider = atheris.FuzzedDataProvider(data)
    base = bytearray(image.data)
    for _ in range(provider.ConsumeIntInRange(1, 4)):
        at = provider.ConsumeIntInRange(0, 2048)
        base[at] = provider.ConsumeIntInRange(0, 255)
    targets.wal_segment(bytes(base))


TARGETS: dict[str, Callable[[bytes], None]] = {
    "http": _http,
    "order": targets.order_decoder,
    "wal-record": targets.wal_record,
    "wal-segment": _segment,
    "venue": targets.venue_line,
    "envelope": targets.event_envelope,
}

SEEDS: dict[str, list[bytes]] = {
    "http": [
        b"\x00GET /orders HTTP/1.1\r\nhost: x\r\n\r\n",
        b"\x01POST /orders HTTP/1.1\r\ncontent-type: application/json\r\n"
        b"content-length: 2\r\n\r\n{}",
    ],
    "order": [targets.valid_order_json(), targets.valid_order_json(type="MARKET", price=None)],
    "venue": [
        b'{"type":"NEW","orderId":"o1","symbol":"BTC","side":"BUY","qty":1,"price":1}',
        b'{"type":"PING"}',
        b'{"type":"REPORT","orderId":"o1","status":"FILLED"}',
    ],
    "envelope": [
        b'{"schemaVersion":1,"eventId":"e:1","eventType":"OrderSent","seq":1,'
        b'"source":"e","occurredAtNs":1,"accountId":"a","orderId":"o","data":{}}'
    ],
}


def main() -> None:
    name = sys.argv[1]
    corpus = ROOT / "test-artifacts" / "fuzz" / name
    corpus.mkdir(parents=True, exist_ok=True)
    for index, seed in enumerate(SEEDS.get(name, [])):
        (corpus / f"seed-{index}").write_bytes(seed)
    target = TARGETS[name]
    argv = [sys.argv[0], *sys.argv[2:]]
    if not any(not arg.startswith("-") for arg in sys.argv[2:]):
        argv += [f"-artifact_prefix={corpus}/", str(corpus)]
    atheris.Setup(argv, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
