"""SIGKILL the back office and, separately, the TCP venue under load (issue 10, item 1).

Back office: it tails a live gateway's WAL into SQLite while crossing orders trade; it is
killed at random moments (mid-batch, mid-transaction) and restarted, sometimes after a pause;
at the end it must have applied everything exactly once (GET /reconcile ok, no mismatch, no
quarantine). Venue: `switchyard venue` is killed and brought back on its port while the
gateway keeps taking orders (503 VENUE_UNAVAILABLE while it is away); the gateway
reconnects and reconciles; nothing durable is lost, fills stay within quantities, no order
stays stuck, and a clean restart rebuilds the same state hash. The default suite runs 12
kill points of each; `-m crash_full` 200 of each.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from switchyard.testing.crash_harness import BackofficeCrashRig, VenueCrashRig, Zygote

pytestmark = pytest.mark.integration

DEFAULT_POINTS = 12
FULL_POINTS = 200


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    process = Zygote()
    yield process
    process.close()


def points(full: bool) -> int:
    return int(os.environ.get("CRASH_POINTS", str(FULL_POINTS if full else DEFAULT_POINTS)))


def test_backoffice_converges_after_sigkills(tmp_path: Path, zygote: Zygote) -> None:
    figures = BackofficeCrashRig(
        tmp_path, seed=int(os.environ.get("CRASH_SEED", "5")), zygote=zygote
    ).run(points(full=False))
    print(figures)
    assert figures["events"] > 0
    assert figures["orders"] > 0


def test_gateway_survives_venue_sigkills(tmp_path: Path, zygote: Zygote) -> None:
    figures = VenueCrashRig(
        tmp_path, seed=int(os.environ.get("CRASH_SEED", "6")), zygote=zygote
    ).run(points(full=False))
    print(figures)
    assert figures["orders"] > 0
    assert figures["refused_while_down"] > 0  # the load really met the venue's absence


@pytest.mark.crash_full
def test_backoffice_full(tmp_path: Path, zygote: Zygote) -> None:
    base = int(os.environ.get("CRASH_SEED_BASE", "3000000"))
    print(BackofficeCrashRig(tmp_path, seed=base, zygote=zygote).run(points(full=True)))


@pytest.mark.crash_full
def test_venue_full(tmp_path: Path, zygote: Zygote) -> None:
    base = int(os.environ.get("CRASH_SEED_BASE", "3000000"))
    print(VenueCrashRig(tmp_path, seed=base + 1, zygote=zygote).run(points(full=True)))
