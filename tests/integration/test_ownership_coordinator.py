"""Coordinators of several engines in one event loop against a real etcd.

Each engine here is the real Coordinator with its real etcd client; only its WAL is replaced
by an in-memory recorder (the `Recorder` port; the gateway's NodeRecorder is exercised by the
process tests) whose durability a test can hold back, and each engine answers its peers'
probes on a small HTTP server, as the gateway does at GET /ownership. A TCP proxy in front
of etcd lets one engine be cut off while the others still reach it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable

import orjson
import pytest
from tests.fixtures.etcd import EtcdServer

from switchyard.adapters.clock_system import SystemClock
from switchyard.ownership import (
    Coordinator,
    EtcdGateway,
    OwnershipSettings,
    OwnershipTable,
    Registration,
    parse_endpoints,
)

pytestmark = [pytest.mark.integration, pytest.mark.services]
KEYS = tuple(f"K{i:02d}" for i in range(24))
TTL_S = 2


class MemoryRecorder:
    """OwnershipChanged records in memory, with wall-clock stamps, and a durability switch."""

    def __init__(self) -> None:
        self.changes: list[tuple[int, int, tuple[str, ...]]] = []  # ts_ns, revision, keys
        self.durable = asyncio.Event()
        self.durable.set()

    def record(self, revision: int, keys: tuple[str, ...]) -> int:
        self.changes.append((time.time_ns(), revision, keys))
        return len(self.changes)

    async def wait_durable(self, seq: int, *, timeout_s: float) -> None:
        async with asyncio.timeout(timeout_s):
            await self.durable.wait()

    def first_time_serving(self, key: str) -> int | None:
        return next((ts for ts, _, keys in self.changes if key in keys), None)

    def last_time_serving(self, key: str) -> int | None:
        """When this engine stopped serving `key` for the last time (None: still serving)."""
        stopped = None
        serving = False
        for ts, _, keys in self.changes:
            if key in keys:
                serving, stopped = True, None
            elif serving:
                serving, stopped = False, ts
        return stopped


class TCPProxy:
    """Forwards connections to etcd until cut (then refuses and drops everything)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.transport.abort()


class Engine:
    """One engine: coordinator + table + recorder + the probe endpoint its peers call."""

    def __init__(self, name: str, etcd_url: str, prefix: str, *, wal_id: str = "") -> None:
        self.name = name
        self.etcd_url = etcd_url
        self.prefix = prefix
        self.wal_id = wal_id or f"wal-{name}"
        self.table = OwnershipTable(name, "etcd")
        self.recorder = MemoryRecorder()
        self.coordinator: Coordinator | None = None
        self.server: asyncio.Server | None = None

    async def start(self) -> Engine:
        self.server = await asyncio.start_server(self._answer_probe, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"
        environ = {
            "ETCD_ENDPOINTS": self.etcd_url,
            "ETCD_LEASE_TTL_SEC": str(TTL_S),
            "ENGINE_POLL_MS": "100",
            "ETCD_PREFIX": self.prefix,
            "ASSIGN_KEYS": ",".join(KEYS),
            "ENGINE_URL": url,
        }
        settings = OwnershipSettings.from_env(environ, engine_id=self.name)
        self.coordinator = Coordinator(
            etcd=EtcdGateway(parse_endpoints(settings.endpoints)),
            settings=settings,
            table=self.table,
            recorder=self.recorder,
            clock=SystemClock(),
            registration=Registration(id=self.name, url=url, wal_id=self.wal_id),
            default_keys=list,
        )
        self.coordinator.start()
        return self

    async def _answer_probe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await reader.readuntil(b"\r\n\r\n")
        assert self.coordinator is not None
        body = orjson.dumps(self.coordinator.status())
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    def crash(self) -> None:
        """Stop everything without releasing or revoking: like SIGKILL."""
        assert self.coordinator is not None
        runner = self.coordinator._runner  # noqa: SLF001 - the test plays the kernel here
        assert runner is not None
        runner.cancel()
        if self.server is not None:
            self.server.close()

    async def stop(self) -> None:
        if self.coordinator is not None:
            await self.coordinator.stop()
        if self.server is not None:
            self.server.close()

    @property
    def serving(self) -> frozenset[str]:
        return self.table.serving


async def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Poll until `predicate()`; the seconds it took."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def split_exactly(engines: Iterable[Engine], keys: Iterable[str] = KEYS) -> bool:
    """Every key served by exactly one engine."""
    served = [key for engine in engines for key in engine.serving]
    return sorted(served) == sorted(keys)


@contextlib.asynccontextmanager
async def engines(etcd_url: str, prefix: str, *names: str) -> AsyncIterator[list[Engine]]:
    started = [await Engine(name, etcd_url, prefix).start() for name in names]
    try:
        yield started
    finally:
        for engine in started:
            await engine.stop()


@pytest.mark.asyncio
async def test_three_engines_elect_one_leader_and_split_the_keys(
    etcd_server: EtcdServer, etcd_prefix: str
) -> None:
    async with engines(etcd_server.endpoint, etcd_prefix, "e1", "e2", "e3") as group:
        await wait_until(
            lambda: split_exactly(group) and all(e.serving for e in group), 10, "split"
        )
        leaders = [e.name for e in group if e.coordinator and e.coordinator.leader_key]
        assert len(leaders) == 1
        revisions = {e.table.revision for e in group}
        assert len(revisions) == 1  # all follow the same assignment revision


@pytest.mark.asyncio
async def test_new_owner_waits_until_the_old_one_made_its_release_durable(
    etcd_server: EtcdServer, etcd_prefix: str
) -> None:
    async with engines(etcd_server.endpoint, etcd_prefix, "e1") as group:
        (old,) = group
        await wait_until(lambda: old.serving == set(KEYS), 10, "e1 owns everything")
        old.recorder.durable.clear()  # e1's WAL stalls: its release cannot become durable
        new = await Engine("e2", etcd_server.endpoint, etcd_prefix).start()
        group.append(new)
        await wait_until(lambda: len(old.serving) < len(KEYS), 10, "e1 releases e2's keys")
        moving = set(KEYS) - old.serving
        await asyncio.sleep(1.0)
        assert new.serving == frozenset()  # no ack from e1 yet: e2 must not serve
        assert new.table.pending == moving
        released_at = time.time_ns()
        old.recorder.durable.set()
        await wait_until(lambda: new.serving == moving, 10, "e2 takes over after the ack")
        for key in moving:
            gained = new.recorder.first_time_serving(key)
            assert gained is not None
            assert gained > released_at
        assert split_exactly(group)


@pytest.mark.asyncio
async def test_clean_stop_hands_keys_over_without_waiting_for_the_ttl(
    etcd_server: EtcdServer, etcd_prefix: str
) -> None:
    async with engines(etcd_server.endpoint, etcd_prefix, "e1", "e2") as group:
        await wait_until(
            lambda: split_exactly(group) and all(e.serving for e in group), 10, "split"
        )
        leaving = group.pop()
        await leaving.stop()
        took = await wait_until(lambda: split_exactly(group), 10, "e1 owns all")
        assert took < TTL_S  # the lease was revoked, not left to expire
        assert leaving.recorder.changes[-1][2] == ()  # recorded: serving nothing


@pytest.mark.asyncio
async def test_crashed_engine_keys_move_after_its_lease_expires(
    etcd_server: EtcdServer, etcd_prefix: str
) -> None:
    async with engines(etcd_server.endpoint, etcd_prefix, "e1", "e2", "e3") as group:
        await wait_until(
            lambda: split_exactly(group) and all(e.serving for e in group), 10, "split"
        )
        leader = next(e for e in group if e.coordinator and e.coordinator.leader_key)
        orphaned = set(leader.serving)
        leader.crash()
        group.remove(leader)
        took = await wait_until(
            lambda: orphaned <= group[0].serving | group[1].serving, 3 * TTL_S, "keys moved"
        )
        assert took < TTL_S + 1.5  # lease TTL + etcd's expiry sweep + one reconcile
        assert any(e.coordinator and e.coordinator.leader_key for e in group)
        assert split_exactly(group)


@pytest.mark.asyncio
async def test_revoked_lease_fences_then_reregisters(
    etcd_server: EtcdServer, etcd_prefix: str
) -> None:
    async with engines(etcd_server.endpoint, etcd_prefix, "e1", "e2") as group:
        await wait_until(
            lambda: split_exactly(group) and all(e.serving for e in group), 10, "split"
        )
        victim = group[1]
        assert victim.coordinator is not None
        lease = victim.coordinator.lease
        await EtcdGateway(parse_endpoints([etcd_server.endpoint])).revoke(lease, timeout_s=2)
        await wait_until(lambda: victim.coordinator.stats.leases_lost == 1, 5, "lease lost")  # type: ignore[union-attr]
        assert any(keys == () for _, _, keys in victim.recorder.changes)  # fenced, recorded
        await wait_until(lambda: split_exactly(group) and all(e.serving for e in group), 10, "back")
        assert victim.coordinator.lease not in (0, lease)


@pytest.mark.asyncio
async def test_same_engine_id_with_another_wal_is_refused(
    etcd_server: EtcdServer, etcd_prefix: str
) -> None:
    async with engines(etcd_server.endpoint, etcd_prefix, "e1") as group:
        await wait_until(lambda: group[0].serving == set(KEYS), 10, "e1 owns everything")
        twin = await Engine("e1", etcd_server.endpoint, etcd_prefix, wal_id="other").start()
        try:
            await asyncio.sleep(1.5)
            assert twin.coordinator is not None
            assert twin.coordinator.lease == 0
            assert twin.serving == frozenset()
            assert group[0].serving == set(KEYS)
        finally:
            await twin.stop()


@pytest.mark.asyncio
async def test_restart_with_the_same_wal_takes_over_before_the_ttl(
    etcd_server: EtcdServer, etcd_prefix: str
) -> None:
    async with engines(etcd_server.endpoint, etcd_prefix, "e1") as group:
        await wait_until(lambda: group[0].serving == set(KEYS), 10, "e1 owns everything")
        group[0].crash()
        again = await Engine("e1", etcd_server.endpoint, etcd_prefix, wal_id="wal-e1").start()
        group[0] = again
        took = await wait_until(lambda: again.serving == set(KEYS), 10, "restart serves")
        assert took < TTL_S  # the dead run's lease was revoked, not waited for


@pytest.mark.asyncio
async def test_engine_cut_off_from_etcd_fences_before_others_take_its_keys(
    own_etcd: EtcdServer, etcd_prefix: str
) -> None:
    proxy = TCPProxy(own_etcd.client_port)
    proxied_url = await proxy.start()
    isolated = await Engine("e1", proxied_url, etcd_prefix).start()
    async with engines(own_etcd.endpoint, etcd_prefix, "e2", "e3") as group:
        everyone = [isolated, *group]
        try:
            await wait_until(
                lambda: split_exactly(everyone) and all(e.serving for e in everyone), 10, "split"
            )
            stranded = set(isolated.serving)
            proxy.cut()
            await wait_until(lambda: not isolated.serving, 3 * TTL_S, "e1 fences itself")
            await wait_until(lambda: split_exactly(group), 4 * TTL_S, "e2, e3 take e1's keys")
            fenced_at = isolated.recorder.last_time_serving(next(iter(stranded)))
            assert fenced_at is not None
            for key in stranded:
                owner = next(e for e in group if key in e.serving)
                gained = owner.recorder.first_time_serving(key)
                assert gained is not None
                assert gained > fenced_at
            assert isolated.coordinator is not None
            assert isolated.coordinator.stats.fences >= 1
        finally:
            await isolated.stop()


@pytest.mark.asyncio
async def test_etcd_outage_keeps_every_owner_serving(
    own_etcd: EtcdServer, etcd_prefix: str
) -> None:
    async with engines(own_etcd.endpoint, etcd_prefix, "e1", "e2", "e3") as group:
        await wait_until(
            lambda: split_exactly(group) and all(e.serving for e in group), 10, "split"
        )
        before = {e.name: e.serving for e in group}
        clock = SystemClock()
        own_etcd.stop()
        ends = time.monotonic() + 3 * TTL_S
        while time.monotonic() < ends:
            now = clock.mono_ns()
            for engine in group:
                assert engine.serving == before[engine.name]
                assert all(engine.table.serves(key, now) for key in engine.serving), engine.name
            await asyncio.sleep(0.05)
        own_etcd.start()
        await asyncio.sleep(TTL_S)
        for engine in group:
            assert engine.coordinator is not None
            assert engine.serving == before[engine.name]
            assert engine.coordinator.stats.fences == 0
            assert engine.coordinator.stats.leases_lost == 0
            assert engine.coordinator.stats.outage_extensions > 0
