"""The fixed mmap threshold: large buffers stay out of the brk heap after a large free."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from switchyard.config import GatewaySettings
from switchyard.core.env import ConfigError

# Frees an 8 MiB buffer (glibc's adaptive threshold then rises to 8 MiB), then allocates a
# 512 KiB one and prints whether it lies inside the [heap] mapping (CPython's id = address).
_PROBE = textwrap.dedent(
    """
    import sys
    from switchyard.adapters.process_memory import fix_mmap_threshold
    if sys.argv[1] == "fixed":
        assert fix_mmap_threshold(131072)
    big = bytes(8 * 1024 * 1024)
    del big
    buffers = [bytes(512 * 1024) for _ in range(4)]
    for line in open("/proc/self/maps"):
        if line.rstrip().endswith("[heap]"):
            low, high = (int(part, 16) for part in line.split()[0].split("-"))
            break
    else:
        low = high = 0
    print(sum(low <= id(b) < high for b in buffers))
    """
)


def _buffers_in_heap(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True
    )
    return int(done.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc behaviour")
def test_fix_mmap_threshold_keeps_large_buffers_out_of_the_heap_after_a_large_free() -> None:
    assert _buffers_in_heap("adaptive") == 4  # the behaviour the setting exists for
    assert _buffers_in_heap("fixed") == 0


def test_gateway_settings_read_the_threshold_and_refuse_a_bad_one() -> None:
    assert GatewaySettings.from_env({}).malloc_mmap_threshold_bytes == 131072
    assert (
        GatewaySettings.from_env(
            {"GATEWAY_MALLOC_MMAP_THRESHOLD_BYTES": "0"}
        ).malloc_mmap_threshold_bytes
        == 0
    )
    with pytest.raises(ConfigError, match="GATEWAY_MALLOC_MMAP_THRESHOLD_BYTES"):
        GatewaySettings.from_env({"GATEWAY_MALLOC_MMAP_THRESHOLD_BYTES": "-1"})
