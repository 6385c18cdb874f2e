"""SIGKILL the gateway under mixed load at random points; every promise holds after restart.

See switchyard.testing.crash_harness for the load and the checks. The default suite runs 50
kill points (2 data directories x 25); `make test-crash` (-m crash_full) runs 1,040.
A failure names its seed; `CRASH_SEED=<seed> pytest tests/crash/test_gateway_kill_points.py
-k replay` runs that rig again (CRASH_POINTS sets how many kill points, default 25).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from switchyard.testing.crash_harness import GatewayCrashRig, Zygote

pytestmark = pytest.mark.integration

DEFAULT_BLOCKS = 2
FULL_BLOCKS = 40
POINTS_PER_BLOCK = 25
FULL_POINTS_PER_BLOCK = 26


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    process = Zygote()
    yield process
    process.close()


def run_rig(data_dir: Path, zygote: Zygote, seed: int, points: int) -> GatewayCrashRig:
    rig = GatewayCrashRig(data_dir, seed=seed, zygote=zygote)
    try:
        for _ in range(points):
            rig.kill_point()
        rig.finish()
    finally:
        rig.gateway.kill(with_writer=True)
    figures = rig.figures
    assert figures.kill_points == points
    # the load really happened and the checks really looked at it
    assert figures.durable_acks > 0
    assert figures.present_after > 0
    assert figures.stream_events_checked > 0
    print(f"seed {seed}: {figures}")
    return rig


@pytest.mark.parametrize("block", range(DEFAULT_BLOCKS))
def test_sigkill_under_load_keeps_every_promise(tmp_path: Path, zygote: Zygote, block: int) -> None:
    run_rig(tmp_path / "gw", zygote, 1_000 + block, POINTS_PER_BLOCK)


@pytest.mark.crash_full
@pytest.mark.parametrize("block", range(FULL_BLOCKS))
def test_sigkill_full(tmp_path: Path, zygote: Zygote, block: int) -> None:
    base = int(os.environ.get("CRASH_SEED_BASE", "2000000"))
    run_rig(tmp_path / "gw", zygote, base + block, FULL_POINTS_PER_BLOCK)


@pytest.mark.skipif("CRASH_SEED" not in os.environ, reason="set CRASH_SEED to replay a rig")
def test_replay(tmp_path: Path, zygote: Zygote) -> None:
    points = int(os.environ.get("CRASH_POINTS", str(POINTS_PER_BLOCK)))
    run_rig(tmp_path / "gw", zygote, int(os.environ["CRASH_SEED"]), points)
