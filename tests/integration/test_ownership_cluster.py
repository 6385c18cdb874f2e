"""Three gateway processes and a real etcd: one scenario, in order (module-scoped cluster).

Keys spread over the three; a client following NOT_OWNER always lands on the owner; killing
an engine (the leader) moves its keys to the others within the lease TTL; restarting it
takes its keys back; an etcd outage keeps owners serving and blocks only changes. All along,
a writer posts every key to every engine (`?ack=durable`), and at the end the three WALs must
show that no two engines accepted writes for one key at the same time.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures.etcd import EtcdServer, start_etcd

from switchyard.core.events import MarketEvent, RecordType
from switchyard.ownership import audit, read_facts
from switchyard.testing.gateway_harness import Client, GatewayProcess
from switchyard.wal import WALReader, decode_payload

pytestmark = [pytest.mark.integration, pytest.mark.services]

TTL_S = 2
KEYS = ("BTC", "ETH", "7203", "6758", "9984", "K1", "K2", "K3", "K4", "K5", "K6", "K7")
SECRET = "cluster-test-secret-0123456789abcdef"
NAMES = ("e1", "e2", "e3")
MOVE_GRACE_S = 2.0  # etcd's 0.5 s expiry sweep + a reconcile + our 50 ms polling


@dataclass
class Hammer:
    """Posts every key to every engine until stopped; counts durable 200s per engine."""

    gateways: dict[str, GatewayProcess]
    accepted: dict[str, int] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for name in self.gateways:
            self.accepted[name] = 0
            thread = threading.Thread(target=self._run, args=(name,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _run(self, name: str) -> None:
        gw = self.gateways[name]
        client: Client | None = None
        price = 100
        while not self.stop.is_set():
            for key in KEYS:
                try:
                    if client is None or client.port != gw.port:
                        client = Client(gw.port, gw.token("hammer"), timeout_s=3)
                    price += 1
                    answer = client.post(f"/events?key={key}&ack=durable", {"price": price})
                    if answer.status == 200:
                        self.accepted[name] += 1
                except OSError:
                    client = None
                    time.sleep(0.05)  # the engine is down: try again shortly

    def halt(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)


@dataclass
class Cluster:
    etcd: EtcdServer
    gateways: dict[str, GatewayProcess]
    hammer: Hammer
    data: dict[str, Any] = field(default_factory=dict)  # carried between the scenario's steps

    def ownership(self, name: str) -> dict[str, Any]:
        body: dict[str, Any] = self.gateways[name].client().get("/ownership").json()
        return body

    def live(self) -> list[str]:
        return [n for n, gw in self.gateways.items() if gw.process and gw.process.poll() is None]

    def serving(self, names: list[str] | None = None) -> dict[str, set[str]]:
        return {name: set(self.ownership(name)["serving"]) for name in names or self.live()}

    def wait_split(self, names: list[str], timeout_s: float) -> float:
        """Until the named engines serve every key exactly once, on one revision."""
        started = time.monotonic()
        while True:
            with contextlib.suppress(OSError, ValueError, KeyError):
                views = [self.ownership(name) for name in names]
                served = sorted(key for view in views for key in view["serving"])
                revisions = {view["revision"] for view in views}
                live = all(view["liveEngines"] == sorted(names) for view in views)
                if served == sorted(KEYS) and len(revisions) == 1 and live:
                    return time.monotonic() - started
            if time.monotonic() - started > timeout_s:
                raise AssertionError(f"no exact split over {names} within {timeout_s} s")
            time.sleep(0.05)

    def owner_of(self, key: str) -> str:
        return next(name for name, keys in self.serving().items() if key in keys)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("cluster")
    etcd = start_etcd(base)
    env = {
        "ETCD_ENDPOINTS": etcd.endpoint,
        "ETCD_LEASE_TTL_SEC": str(TTL_S),
        "ENGINE_POLL_MS": "100",
        "ASSIGN_KEYS": ",".join(KEYS),
        "JWT_HS256_SECRET": SECRET,
    }
    gateways = {name: GatewayProcess(base / name, env={**env, "ENGINE_ID": name}) for name in NAMES}
    hammer = Hammer(gateways)
    try:
        for gw in gateways.values():
            gw.start()
        state = Cluster(etcd, gateways, hammer)
        state.wait_split(list(NAMES), 15)
        hammer.start()
        yield state
    finally:
        hammer.halt()
        for gw in gateways.values():
            gw.stop()
        etcd.stop()


def test_keys_spread_over_the_three_engines(cluster: Cluster) -> None:
    serving = cluster.serving()
    assert all(serving[name] for name in NAMES), serving
    assert sorted(k for keys in serving.values() for k in keys) == sorted(KEYS)
    views = {name: cluster.ownership(name) for name in NAMES}
    leaders = {view["leader"] for view in views.values()}
    assert len(leaders) == 1
    assert sum(view["isLeader"] for view in views.values()) == 1
    leader = leaders.pop()
    health = cluster.gateways["e2"].client().get("/health").json()["checks"]["ownership"]
    assert health["status"] == "healthy"
    assert (health["leader"], sorted(health["ownedKeys"])) == (leader, sorted(serving["e2"]))
    admin = cluster.gateways["e3"].client("ops", role="ops").get("/api/admin").json()
    assert admin["ownership"]["ownedKeys"] == sorted(serving["e3"])
    assert admin["ownership"]["leader"] == leader


def follow(cluster: Cluster, start: str, path: str, body: dict[str, Any]) -> tuple[str, int, int]:
    """POST at `start`, following NOT_OWNER hints and 503 retries: (engine, status, hops)."""
    by_url = {gw_url(gw): name for name, gw in cluster.gateways.items()}
    here, hops = start, 0
    for _ in range(50):
        answer = cluster.gateways[here].client("follower").post(path, body)
        if answer.status == 409 and answer.json()["error"] == "NOT_OWNER":
            hint = answer.json()
            assert by_url[hint["ownerUrl"]] == hint["owner"]
            here, hops = hint["owner"], hops + 1
        elif answer.status == 503:
            time.sleep(0.1)
        else:
            return here, answer.status, hops
    raise AssertionError(f"{path}: never answered by an owner")


def gw_url(gw: GatewayProcess) -> str:
    return f"http://127.0.0.1:{gw.port}"


def test_client_following_not_owner_lands_on_the_owner(cluster: Cluster) -> None:
    for start in NAMES:
        for key in KEYS:
            landed, status, hops = follow(cluster, start, f"/events?key={key}", {"price": 7})
            assert status == 200
            assert key in cluster.serving([landed])[landed]
            assert hops == (0 if landed == start else 1)
    order = {"symbol": "BTC", "side": "BUY", "type": "LIMIT", "qty": 1, "price": 50000}
    owner = cluster.owner_of("BTC")
    elsewhere = next(name for name in NAMES if name != owner)
    refused = (
        cluster.gateways[elsewhere]
        .client("follower")
        .post("/orders", {**order, "clientOrderId": "c-1"})
    )
    assert refused.status == 409
    assert refused.json()["owner"] == owner
    landed, status, _ = follow(cluster, elsewhere, "/orders", {**order, "clientOrderId": "c-2"})
    assert (landed, status) == (owner, 202)


def test_killed_leader_keys_move_to_the_others_within_the_lease_ttl(cluster: Cluster) -> None:
    leader = cluster.ownership("e1")["leader"]
    cluster.data["killed"] = leader
    cluster.data["killed_keys"] = cluster.serving([leader])[leader]
    cluster.gateways[leader].kill()
    survivors = [name for name in NAMES if name != leader]
    took = cluster.wait_split(survivors, 4 * TTL_S)
    assert took < TTL_S + MOVE_GRACE_S
    new_leader = cluster.ownership(survivors[0])["leader"]
    assert new_leader in survivors
    refused = cluster.gateways[survivors[0]].client("x").post("/events?key=K1", {"price": 1})
    assert refused.status in (200, 409)
    if refused.status == 409:
        assert refused.json()["owner"] in survivors


def test_restarted_engine_takes_its_keys_back(cluster: Cluster) -> None:
    name = cluster.data["killed"]
    cluster.gateways[name].start()
    cluster.wait_split(list(NAMES), 10)
    # Rendezvous hashing: the same engine set gives the same placement, so it gets back
    # exactly what it had, and nothing else moved.
    assert cluster.serving([name])[name] == cluster.data["killed_keys"]


def test_etcd_outage_keeps_owners_serving_and_blocks_changes(cluster: Cluster) -> None:
    before = cluster.serving()
    victim = "e3"
    cluster.etcd.stop()
    outage_started = time.monotonic()
    cluster.gateways[victim].kill()  # a change etcd would act on: here it must not
    while time.monotonic() - outage_started < 3 * TTL_S:
        for name in ("e1", "e2"):
            assert cluster.serving([name])[name] == before[name]
            for key in before[name]:
                ok = (
                    cluster.gateways[name].client("outage").post(f"/events?key={key}", {"price": 3})
                )
                assert ok.status == 200, (name, key, ok)
        for key in before[victim]:
            refused = (
                cluster.gateways["e1"].client("outage").post(f"/events?key={key}", {"price": 3})
            )
            assert refused.status == 409
            assert refused.json()["owner"] == victim  # not taken over while etcd is down
        time.sleep(0.2)
    cluster.etcd.start()
    took = cluster.wait_split(["e1", "e2"], 4 * TTL_S)
    assert took < TTL_S + MOVE_GRACE_S + 1.0  # etcd restart restores the lease with a full TTL
    for name in ("e1", "e2"):
        health = cluster.gateways[name].client().get("/health").json()["checks"]["ownership"]
        assert health["status"] == "healthy", health
    cluster.gateways[victim].start()
    cluster.wait_split(list(NAMES), 10)
    assert cluster.serving() == before


def test_wals_show_at_most_one_owner_per_key_at_any_instant(cluster: Cluster) -> None:
    cluster.hammer.halt()
    for gw in cluster.gateways.values():
        gw.stop()
    report = audit(
        {name: list(read_facts(gw.data_dir / "wal")) for name, gw in cluster.gateways.items()}
    )
    assert report.ok, "\n".join(report.problems[:20] + report.overlaps[:20])
    assert report.writes > 1000
    for name, gw in cluster.gateways.items():
        assert hammer_writes(gw.data_dir / "wal") >= cluster.hammer.accepted[name] > 0


def hammer_writes(wal_dir: Path) -> int:
    count = 0
    for record in WALReader(wal_dir, hmac_key=None).iter_from(1):
        if record.record_type == RecordType.MARKET_EVENT:
            event = decode_payload(record.record_type, record.payload)
            assert isinstance(event, MarketEvent)
            count += event.account_id == "hammer"
    return count
