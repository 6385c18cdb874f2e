"""`switchyard dashboard`: the rendered screen, and the command against a live gateway."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from switchyard.cli.cmd_dashboard import Snapshot, render
from switchyard.testing.gateway_harness import GatewayProcess


def _console() -> Console:
    return Console(file=io.StringIO(), width=140, record=True, color_system="truecolor")


def _text(renderable: Any) -> str:
    console = _console()
    console.print(renderable)
    return console.export_text()


def _stats(accepted: int, requests: int, ack_p99_us: float) -> dict[str, Any]:
    return {
        "orders": {"accepted": accepted, "denied": 0, "capacity": 0},
        "http_requests": requests,
        "orders_open": 3,
        "inflight": 1,
        "venue_up": True,
        "venue_queue_depth": 0,
        "wal_durable_seq": 41,
        "wal_appended_seq": 42,
        "gateway_ack_p99_us": ack_p99_us,
        "gateway_ack_count": accepted,
        "backpressure": {"diskFreePct": 42.5, "shedding": False, "refusedTotal": 0},
    }


HEALTH = {
    "status": "degraded",
    "engineId": "e7",
    "version": "0.1.0",
    "uptime_human": "3m 2s",
    "checks": {"venue": {"status": "degraded", "reason": "the venue is not connected"}},
}


def test_render_shows_rates_between_two_polls_and_the_health_checks() -> None:
    before = Snapshot(100.0, _stats(1_000, 2_000, 500.0), HEALTH, None)
    now = Snapshot(102.0, _stats(1_500, 3_000, 500.0), HEALTH, None)
    text = _text(render(now, before, "http://gw:8080"))
    assert "DEGRADED" in text
    assert "engine e7" in text
    assert "250" in text  # (1500 - 1000) accepted over 2 s
    assert "500" in text  # (3000 - 2000) requests over 2 s
    assert "41 / 42" in text
    assert "the venue is not connected" in text
    assert "Ctrl+C to quit" in text


def test_render_marks_a_p99_over_its_objective() -> None:
    console = _console()
    now = Snapshot(1.0, _stats(10, 10, 2_500.0), HEALTH, None)  # fast ACK objective: 1000 us
    console.print(render(now, None, "http://gw:8080"))
    html = console.export_html(inline_styles=True)
    assert "2,500" in html
    assert "color: #800000" in html  # red, rich's standard "red"


def test_render_of_an_unreachable_gateway_says_so() -> None:
    now = Snapshot(1.0, None, None, None, error="http://gw:8080: connection refused")
    text = _text(render(now, None, "http://gw:8080"))
    assert "gateway unreachable" in text
    assert "connection refused" in text
    assert "Latency" not in text


def test_once_against_an_unreachable_gateway_exits_1() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "switchyard", "dashboard", "--once", "--url", "http://127.0.0.1:1",
         "--interval", "0.2"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 1
    assert "gateway unreachable" in result.stdout


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    with GatewayProcess(tmp_path_factory.mktemp("dash"), env={"VENUE_LIQUIDITY": "on"}) as gw:
        client = gw.client("alice")
        for index in range(20):
            order = {"symbol": "BTC", "side": "BUY", "type": "MARKET", "qty": 1}
            assert client.post("/orders", {**order, "clientOrderId": f"d-{index}"}).status == 202
        yield gw


def test_once_against_a_live_gateway(gateway: GatewayProcess) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "switchyard", "dashboard", "--once", "--interval", "0.2",
         "--url", f"http://127.0.0.1:{gateway.port}"],
        capture_output=True, text=True, timeout=30, env={**gateway.env, "COLUMNS": "140"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "HEALTHY" in result.stdout
    assert "fast ACK" in result.stdout
    assert "accepted (total)" in result.stdout


def test_live_view_ends_cleanly_on_ctrl_c(gateway: GatewayProcess, tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "switchyard", "dashboard", "--interval", "0.2",
         "--url", f"http://127.0.0.1:{gateway.port}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**gateway.env, "COLUMNS": "140"},
    )  # fmt: skip
    probe = gateway.client()
    before = probe.get("/stats").json()["http_requests"]
    deadline = time.monotonic() + 20
    own_calls = 1
    # Each dashboard poll asks /stats and /health; our own /stats calls are subtracted.
    while probe.get("/stats").json()["http_requests"] - before - own_calls < 4:
        own_calls += 1
        assert time.monotonic() < deadline, "the dashboard never polled"
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert "engine e1" in out
