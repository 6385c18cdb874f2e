"""`switchyard replay`: an incident window rebuilt in a fresh data dir has the same state."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from switchyard.testing.gateway_harness import GatewayProcess

pytestmark = pytest.mark.integration


def replay(
    source: Path, out: Path, at_ms: int, window_min: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "switchyard", "replay", "--data-dir", str(source),
         "--at", str(at_ms), "--window-min", str(window_min), "--out", str(out)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip


def test_replay_rebuilds_the_incident_state_and_a_gateway_serves_it(tmp_path: Path) -> None:
    source = tmp_path / "source"
    gw = GatewayProcess(source)
    with gw:
        alice = gw.client("alice")
        early = [
            alice.post(
                "/orders?ack=durable",
                {
                    "symbol": "BTC",
                    "side": "BUY",
                    "type": "LIMIT",
                    "qty": 1,
                    "price": 60000,
                    "clientOrderId": f"e{i}",
                },
            ).json()  # fmt: skip
            for i in range(5)
        ]
        incident_ms = int(time.time() * 1000)
        time.sleep(2.5)  # the late order falls outside incident +- 1 s
        alice.post("/orders?ack=durable", {"symbol": "BTC", "side": "BUY", "type": "LIMIT",
                   "qty": 1, "price": 60000, "clientOrderId": "late"})  # fmt: skip
    result = replay(source, tmp_path / "out", incident_ms, 1.0 / 60)  # +- 1 s
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["match"] is True
    assert report["sourceStateHash"] == report["replayStateHash"]
    # the window ends before the late order: the prefix stops at the window's end
    window = [
        json.loads(line) for line in (tmp_path / "out" / "window.jsonl").read_text().splitlines()
    ]
    assert all(event.get("clientOrderId") != "late" for event in window)
    assert report["prefixRecords"] == report["window"]["toSeq"]
    # the replay set is a gateway data dir: a gateway recovers from it and serves the orders
    with GatewayProcess(tmp_path / "out") as inspect:
        alice = inspect.client("alice")
        for placed in early:
            assert alice.get(f"/orders/{placed['orderId']}").status == 200
        assert alice.get("/orders/client/late").json()["status"] == "UNKNOWN"


def test_replay_refuses_an_empty_window_and_a_used_directory(tmp_path: Path) -> None:
    source = tmp_path / "source"
    with GatewayProcess(source) as gw:
        gw.client("alice").post("/orders?ack=durable", {"symbol": "BTC", "side": "BUY",
                                "type": "LIMIT", "qty": 1, "price": 60000, "clientOrderId": "x"})  # fmt: skip
    empty = replay(source, tmp_path / "out", 1_000_000_000_000, 1)  # year 2001
    assert empty.returncode == 2
    assert "no records in the window" in empty.stderr
    now_ms = int(time.time() * 1000)
    assert replay(source, tmp_path / "out2", now_ms, 10).returncode == 0
    again = replay(source, tmp_path / "out2", now_ms, 10)
    assert again.returncode == 2
    assert "exists" in again.stderr
