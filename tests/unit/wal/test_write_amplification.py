"""A preallocated segment must not make every fdatasync rewrite far more than was written.

Regression test for a measured defect: zero-filling segments with 1 MiB writes left the file
in 1 MiB page-cache folios, so each small batch write dirtied a whole folio and every
fdatasync wrote ~1 MiB to the device for ~20 KiB of records (55x). Measured with the kernel's
own per-process accounting (/proc/self/io write_bytes), not with time.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from switchyard.adapters.disk_os import OsDisk
from switchyard.wal.writer import prepare_segment_file

BATCH_BYTES = 19_000  # one writer batch of ~180 records
BATCHES = 200


def device_write_bytes() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == "write_bytes":
            return int(value)
    raise AssertionError("no write_bytes in /proc/self/io")


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux /proc/self/io")
def test_batch_syncs_write_about_what_was_written(tmp_path: Path) -> None:
    disk = OsDisk()
    handle = prepare_segment_file(disk, str(tmp_path / "seg.wal"), 16 * 1024 * 1024, "zero")
    try:
        before = device_write_bytes()
        if before == 0 and os.statvfs(tmp_path).f_blocks == 0:
            pytest.skip("this filesystem does not account device writes")
        data = b"x" * BATCH_BYTES
        for index in range(BATCHES):
            disk.pwrite(handle, data, index * BATCH_BYTES)
            disk.fdatasync(handle)
        written = device_write_bytes() - before
    finally:
        disk.close(handle)
    # Partial pages at both ends of each batch: at most a few pages beyond the data.
    assert written <= BATCHES * (BATCH_BYTES + 4 * 4096), written / BATCHES
