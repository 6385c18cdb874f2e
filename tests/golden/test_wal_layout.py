"""Golden file of the WAL's binary layout: segment header, one batch frame, two records.

A change to any byte of the on-disk format shows up as a diff of
tests/golden/data/wal_layout.txt; `UPDATE_GOLDEN=1` rewrites it for review.
"""

import os
from pathlib import Path

import pytest
from tests.fixtures.wal import FAKE_WAL_DIR, close, open_journal

from switchyard.core.enums import OrderType, Side, TimeInForce
from switchyard.core.events import OrderAccepted, RecordType
from switchyard.testing.fake_disk import FakeDisk
from switchyard.wal.format import SEGMENT_HEADER_SIZE
from switchyard.wal.payload import encode_payload

GOLDEN = Path(__file__).parent / "data" / "wal_layout.txt"

pytestmark = pytest.mark.golden


def _hexdump(data: bytes, base: int) -> list[str]:
    return [f"{base + i:08x}  {data[i : i + 16].hex(' ')}" for i in range(0, len(data), 16)]


def _layout() -> str:
    disk = FakeDisk(seed=0)
    disk.makedirs("/data")
    journal, _ = open_journal(disk)
    accepted = OrderAccepted(
        order_id="E1-000102-1",
        account_id="acct-1",
        client_order_id="c-1",
        idempotency_key="c-1",
        symbol="BTC",
        side=Side.BUY,
        order_type=OrderType.LIMIT,
        qty=10,
        price=100,
        time_in_force=TimeInForce.GTC,
        expire_at_ms=0,
    )
    journal.append(
        1, RecordType.ORDER_ACCEPTED, 1_700_000_000_000_000_001, encode_payload(accepted)
    )
    journal.append(
        2, RecordType.MARKET_EVENT, 1_700_000_000_000_000_002, b"\x94\xa3BTC\x64\x05\xa0"
    )
    journal.commit()
    close(journal)
    data = disk.file_bytes(FAKE_WAL_DIR + "/00000000000000000001.wal")
    end = len(data.rstrip(b"\x00"))
    lines = ["# segment header (128 bytes)", *_hexdump(data[:SEGMENT_HEADER_SIZE], 0)]
    lines += [
        "# batch frame: header (24 bytes) + 2 records",
        *_hexdump(data[SEGMENT_HEADER_SIZE:end], SEGMENT_HEADER_SIZE),
    ]
    return "\n".join(lines) + "\n"


def test_wal_binary_layout_matches_golden():
    actual = _layout()
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(actual)
    assert GOLDEN.exists(), "run with UPDATE_GOLDEN=1 to create the golden file"
    assert actual == GOLDEN.read_text()
