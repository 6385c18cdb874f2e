"""Mid-log corruption fails stop, naming the file and the offset (DESIGN §4, STYLE 2.5).

Damage anywhere before the log's last batch, or anywhere in a segment that is not the last,
or in a segment header, cannot be a torn write: recovery must refuse to start with a
WALCorruption whose file is the damaged segment and whose offset lies inside the damaged
frame, and must not have changed a byte. The default suite flips one bit of every byte of a
middle batch and of both segment headers, and of every fifth byte of the first segment's last
batch (a later segment exists); `-m crash_full` flips every bit of the second segment before
its last batch and of both headers, and one bit of every byte of the first segment.
A real `switchyard run` on a damaged data directory exits 3 and names file and offset.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
from tests.fixtures.wal import FAKE_WAL_DIR, append_many, close, open_journal

from switchyard.testing.fake_disk import FakeDisk
from switchyard.testing.gateway_harness import GatewayProcess
from switchyard.wal import WALCorruption
from switchyard.wal.format import SEGMENT_HEADER_SIZE

BATCHES = [40] * 10 + [34, 3, 5, 2]  # two segments: 11 batches, then 3


def frames(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of every batch frame of a segment."""
    found, position = [], SEGMENT_HEADER_SIZE
    while data[position : position + 4] == b"SWYB":
        end = position + 24 + int.from_bytes(data[position + 4 : position + 8], "little")
        found.append((position, end))
        position = end
    return found


@pytest.fixture(scope="module")
def built() -> tuple[FakeDisk, dict[str, bytes]]:
    disk = FakeDisk(seed=5)
    disk.makedirs("/data")
    journal, _ = open_journal(disk, segment_size_bytes=64 * 1024)
    seq = 0
    for size in BATCHES:
        append_many(journal, seq + 1, size, commit_every=size)
        seq += size
    close(journal)
    names = sorted(n for n in disk.listdir(FAKE_WAL_DIR) if n.endswith(".wal"))
    assert len(names) == 2
    return disk, {f"{FAKE_WAL_DIR}/{n}": disk.file_bytes(f"{FAKE_WAL_DIR}/{n}") for n in names}


def expect_refusal(built, path: str, offset: int, bit: int, frame: tuple[int, int]) -> None:
    base, segments = built
    disk = copy.deepcopy(base)
    data = bytearray(segments[path])
    data[offset] ^= 1 << bit
    disk.set_file_bytes(path, bytes(data))
    before = {name: disk.file_bytes(name) for name in segments}
    with pytest.raises(WALCorruption) as raised:
        open_journal(disk)
    error = raised.value
    where = f"bit {bit} of byte {offset} of {path}: {error}"
    assert error.file == path, where
    assert frame[0] <= error.offset < frame[1], where
    assert str(error.offset) in str(error), where
    assert path in str(error), where
    assert {name: disk.file_bytes(name) for name in segments} == before, "recovery wrote"


def test_a_flip_anywhere_in_a_middle_batch_fails_stop(built):
    first, second = sorted(built[1])
    frame = frames(built[1][second])[1]  # the second segment's middle batch
    for offset in range(*frame):
        expect_refusal(built, second, offset, offset % 8, frame)


def test_a_flip_in_the_last_batch_of_an_earlier_segment_fails_stop(built):
    first, _ = sorted(built[1])
    frame = frames(built[1][first])[-1]
    for offset in range(frame[0], frame[1], 5):  # every byte and bit: -m crash_full
        expect_refusal(built, first, offset, offset % 8, frame)


def test_a_flip_in_any_segment_header_fails_stop(built):
    for path in sorted(built[1]):
        for offset in range(SEGMENT_HEADER_SIZE):
            expect_refusal(built, path, offset, offset % 8, (0, SEGMENT_HEADER_SIZE))


@pytest.mark.crash_full
def test_every_bit_of_the_second_segment_before_its_last_batch_full(built):
    path = sorted(built[1])[1]
    spans = frames(built[1][path])[:-1]  # the log's last batch may be a torn tail
    for frame in [(0, SEGMENT_HEADER_SIZE), *spans]:
        for offset in range(*frame):
            for bit in range(8):
                expect_refusal(built, path, offset, bit, frame)


@pytest.mark.crash_full
@pytest.mark.parametrize("part", range(4))
def test_every_byte_of_the_first_segment_full(built, part):
    """All 8 bits of its header; one bit (rotating) of every byte of its batches, in 4 parts."""
    path = sorted(built[1])[0]
    if part == 0:
        for offset in range(SEGMENT_HEADER_SIZE):
            for bit in range(8):
                expect_refusal(built, path, offset, bit, (0, SEGMENT_HEADER_SIZE))
    for frame in frames(built[1][path]):
        for offset in range(*frame):
            if (offset // 4096) % 4 == part:
                expect_refusal(built, path, offset, offset % 8, frame)


def test_the_gateway_refuses_to_start_on_a_damaged_log_and_names_the_place(tmp_path: Path):
    gw = GatewayProcess(tmp_path / "gw")
    with gw:
        alice = gw.client("alice")
        for index in range(30):
            alice.post(
                "/orders?ack=durable",
                {
                    "symbol": "BTC",
                    "side": "BUY",
                    "type": "LIMIT",
                    "qty": 1,
                    "price": 60_000,
                    "clientOrderId": f"c{index}",
                },
            )
    segment = sorted((tmp_path / "gw" / "wal").glob("*.wal"))[0]
    data = bytearray(segment.read_bytes())
    spans = frames(bytes(data))
    start, end = spans[len(spans) // 2]
    data[(start + end) // 2] ^= 0x04
    segment.write_bytes(bytes(data))
    result = subprocess.run(
        [sys.executable, "-m", "switchyard", "run"],
        env=gw.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 3, (result.returncode, result.stderr[-2000:])
    output = result.stdout + result.stderr
    assert "refusing to start" in output
    assert f"WAL corrupt at {segment}" in output, output[-2000:]
    assert "offset" in output
    assert "Traceback" not in output, "a refusal is a clear message, not a crash"
