"""Slowloris: hundreds of connections trickling heads and bodies while a normal client trades.

400 connections (300 sending a request head a byte at a time, 100 with a complete head and a
body that trickles) are held open against a gateway with a 1.5 s head/body deadline. A
normal client meanwhile places fast-ACK orders and reads their status. What is asserted is
functional: every one of the normal client's requests is served, correctly; every slow
connection is answered 408 and closed within the deadline plus the sweeper's second; the
connection count falls back. The latencies (with and without the attack) are measured and
printed for docs/RELIABILITY.md, not asserted: this 2-core machine is shared.
Figures also go to $RELIABILITY_FIGURES (a JSON file) when it is set.
"""

from __future__ import annotations

import json
import os
import select
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from switchyard.testing.gateway_harness import Client, GatewayProcess
from tests.security.helpers import HEADER_TIMEOUT_MS, ORDER, client, token

pytestmark = pytest.mark.integration

SLOW_HEADS = 300
SLOW_BODIES = 100
SWEEP_S = 1.0  # the server's deadline sweeper runs once a second


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def normal_session(alice: Client, tag: str, seconds: float) -> tuple[list[float], int, int]:
    """Orders and status reads, one every 10 ms for `seconds`: (latencies ms, sent, served)."""
    latencies: list[float] = []
    served = sent = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        if sent % 2 == 0:
            result = alice.post("/orders", {**ORDER, "clientOrderId": f"{tag}-{sent}"})
            ok = result.status == 202 and result.json()["status"] == "ACCEPTED"
        else:
            result = alice.get(f"/orders/client/{tag}-{sent - 1}")
            ok = result.status == 200 and result.json()["status"] in ("PENDING", "DURABLE")
        latencies.append((time.perf_counter() - started) * 1000)
        sent += 1
        served += ok
        time.sleep(0.01)
    return latencies, sent, served


class Slowloris:
    """Opens the slow connections and trickles one byte to each, round robin."""

    def __init__(self, port: int) -> None:
        self.sockets: list[socket.socket] = []
        bearer = token("slowloris")
        head = f"POST /orders HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {bearer}\r\n"
        self.pending: dict[socket.socket, bytes] = {}
        for index in range(SLOW_HEADS + SLOW_BODIES):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            if index < SLOW_HEADS:
                data = (head + "x-slow: " + "a" * 2000 + "\r\n\r\n").encode()
            else:
                sock.sendall(
                    (
                        head + "content-type: application/json\r\ncontent-length: 4000\r\n\r\n"
                    ).encode()
                )
                data = b"{" + b" " * 3999
            sock.setblocking(False)
            self.sockets.append(sock)
            self.pending[sock] = data
        self.opened_at = time.monotonic()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.trickle, daemon=True)
        self.thread.start()

    def trickle(self) -> None:
        while not self.stop.is_set():
            for sock, data in list(self.pending.items()):
                if not data:
                    continue
                try:
                    sock.send(data[:1])
                    self.pending[sock] = data[1:]
                except OSError:
                    self.pending[sock] = b""  # refused and closed by the server
            time.sleep(0.05)

    def answers(self, timeout_s: float) -> dict[str, int]:
        """Read every slow connection until it is closed: counts by first status line."""
        outcome: dict[str, int] = {}
        received = dict.fromkeys(self.sockets, b"")
        open_sockets = set(self.sockets)
        deadline = time.monotonic() + timeout_s
        while open_sockets and time.monotonic() < deadline:
            readable, _, _ = select.select(list(open_sockets), [], [], 0.1)
            for sock in readable:
                try:
                    chunk = sock.recv(4096)
                except OSError:
                    chunk = b""
                received[sock] += chunk
                if not chunk:
                    open_sockets.discard(sock)
        for sock, data in received.items():
            key = data.split(b"\r\n", 1)[0].decode() if data else "closed without answer"
            key = key if sock not in open_sockets else "still open"
            outcome[key] = outcome.get(key, 0) + 1
        return outcome

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        for sock in self.sockets:
            sock.close()


def test_slowloris_does_not_starve_a_normal_client(gateway: GatewayProcess) -> None:
    alice = client(gateway, "slowloris-normal")
    limit_s = HEADER_TIMEOUT_MS / 1000 + SWEEP_S + 2.0  # every slow one cut by then
    baseline, sent, served = normal_session(alice, "base", 1.0)
    assert served == sent
    connections_before = Client(gateway.port, None).get("/stats").json()["http_connections"]
    attack = Slowloris(gateway.port)
    try:
        # through the whole attack: from the first slow byte until the deadlines cut them
        under_attack, sent, served = normal_session(alice, "attack", HEADER_TIMEOUT_MS / 1000)
        assert served == sent, f"the normal client was served {served} of {sent}"
        outcome = attack.answers(limit_s + 3.0)
        cut_after_s = time.monotonic() - attack.opened_at
    finally:
        attack.close()
    timeouts = outcome.get("HTTP/1.1 408 Request Timeout", 0)
    assert timeouts == SLOW_HEADS + SLOW_BODIES, outcome
    time.sleep(0.2)
    stats = Client(gateway.port, None).get("/stats").json()
    assert stats["http_connections"] <= connections_before + 2, stats
    figures: dict[str, Any] = {
        "slow_connections": SLOW_HEADS + SLOW_BODIES,
        "normal_requests_under_attack": sent,
        "baseline_ms": {
            "p50": percentile(baseline, 0.5),
            "p99": percentile(baseline, 0.99),
            "max": max(baseline),
        },
        "under_attack_ms": {
            "p50": percentile(under_attack, 0.5),
            "p99": percentile(under_attack, 0.99),
            "max": max(under_attack),
        },
        "all_slow_cut_within_s": round(cut_after_s, 2),
        "outcome": outcome,
    }
    print(json.dumps(figures, indent=2))
    if os.environ.get("RELIABILITY_FIGURES"):
        figures_file = Path(os.environ["RELIABILITY_FIGURES"])
        figures_file.parent.mkdir(
            parents=True, exist_ok=True
        )  # a fresh clone has no test-artifacts/
        with figures_file.open("a") as handle:
            handle.write(json.dumps({"slowloris": figures}) + "\n")
