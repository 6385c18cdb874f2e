"""One engine's side of etcd ownership: lease, election, assignment, fenced hand-overs.

Four loops on the gateway's event loop, none of which ever dies on an operating error (each
failure is logged once per outage, counted, and retried with a bounded backoff):

- lease: register under a lease (`P/engines/<id>`) and keep it alive every TTL/5. The lease
  deadline (send time of the last good keep-alive + TTL - margin) bounds how long this
  engine trusts its ownership. If keep-alives fail as the deadline nears: with
  OWNERSHIP_ON_ETCD_LOSS=fence, stop serving at the deadline; with `serve` (default), ask the
  peers whether they reach etcd: if one does, this engine is the one cut off, and it stops
  serving before etcd can expire its lease and hand its keys to others; if none does, etcd is
  down for everyone, nobody can take keys over, and serving continues (DESIGN §7 outage rule).
- election: campaign with etcd's election service on the same lease; leadership lasts as
  long as the lease (and the candidate key) does.
- reconcile: read the whole prefix (one consistent range), then follow and, as the leader,
  lead. Woken by the watch, or every ENGINE_POLL_MS.
- watch: a watch on the prefix, only to wake reconcile early.

Hand-over (what makes "one owner per key at any instant" hold): when assignment revision R
takes keys away, this engine stops accepting them, records OwnershipChanged(R) in its WAL,
waits until that record is durable, then acks R (`P/acks/<id>`, on its lease). When R gives
it keys, it waits until every other registered engine acked >= R (an engine that is not
registered has lost its lease and fenced itself; one with no ack serves nothing), then
starts accepting them and records OwnershipChanged(R). The leader writes R only while it
holds its election key (txn on the key's create revision) and only over the revision it read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import msgspec
import orjson

from switchyard.core.ports import Clock

from ._http import HTTPError, parse_endpoint, request
from .cluster import (
    Ack,
    ClusterView,
    Layout,
    Registration,
    decode_registration,
    encode,
    parse_view,
    same_placement,
)
from .etcd import Compare, Etcd, EtcdError, LeaderKey, Put
from .settings import KEY_REQUESTS_MAX, KEYS_MAX, OwnershipSettings
from .table import OwnershipTable

log = logging.getLogger("switchyard.ownership")

BACKOFF_FIRST_S: Final = 0.05
BACKOFF_MAX_S: Final = 2.0
DURABLE_WAIT_S: Final = 5.0  # a release not durable within this is retried, never acked
OUTAGE_RELOG_S: Final = 30.0  # an ongoing etcd outage is logged again this often


class Recorder(Protocol):
    """Where ownership changes go: the engine's WAL (OwnershipChanged records)."""

    def record(self, revision: int, keys: tuple[str, ...]) -> int:
        """Sequence the change now; its seq."""
        ...

    async def wait_durable(self, seq: int, *, timeout_s: float) -> None: ...


class OwnershipConflict(EtcdError):
    """Another live process is registered under this ENGINE_ID (a different WAL)."""


@dataclass(slots=True)
class CoordinatorStats:
    etcd_errors: dict[str, int] = field(default_factory=dict)  # by operation
    registrations: int = 0
    leases_lost: int = 0
    elections_won: int = 0
    assignments_written: int = 0
    keys_registered: int = 0
    releases: int = 0
    gains: int = 0
    fences: int = 0
    probe_rounds: int = 0
    outage_extensions: int = 0
    last_handover_wait_ms: float = 0.0


class Backoff:
    """Doubling delays, capped; reset after a success."""

    __slots__ = ("_cap_s", "_next_s")

    def __init__(self, cap_s: float = BACKOFF_MAX_S) -> None:
        self._cap_s = cap_s
        self._next_s = BACKOFF_FIRST_S

    def next(self) -> float:
        delay = self._next_s
        self._next_s = min(self._cap_s, delay * 2)
        return delay

    def reset(self) -> None:
        self._next_s = BACKOFF_FIRST_S


class Coordinator:
    """See the module docstring. Everything runs on the gateway's event loop."""

    def __init__(
        self,
        *,
        etcd: Etcd,
        settings: OwnershipSettings,
        table: OwnershipTable,
        recorder: Recorder,
        clock: Clock,
        registration: Registration,
        default_keys: Callable[[], list[str]],
    ) -> None:
        assert settings.mode == "etcd"
        assert registration.id == settings.engine_id
        self.etcd = etcd
        self.settings = settings
        self.table = table
        self.recorder = recorder
        self.clock = clock
        self.registration = registration
        self.layout = Layout(settings.prefix)
        self._default_keys = default_keys
        self.me = settings.engine_id
        # lease and leadership
        self.lease = 0
        self._registered = asyncio.Event()
        self._lease_lost = asyncio.Event()
        self._deposed = asyncio.Event()
        self.leader_key: LeaderKey | None = None
        self._seeded_term = 0
        # assignment following
        self.view: ClusterView | None = None
        self.applied_revision = 0  # released and acked under the current lease
        self._release_seq = 0  # WAL seq of a release not yet acked (durability pending)
        self._pending_since_ns = 0
        self._requested: set[str] = set()
        self._wake = asyncio.Event()
        self._watch_from = 0
        # health
        self.etcd_ok_ns = 0
        self._outage_since_ns = 0
        self._outage_logged_ns = 0
        self.stats = CoordinatorStats()
        self._runner: asyncio.Task[None] | None = None

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        assert self._runner is None
        self._runner = asyncio.get_running_loop().create_task(self._run(), name="ownership")
        return self._runner

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._lease_loop(), name="ownership-lease")
            group.create_task(self._campaign_loop(), name="ownership-election")
            group.create_task(self._reconcile_loop(), name="ownership-reconcile")
            group.create_task(self._watch_loop(), name="ownership-watch")

    async def stop(self) -> None:
        """Clean stop: release every key (recorded, durable), then revoke the lease."""
        runner = self._runner
        if runner is not None and not runner.done():
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        if self.table.serving:
            seq = self._set_serving(frozenset(), self.applied_revision, "stopping")
            with contextlib.suppress(TimeoutError):
                await self.recorder.wait_durable(seq, timeout_s=DURABLE_WAIT_S)
        if self.lease:
            try:
                await self.etcd.revoke(self.lease, timeout_s=self.settings.request_timeout_s)
                log.info("event=lease_revoked engine=%s lease=%x", self.me, self.lease)
            except EtcdError as error:
                log.warning("event=lease_revoke_failed engine=%s error=%s", self.me, error)
            self.lease = 0

    def request_key(self, key: str) -> None:
        """A request came for a key no engine has: register it (bounded), wake the loop."""
        if len(self._requested) < KEY_REQUESTS_MAX:
            self._requested.add(key)
            self._wake.set()

    # --- lease ------------------------------------------------------------------------------

    async def _lease_loop(self) -> None:
        backoff = Backoff(cap_s=self.settings.keepalive_interval_s / 2)
        while True:
            try:
                if self.lease:
                    await self._keepalive()
                else:
                    await self._register()
                backoff.reset()
                delay = self.settings.keepalive_interval_s
            except EtcdError as error:
                self._etcd_failed("lease", error)
                await self._lease_unconfirmed()
                delay = backoff.next()
            await asyncio.sleep(delay)

    async def _register(self) -> None:
        key = self.layout.engine(self.me)
        timeout_s = self.settings.request_timeout_s
        existing = await self.etcd.get(key, timeout_s=timeout_s)
        if existing is not None:
            await self._replace_registration(existing.value, existing.lease)
        sent_ns = self.clock.mono_ns()
        lease, ttl_s = await self.etcd.grant(self.settings.lease_ttl_s, timeout_s=timeout_s)
        value = encode(self.registration)
        created, _ = await self.etcd.txn(
            [Compare(key, "CREATE", 0)], [Put(key, value, lease)], timeout_s=timeout_s
        )
        if not created:
            await self.etcd.revoke(lease, timeout_s=timeout_s)
            raise OwnershipConflict(f"{key} was registered by someone else meanwhile")
        self._etcd_ok()
        self.lease = lease
        self.table.deadline_ns = sent_ns + ttl_s * 1_000_000_000 - self.settings.deadline_margin_ns
        self._lease_lost = asyncio.Event()
        self._registered.set()
        self.stats.registrations += 1
        self._wake.set()
        log.info(
            "event=registered engine=%s url=%s lease=%x ttl_s=%d etcd=%s",
            self.me,
            self.registration.url,
            lease,
            ttl_s,
            self.etcd.endpoint,
        )

    async def _replace_registration(self, value: bytes, lease: int) -> None:
        """Our id is registered: a dead earlier run of this WAL (revoke it) or a duplicate."""
        try:
            previous = decode_registration(value)
        except msgspec.DecodeError as error:
            raise OwnershipConflict(f"unreadable registration of {self.me}: {error}") from None
        if previous.wal_id != self.registration.wal_id:
            raise OwnershipConflict(
                f"ENGINE_ID {self.me} is registered by another process (url {previous.url}, "
                f"walId {previous.wal_id}); waiting for its lease to expire"
            )
        # We hold this WAL's lock, so the process that registered it is gone: its lease
        # (and the keys it owned through it) can go now instead of after the TTL.
        await self.etcd.revoke(lease, timeout_s=self.settings.request_timeout_s)
        log.info("event=previous_run_revoked engine=%s lease=%x", self.me, lease)

    async def _keepalive(self) -> None:
        sent_ns = self.clock.mono_ns()
        ttl_s = await self.etcd.keepalive(self.lease, timeout_s=self.settings.request_timeout_s)
        self._etcd_ok()
        if ttl_s <= 0:
            self._lose_lease("etcd expired the lease (this engine was cut off or paused)")
            return
        self.table.deadline_ns = sent_ns + ttl_s * 1_000_000_000 - self.settings.deadline_margin_ns

    def _lose_lease(self, reason: str) -> None:
        self.stats.leases_lost += 1
        log.warning("event=lease_lost engine=%s lease=%x reason=%s", self.me, self.lease, reason)
        if self.table.serving:
            self._fence(reason)
        self.lease = 0
        self.applied_revision = 0  # our ack went with the lease
        self._release_seq = 0
        self.leader_key = None
        self._registered.clear()
        self._lease_lost.set()

    async def _lease_unconfirmed(self) -> None:
        """A keep-alive failed: decide, before the deadline, whether to keep serving."""
        table = self.table
        if not self.lease or not table.serving:
            return
        now_ns = self.clock.mono_ns()
        if now_ns < table.deadline_ns - self.settings.probe_lead_ns:
            return
        if self.settings.on_etcd_loss == "fence":
            if now_ns >= table.deadline_ns:
                self._fence("lease not renewed by its deadline (OWNERSHIP_ON_ETCD_LOSS=fence)")
            return
        sent_ns = now_ns
        verdict = await self._probe_peers()
        if verdict == "isolated":
            self._fence("a peer reaches etcd and this engine does not: its lease will expire")
        elif verdict == "outage" and table.serving:
            ttl_ns = self.settings.lease_ttl_s * 1_000_000_000
            extended = (
                sent_ns + ttl_ns - self.settings.etcd_fresh_ns - self.settings.deadline_margin_ns
            )
            if extended > table.deadline_ns:
                table.deadline_ns = extended
                self.stats.outage_extensions += 1

    def _fence(self, reason: str) -> None:
        self.stats.fences += 1
        log.warning(
            "event=fenced engine=%s keys=%d reason=%s", self.me, len(self.table.serving), reason
        )
        self._set_serving(frozenset(), self.applied_revision, "fenced")

    async def _probe_peers(self) -> str:
        """'isolated' if a peer reaches etcd, else 'outage' (none does, or none answers)."""
        self.stats.probe_rounds += 1
        urls = [url for engine, url in self.table.urls.items() if engine != self.me]
        answers = await asyncio.gather(*(self._probe(url) for url in urls))
        return "isolated" if any(answers) else "outage"

    async def _probe(self, url: str) -> bool:
        try:
            endpoint = parse_endpoint(url)
            reply = await request(
                endpoint, "GET", "/ownership", timeout_s=self.settings.request_timeout_s
            )
            if reply.status != 200:
                return False
            return bool(orjson.loads(reply.body)["etcd"]["reachable"])
        except (HTTPError, ValueError, KeyError, TypeError, orjson.JSONDecodeError):
            return False

    # --- election ---------------------------------------------------------------------------

    async def _campaign_loop(self) -> None:
        backoff = Backoff()
        while True:
            await self._registered.wait()
            lease, lost = self.lease, self._lease_lost
            self._deposed = asyncio.Event()
            try:
                key = await self._until(
                    self.etcd.campaign(self.layout.election, lease=lease, value=self.me.encode()),
                    lost,
                )
            except EtcdError as error:
                self._etcd_failed("campaign", error)
                await asyncio.sleep(backoff.next())
                continue
            if key is None or self.lease != lease:
                continue
            backoff.reset()
            self.leader_key = key
            self.stats.elections_won += 1
            log.info("event=elected_leader engine=%s term=%d", self.me, key.rev)
            self._wake.set()
            await self._until(self._deposed.wait(), lost)
            self.leader_key = None

    @staticmethod
    async def _until(work: Coroutine[Any, Any, Any], stop: asyncio.Event) -> Any:
        """Run `work` unless `stop` is set first (then cancel it and return None)."""
        task = asyncio.ensure_future(work)
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, EtcdError):
                    await task
        return task.result() if task.done() and not task.cancelled() else None

    # --- reconcile: follow the assignment, and lead -------------------------------------------

    async def _reconcile_loop(self) -> None:
        backoff = Backoff()
        while True:
            self._wake.clear()
            try:
                complete = self.leader_key is not None  # only the leader needs P/config/
                prefix = self.layout.root if complete else self.layout.state
                kvs, revision = await self.etcd.get_prefix(
                    prefix, timeout_s=self.settings.request_timeout_s
                )
                self._etcd_ok()
                view = parse_view(self.layout, kvs, revision, self.view, complete=complete)
                self.view = view
                self._watch_from = revision + 1
                await self._follow(view)
                await self._lead(view)
                await self._register_requested(view)
                backoff.reset()
                delay = self.settings.poll_ms / 1000
            except EtcdError as error:
                self._etcd_failed("reconcile", error)
                delay = backoff.next()
            except TimeoutError:
                log.warning("event=release_not_durable engine=%s: will retry", self.me)
                delay = backoff.next()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    async def _follow(self, view: ClusterView) -> None:
        table = self.table
        doc = view.assignment
        revision = view.assignment_revision if doc is not None else 0
        if doc is not None:
            table.owners = dict(doc.keys)
            table.urls = {**doc.engines, **{e: r.url for e, r in view.engines.items()}}
        if not self.lease:
            table.pending = frozenset()
            return
        if self.me not in view.engines:
            await self._reregister()
        owned = doc.owned_by(self.me) if doc is not None else frozenset()
        if revision != self.applied_revision or self._release_seq:
            await self._release(owned, revision)
        gain = owned - table.serving
        if not gain or revision == 0:
            table.pending = frozenset()
            return
        waits = view.barrier_waits(self.me, revision)
        if waits:
            if not table.pending:
                self._pending_since_ns = self.clock.mono_ns()
                log.info(
                    "event=handover_wait engine=%s revision=%d keys=%d waiting_for=%s",
                    self.me,
                    revision,
                    len(gain),
                    ",".join(waits),
                )
            table.pending = gain
            return
        if table.pending and self._pending_since_ns:
            wait_ns = self.clock.mono_ns() - self._pending_since_ns
            self.stats.last_handover_wait_ms = round(wait_ns / 1e6, 3)
        table.pending = frozenset()
        self.stats.gains += 1
        self._set_serving(table.serving | gain, revision, "gained")

    async def _reregister(self) -> None:
        """Our registration key vanished while our lease lives (deleted by hand): put it back."""
        key = self.layout.engine(self.me)
        created, _ = await self.etcd.txn(
            [Compare(key, "CREATE", 0)],
            [Put(key, encode(self.registration), self.lease)],
            timeout_s=self.settings.request_timeout_s,
        )
        log.warning("event=registration_restored engine=%s created=%s", self.me, created)

    async def _release(self, owned: frozenset[str], revision: int) -> None:
        """Stop serving what `revision` took away, make that durable, then ack `revision`."""
        table = self.table
        keep = table.serving & owned
        if keep != table.serving:
            self.stats.releases += 1
            self._release_seq = self._set_serving(keep, revision, "released")
        if self._release_seq:
            await self.recorder.wait_durable(self._release_seq, timeout_s=DURABLE_WAIT_S)
        if revision:
            await self.etcd.put(
                self.layout.ack(self.me),
                encode(Ack(revision)),
                lease=self.lease,
                timeout_s=self.settings.request_timeout_s,
            )
        self._release_seq = 0
        self.applied_revision = revision
        table.revision = revision

    def _set_serving(self, keys: frozenset[str], revision: int, reason: str) -> int:
        """Replace the served set and record it (same loop step: no write slips between)."""
        table = self.table
        gained = keys - table.serving
        released = table.serving - keys
        table.serving = keys
        table.serving_since_ns = self.clock.mono_ns()
        seq = self.recorder.record(revision, tuple(sorted(keys)))
        log.info(
            "event=ownership_changed engine=%s reason=%s revision=%d seq=%d serving=%d "
            "gained=%s released=%s",
            self.me,
            reason,
            revision,
            seq,
            len(keys),
            _sample(gained),
            _sample(released),
        )
        return seq

    async def _lead(self, view: ClusterView) -> None:
        key = self.leader_key
        if key is None:
            return
        if view.revision < key.elected_revision or not view.complete:
            self._wake.set()  # read before we won, or without P/config/: read again
            return
        if view.leader_key != key.key:
            log.warning("event=deposed engine=%s leader_now=%s", self.me, view.leader)
            self._deposed.set()
            return
        if self._seeded_term != key.rev and not view.keys:
            await self._seed_keys()
        self._seeded_term = key.rev
        desired = view.desired(leader=self.me, term=key.rev)
        if same_placement(view.assignment, desired):
            return
        written, revision = await self.etcd.txn(
            [
                Compare(key.key, "CREATE", key.rev),
                Compare(self.layout.assignment, "MOD", view.assignment_revision),
            ],
            [Put(self.layout.assignment, encode(desired))],
            timeout_s=self.settings.request_timeout_s,
        )
        if not written:
            self._wake.set()  # someone wrote meanwhile, or we are no longer leader: re-read
            return
        self.stats.assignments_written += 1
        previous = view.assignment.keys if view.assignment is not None else {}
        moved = sum(1 for k, owner in desired.keys.items() if previous.get(k) != owner)
        log.info(
            "event=assignment_written leader=%s revision=%d engines=%s keys=%d moved=%d",
            self.me,
            revision,
            ",".join(desired.engines),
            len(desired.keys),
            moved,
        )

    async def _seed_keys(self) -> None:
        keys = list(self.settings.assign_keys) or self._default_keys()
        for name in sorted(set(keys))[:KEYS_MAX]:
            await self._create_key(name)
        log.info("event=keys_seeded leader=%s keys=%d", self.me, len(keys))

    async def _register_requested(self, view: ClusterView) -> None:
        if not self._requested:
            return
        known = (
            view.keys
            if view.complete
            else frozenset(view.assignment.keys if view.assignment else ())
        )
        room = max(0, KEYS_MAX - len(known))
        batch = sorted(k for k in self._requested if k not in known)[:room]
        self._requested.clear()
        for name in batch:
            await self._create_key(name)
        if batch:
            log.info("event=keys_registered engine=%s keys=%s", self.me, _sample(set(batch)))

    async def _create_key(self, name: str) -> None:
        path = self.layout.key(name)
        created, _ = await self.etcd.txn(
            [Compare(path, "CREATE", 0)],
            [Put(path, b"")],
            timeout_s=self.settings.request_timeout_s,
        )
        self.stats.keys_registered += int(created)

    # --- watch ------------------------------------------------------------------------------

    async def _watch_loop(self) -> None:
        backoff = Backoff()
        while True:
            start = self._watch_from
            if not start:
                await asyncio.sleep(self.settings.poll_ms / 1000)
                continue
            try:
                async for _events in self.etcd.watch_prefix(self.layout.root, start_revision=start):
                    backoff.reset()
                    self._wake.set()
            except EtcdError as error:
                self._etcd_failed("watch", error)
                await asyncio.sleep(backoff.next())

    # --- health -----------------------------------------------------------------------------

    def _etcd_ok(self) -> None:
        now_ns = self.clock.mono_ns()
        if self._outage_since_ns:
            log.info(
                "event=etcd_reachable engine=%s after_s=%.1f endpoint=%s",
                self.me,
                (now_ns - self._outage_since_ns) / 1e9,
                self.etcd.endpoint,
            )
            self._outage_since_ns = 0
        self.etcd_ok_ns = now_ns

    def _etcd_failed(self, operation: str, error: EtcdError) -> None:
        errors = self.stats.etcd_errors
        errors[operation] = errors.get(operation, 0) + 1
        now_ns = self.clock.mono_ns()
        if not self._outage_since_ns:
            self._outage_since_ns = now_ns
        elif now_ns - self._outage_logged_ns < OUTAGE_RELOG_S * 1e9:
            return
        self._outage_logged_ns = now_ns
        log.warning(
            "event=etcd_error engine=%s op=%s serving=%d errors=%d error=%s",
            self.me,
            operation,
            len(self.table.serving),
            sum(errors.values()),
            error,
        )

    @property
    def pending_since_ns(self) -> int:
        """When the current hand-over towards this engine started waiting (monotonic ns)."""
        return self._pending_since_ns if self.table.pending else 0

    @property
    def etcd_reachable(self) -> bool:
        """This engine reached etcd recently enough for a peer to rely on it (see probes)."""
        if not self.etcd_ok_ns:
            return False
        return self.clock.mono_ns() - self.etcd_ok_ns < self.settings.etcd_fresh_ns

    def status(self) -> dict[str, Any]:
        """For /ownership, /health, /api/admin and peers' probes."""
        now_ns = self.clock.mono_ns()
        view = self.view
        table = self.table
        return {
            "leader": view.leader if view is not None else None,
            "isLeader": self.leader_key is not None,
            "registered": bool(self.lease),
            "lease": f"{self.lease:x}" if self.lease else None,
            "leaseDeadlineInMs": round((table.deadline_ns - now_ns) / 1e6) if self.lease else None,
            "appliedRevision": self.applied_revision,
            "assignmentRevision": view.assignment_revision if view is not None else 0,
            "liveEngines": sorted(view.engines) if view is not None else [],
            "pendingKeys": sorted(table.pending),
            "etcd": {
                "reachable": self.etcd_reachable,
                "endpoint": self.etcd.endpoint,
                "lastOkMsAgo": round((now_ns - self.etcd_ok_ns) / 1e6) if self.etcd_ok_ns else None,
                "errors": dict(self.stats.etcd_errors),
            },
        }


def _sample(keys: set[str] | frozenset[str], limit: int = 8) -> str:
    ordered = sorted(keys)
    if not ordered:
        return "-"
    more = f",...(+{len(ordered) - limit})" if len(ordered) > limit else ""
    return ",".join(ordered[:limit]) + more
