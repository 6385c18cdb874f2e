"""Without etcd: OWNED_KEYS (static ownership) and the single-engine default (every key), on
real gateway processes; the seed's /events answers (200, 400, 401, 405, 409); FAST_PATH_*."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from switchyard.core.events import OwnershipChanged, RecordType, SessionStarted
from switchyard.testing.gateway_harness import Client, GatewayProcess
from switchyard.wal import WALReader, decode_payload

pytestmark = pytest.mark.integration

ORDER = {"side": "BUY", "type": "LIMIT", "qty": 1, "price": 3000}


@pytest.fixture(scope="module")
def static_gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    env = {
        "ENGINE_ID": "s1",
        "OWNED_KEYS": "BTC,ETH,K1",
        "FAST_PATH_SYMBOLS": "ETH",
        "FAST_PATH_ENABLE": "1",
        "VENUE_LIQUIDITY": "1",
    }
    with GatewayProcess(tmp_path_factory.mktemp("static"), env=env) as gw:
        yield gw


@pytest.fixture(scope="module")
def solo_gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    with GatewayProcess(tmp_path_factory.mktemp("solo")) as gw:
        yield gw


def test_static_owner_accepts_its_keys(static_gw: GatewayProcess) -> None:
    client = static_gw.client("alice")
    for key in ("BTC", "ETH", "K1"):
        answer = client.post(f"/events?key={key}", {"price": 3500, "volume": 2})
        assert answer.status == 200, answer
    placed = client.post("/orders", {**ORDER, "symbol": "ETH", "clientOrderId": "s-1"})
    assert placed.status == 202


def test_static_owner_refuses_other_keys_naming_no_owner(static_gw: GatewayProcess) -> None:
    client = static_gw.client("alice")
    refused = client.post("/events?key=SOL", {"price": 10})
    assert refused.status == 409
    assert refused.json() == {
        "error": "NOT_OWNER",
        "message": "key SOL is owned by another engine; send it there",
        "owner": None,
        "ownerUrl": None,
        "key": "SOL",
        "revision": 0,
    }
    order = client.post("/orders", {**ORDER, "symbol": "7203", "clientOrderId": "s-2"})
    assert order.status == 409
    assert order.json()["error"] == "NOT_OWNER"
    stats = client.get("/stats").json()
    assert stats["ownership_refused_not_owner"] >= 2
    assert stats["ownership_mode"] == "static"


def test_static_ownership_is_recorded_in_the_wal_after_the_session(
    static_gw: GatewayProcess,
) -> None:
    view = static_gw.client().get("/ownership").json()
    assert (view["mode"], view["serving"]) == ("static", ["BTC", "ETH", "K1"])
    kinds = []
    for record in WALReader(static_gw.data_dir / "wal", hmac_key=None).iter_from(1):
        if record.record_type in (RecordType.SESSION_STARTED, RecordType.OWNERSHIP_CHANGED):
            kinds.append(decode_payload(record.record_type, record.payload))
    assert isinstance(kinds[0], SessionStarted)
    assert kinds[1] == OwnershipChanged("s1", 0, ("BTC", "ETH", "K1"))


def test_events_answers_of_the_seed(static_gw: GatewayProcess) -> None:
    client = static_gw.client("alice")
    missing = client.post("/events", {"price": 1})
    assert (missing.status, missing.json()["error"]) == (400, "MISSING_KEY")
    blank = client.post("/events?key=", {"price": 1})
    assert (blank.status, blank.json()["error"]) == (400, "MISSING_KEY")
    assert Client(static_gw.port, None).post("/events?key=BTC", {"price": 1}).status == 401
    wrong = client.get("/events")
    assert wrong.status == 405
    assert wrong.headers["allow"] == "POST"
    assert client.put("/events?key=BTC", {"price": 1}).status == 405
    read_only = client.request("DELETE", "/events/BTC")
    assert (read_only.status, read_only.headers["allow"]) == (405, "GET")
    bad = client.post("/events?key=BTC", {"price": -5})
    assert (bad.status, bad.json()["error"]) == (400, "INVALID_REQUEST")


def test_events_update_the_key_state(static_gw: GatewayProcess) -> None:
    client = static_gw.client("alice")
    for price, volume in ((100, 1), (110, 3)):
        assert client.post("/events?key=K1&ack=durable", {"price": price, "volume": volume}).json()[
            "durable"
        ]
    state = client.get("/events/K1").json()
    assert state["lastPrice"] == 110
    assert state["count"] >= 2


def mid(client: Client, symbol: str) -> float:
    book = client.get(f"/market/{symbol}/book?depth=1").json()
    return (book["bids"][0]["price"] + book["asks"][0]["price"]) / 2


def test_fast_path_symbols_choose_which_keys_drive_the_venue_reference(
    static_gw: GatewayProcess,
) -> None:
    client = static_gw.client("alice")
    assert client.post("/events?key=BTC", {"price": 69_000}).status == 200  # not listed
    assert client.post("/events?key=ETH", {"price": 3_700}).status == 200  # listed
    deadline = time.monotonic() + 5
    while mid(client, "ETH") < 3_650 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert mid(client, "ETH") >= 3_650
    assert mid(client, "BTC") < 67_000  # still around its 65,000 reference
    assert "FAST_PATH_ENABLE" in static_gw.log()  # a retired setting is warned about


def test_single_engine_owns_every_key_and_records_no_ownership(solo_gw: GatewayProcess) -> None:
    client = solo_gw.client("bob")
    for key in ("BTC", "ANY.KEY", "k-9"):
        assert client.post(f"/events?key={key}", {"price": 5}).status == 200
    view = client.get("/ownership").json()
    assert (view["mode"], view["serving"]) == ("all", ["*"])
    types = {r.record_type for r in WALReader(solo_gw.data_dir / "wal", hmac_key=None).iter_from(1)}
    assert RecordType.OWNERSHIP_CHANGED not in types
    health = client.get("/health").json()["checks"]["ownership"]
    assert (health["status"], health["mode"]) == ("healthy", "all")


def assign_audit(*directories: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "switchyard", "assign", "--audit", *map(str, directories)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_audit_cli_flags_two_static_owners_of_one_key(
    static_gw: GatewayProcess, tmp_path: Path
) -> None:
    twin = GatewayProcess(tmp_path / "s2", env={"ENGINE_ID": "s2", "OWNED_KEYS": "BTC"})
    with twin:
        assert twin.client("t").post("/events?key=BTC&ack=durable", {"price": 1}).status == 200
        assert static_gw.client("t").post("/events?key=BTC&ack=durable", {"price": 2}).status == 200
    alone = assign_audit(static_gw.data_dir)
    assert alone.returncode == 0, alone.stdout
    assert alone.stdout.startswith("ok: ")
    both = assign_audit(static_gw.data_dir, twin.data_dir / "wal")
    assert both.returncode == 1
    assert "concurrent write" in both.stdout
    assert "overlap: key BTC" in both.stdout
