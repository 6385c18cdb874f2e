"""The etcd client (JSON gateway) against a real etcd: keys, txn, leases, election, watch,
failover across endpoints, and what an unreachable etcd looks like."""

from __future__ import annotations

import asyncio

import pytest
from tests.fixtures.etcd import EtcdServer
from tests.fixtures.services import free_port

from switchyard.ownership.etcd import (
    Compare,
    EtcdFailed,
    EtcdGateway,
    EtcdUnavailable,
    Put,
    parse_endpoints,
)

pytestmark = [pytest.mark.integration, pytest.mark.services]
T = 2.0  # per-call timeout


def client(etcd: EtcdServer) -> EtcdGateway:
    return EtcdGateway(parse_endpoints([etcd.endpoint]))


@pytest.mark.asyncio
async def test_put_get_prefix_delete(etcd_server: EtcdServer, etcd_prefix: str) -> None:
    etcd = client(etcd_server)
    first = await etcd.put(f"{etcd_prefix}/a", b"1", timeout_s=T)
    second = await etcd.put(f"{etcd_prefix}/b", b"\x00\xff", timeout_s=T)
    assert second > first
    got = await etcd.get(f"{etcd_prefix}/b", timeout_s=T)
    assert got is not None
    assert (got.value, got.mod_revision) == (b"\x00\xff", second)
    kvs, revision = await etcd.get_prefix(f"{etcd_prefix}/", timeout_s=T)
    assert [kv.key for kv in kvs] == [f"{etcd_prefix}/a", f"{etcd_prefix}/b"]
    assert revision >= second
    assert await etcd.delete(f"{etcd_prefix}/a", timeout_s=T) == 1
    assert await etcd.get(f"{etcd_prefix}/a", timeout_s=T) is None


@pytest.mark.asyncio
async def test_txn_applies_only_when_every_compare_holds(
    etcd_server: EtcdServer, etcd_prefix: str
) -> None:
    etcd = client(etcd_server)
    key = f"{etcd_prefix}/doc"
    created, revision = await etcd.txn([Compare(key, "CREATE", 0)], [Put(key, b"v1")], timeout_s=T)
    assert created
    again, _ = await etcd.txn([Compare(key, "CREATE", 0)], [Put(key, b"v2")], timeout_s=T)
    assert not again
    stale, _ = await etcd.txn([Compare(key, "MOD", revision - 1)], [Put(key, b"v3")], timeout_s=T)
    assert not stale
    fresh, _ = await etcd.txn([Compare(key, "MOD", revision)], [Put(key, b"v4")], timeout_s=T)
    assert fresh
    got = await etcd.get(key, timeout_s=T)
    assert got is not None
    assert got.value == b"v4"


@pytest.mark.asyncio
async def test_lease_keeps_keys_until_revoked(etcd_server: EtcdServer, etcd_prefix: str) -> None:
    etcd = client(etcd_server)
    lease, ttl = await etcd.grant(5, timeout_s=T)
    assert ttl == 5
    await etcd.put(f"{etcd_prefix}/leased", b"x", lease=lease, timeout_s=T)
    assert 0 < await etcd.keepalive(lease, timeout_s=T) <= 5
    got = await etcd.get(f"{etcd_prefix}/leased", timeout_s=T)
    assert got is not None
    assert got.lease == lease
    await etcd.revoke(lease, timeout_s=T)
    assert await etcd.get(f"{etcd_prefix}/leased", timeout_s=T) is None
    assert await etcd.keepalive(lease, timeout_s=T) == 0  # gone: 0, not an error
    await etcd.revoke(lease, timeout_s=T)  # unknown lease: not an error


@pytest.mark.asyncio
async def test_lease_expires_without_keepalive(etcd_server: EtcdServer, etcd_prefix: str) -> None:
    etcd = client(etcd_server)
    lease, _ = await etcd.grant(2, timeout_s=T)
    await etcd.put(f"{etcd_prefix}/short", b"x", lease=lease, timeout_s=T)
    await asyncio.sleep(3.2)  # TTL 2 s + etcd's 0.5 s expiry sweep + slack
    assert await etcd.get(f"{etcd_prefix}/short", timeout_s=T) is None
    assert await etcd.keepalive(lease, timeout_s=T) == 0


@pytest.mark.asyncio
async def test_election_elects_one_leader_and_the_next_after_resign(
    etcd_server: EtcdServer, etcd_prefix: str
) -> None:
    etcd = client(etcd_server)
    name = f"{etcd_prefix}/election"
    assert await etcd.leader(name, timeout_s=T) is None
    lease_a, _ = await etcd.grant(10, timeout_s=T)
    lease_b, _ = await etcd.grant(10, timeout_s=T)
    leader_a = await etcd.campaign(name, lease=lease_a, value=b"a")
    assert leader_a.key.startswith(name + "/")
    assert leader_a.elected_revision >= leader_a.rev
    waiting = asyncio.ensure_future(etcd.campaign(name, lease=lease_b, value=b"b"))
    await asyncio.sleep(0.3)
    assert not waiting.done()  # b waits behind a
    current = await etcd.leader(name, timeout_s=T)
    assert current is not None
    assert current.value == b"a"
    await etcd.resign(leader_a, timeout_s=T)
    leader_b = await asyncio.wait_for(waiting, 5)
    assert leader_b.lease == lease_b
    current = await etcd.leader(name, timeout_s=T)
    assert current is not None
    assert current.value == b"b"
    await etcd.revoke(lease_b, timeout_s=T)
    assert await etcd.leader(name, timeout_s=T) is None
    await etcd.revoke(lease_a, timeout_s=T)


@pytest.mark.asyncio
async def test_campaign_cancelled_leaves_no_candidate(
    etcd_server: EtcdServer, etcd_prefix: str
) -> None:
    etcd = client(etcd_server)
    name = f"{etcd_prefix}/election"
    lease_a, _ = await etcd.grant(10, timeout_s=T)
    lease_b, _ = await etcd.grant(10, timeout_s=T)
    await etcd.campaign(name, lease=lease_a, value=b"a")
    waiting = asyncio.ensure_future(etcd.campaign(name, lease=lease_b, value=b"b"))
    await asyncio.sleep(0.3)
    waiting.cancel()
    await asyncio.sleep(0.5)  # etcd sees the closed connection and withdraws b's candidacy
    kvs, _ = await etcd.get_prefix(name + "/", timeout_s=T)
    assert [kv.value for kv in kvs] == [b"a"]
    await etcd.revoke(lease_a, timeout_s=T)
    await etcd.revoke(lease_b, timeout_s=T)


@pytest.mark.asyncio
async def test_watch_sees_puts_and_deletes_from_a_revision(
    etcd_server: EtcdServer, etcd_prefix: str
) -> None:
    etcd = client(etcd_server)
    start = await etcd.put(f"{etcd_prefix}/w/1", b"a", timeout_s=T)
    await etcd.put(f"{etcd_prefix}/w/2", b"b", timeout_s=T)
    await etcd.delete(f"{etcd_prefix}/w/1", timeout_s=T)
    seen: list[tuple[str, str]] = []

    async def watch() -> None:
        async for events in etcd.watch_prefix(f"{etcd_prefix}/w/", start_revision=start):
            seen.extend((event.kind, event.kv.key) for event in events)
            if len(seen) >= 4:
                return

    task = asyncio.ensure_future(watch())
    await asyncio.sleep(0.2)
    await etcd.put(f"{etcd_prefix}/w/3", b"c", timeout_s=T)
    await asyncio.wait_for(task, 5)
    assert seen == [
        ("PUT", f"{etcd_prefix}/w/1"),
        ("PUT", f"{etcd_prefix}/w/2"),
        ("DELETE", f"{etcd_prefix}/w/1"),
        ("PUT", f"{etcd_prefix}/w/3"),
    ]


@pytest.mark.asyncio
async def test_failover_skips_a_dead_endpoint(etcd_server: EtcdServer, etcd_prefix: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    etcd = EtcdGateway(parse_endpoints([dead, etcd_server.endpoint]))
    await etcd.put(f"{etcd_prefix}/f", b"1", timeout_s=T)
    assert etcd.endpoint == etcd_server.endpoint  # remembered for the next call


@pytest.mark.asyncio
async def test_no_endpoint_answering_is_unavailable_naming_each() -> None:
    ports = [free_port(), free_port()]
    etcd = EtcdGateway(parse_endpoints([f"http://127.0.0.1:{p}" for p in ports]))
    with pytest.raises(EtcdUnavailable) as error:
        await etcd.get("/x", timeout_s=0.5)
    assert all(str(port) in str(error.value) for port in ports)


@pytest.mark.asyncio
async def test_etcd_error_answer_is_failed_with_its_code(etcd_server: EtcdServer) -> None:
    etcd = client(etcd_server)
    with pytest.raises(EtcdFailed) as error:
        await etcd.put("/x", b"1", lease=123456789, timeout_s=T)  # no such lease
    assert error.value.code == 5
    assert "lease not found" in str(error.value)
