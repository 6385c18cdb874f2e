"""Deterministic simulation of the whole switchyard: one seed drives everything.

The real parts run: the sequencer and the runtime node (effects released in seq order once
durable), the journal with the inline flusher on a FakeDisk (latency, torn writes, EIO on
fdatasync, power cuts), the in-process venue (matching engine and seeded market makers),
the outbox's pure parts (WALTailer on the fake disk, the envelope encoder) relaying to a
fake broker (lost and duplicated deliveries, lost acknowledgements), and the back office's
bookkeeping (Store on an in-memory SQLite copy of the migrated schema) consuming it with
crashes between apply and offset commit. All of it runs on one asyncio loop whose clock is
virtual: when nothing is ready the loop jumps to the next timer (trio's autojump), so a run
takes what the work costs, not its virtual duration, and repeats exactly.

Faults come from the seed: gateway process crashes and power cuts at random moments, an
fdatasync that fails (the process stops, recovery decides), outbox and back office crashes.
The checkers at the end (and at each restart):
- nothing acknowledged is lost: every durable ACK's record is in the recovered log, with the
  same bytes; recovery restores exactly a prefix of what was appended, and replaying it gives
  the state hash of the live state at that seq;
- SSE is gapless: each life publishes consecutive seqs; what the next life starts after is
  read back from disk without a gap; what was published is what the log holds;
- the book is valid (the engine's invariants) and the ledger balanced (the back office's
  integrity checks: entries sum to zero, balances and positions agree with fills);
- the broker holds every durable event at least once, byte-identical to its envelope;
- the back office converged: it applied everything and `reconcile` finds no mismatch with
  the gateway's final state.

    python -m switchyard.testing.sim --seed 7            # replay one seed (prints figures)
    python -m switchyard.testing.sim --seeds 100-199      # a range; failures print their seed
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import hashlib
import random
import selectors
import sqlite3
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from switchyard.backoffice import queries, reconcile
from switchyard.backoffice.db import migrate
from switchyard.backoffice.store import Store
from switchyard.core.codes import Reason
from switchyard.core.enums import OrderType, Side, TimeInForce
from switchyard.core.events import Record, RecordType
from switchyard.outbox.envelope import EnvelopeEncoder, source_name
from switchyard.pipeline.apply import apply_record
from switchyard.pipeline.sequencer import Outcome, Sequencer
from switchyard.pipeline.state import GatewayState, StateLimits
from switchyard.risk.config import RiskConfig
from switchyard.risk.engine import RiskEngine
from switchyard.runtime.node import GatewayNode
from switchyard.testing.fake_disk import FakeDisk
from switchyard.venue.service import VenueService
from switchyard.venue.settings import VenueSettings
from switchyard.venue.transport_sim import SimVenueTransport
from switchyard.wal import WALReader, WALTailer
from switchyard.wal.flushers import InlineFlusher
from switchyard.wal.journal import Journal
from switchyard.wal.payload import decode_payload, encode_payload
from switchyard.wal.settings import JournalSettings

WAL_DIR = "/data/wal"
HMAC_KEY = b"sim-chain-key"
ENGINE_ID = "sim1"
SYMBOLS = ("BTC", "ETH")
RISK_MAX_QTY = 40
START_WALL_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
NS = 1_000_000_000


class SimFailure(AssertionError):
    """A checker found a broken promise; the message starts with the seed to replay."""


# --- virtual time ----------------------------------------------------------------------------


class SimClock:
    """The Clock port on virtual time: it moves only when the loop jumps or a fault says so."""

    def __init__(self) -> None:
        self.now_ns = 0

    def wall_ns(self) -> int:
        return START_WALL_NS + self.now_ns

    def mono_ns(self) -> int:
        return self.now_ns

    def advance(self, ns: int) -> None:
        assert ns >= 0, ns
        self.now_ns += ns


class _VirtualSelector(selectors.BaseSelector):
    """Never waits: a select() with a timeout moves the virtual clock to the next timer."""

    def __init__(self, clock: SimClock) -> None:
        self._clock = clock
        self._keys: dict[Any, selectors.SelectorKey] = {}

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        key = selectors.SelectorKey(
            fileobj, fileobj if isinstance(fileobj, int) else fileobj.fileno(), events, data
        )
        self._keys[fileobj] = key
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._keys.pop(fileobj)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:
            raise SimFailure("the simulation deadlocked: nothing ready, no timer pending")
        if timeout > 0:
            self._clock.advance(max(1, int(timeout * NS)))
        return []

    def get_map(self) -> Any:
        return self._keys

    def close(self) -> None:
        self._keys.clear()


class SimLoop(asyncio.SelectorEventLoop):
    """An asyncio loop on the SimClock (autojump when idle): deterministic for callbacks."""

    def __init__(self, clock: SimClock) -> None:
        super().__init__(selector=_VirtualSelector(clock))
        self._sim_clock = clock

    def time(self) -> float:
        return self._sim_clock.mono_ns() / NS


# --- configuration and results -----------------------------------------------------------------


@dataclass(frozen=True)
class SimConfig:
    """What one run does; every choice inside it comes from the seed."""

    duration_s: float = 20.0  # virtual time of client load
    clients: int = 4
    step_mean_s: float = 0.02  # mean pause between a client's requests
    gateway_faults: int = 3  # crashes, power cuts or fsync errors during the load
    outbox_crashes: int = 2
    backoffice_crashes: int = 2
    fsync_latency_ns: int = 200_000
    broker_drop: float = 0.02  # a delivery fails (not stored)
    broker_ack_lost: float = 0.02  # stored, but the producer hears a failure (duplicate later)
    broker_duplicate: float = 0.01  # stored twice


@dataclass
class Figures:
    """What one run did (for the report and to prove the checks were not vacuous)."""

    records: int = 0
    orders_accepted: int = 0
    durable_acks: int = 0
    fast_acks: int = 0
    denied: int = 0
    fills: int = 0
    restarts: int = 0
    power_cuts: int = 0
    process_crashes: int = 0
    fsync_errors: int = 0
    tail_cuts: int = 0
    lost_fast_acks: int = 0  # fast-ACKed orders a crash lost (allowed: never durable)
    order_ids_reused: int = 0  # of those, ids that now name another order (must stay 0: F-13)
    published: int = 0
    resumed_from_disk: int = 0
    broker_messages: int = 0
    broker_duplicates: int = 0
    outbox_restarts: int = 0
    backoffice_restarts: int = 0
    backoffice_applied: int = 0
    virtual_s: float = 0.0


# --- the broker, the outbox relay and the back office --------------------------------------


class FakeBroker:
    """Topic partitions in memory; delivery faults drawn from the run's PRNG."""

    def __init__(self, rng: random.Random, config: SimConfig, partitions: int = 3) -> None:
        self.rng = rng
        self.config = config
        self.partitions: list[list[tuple[bytes, bytes]]] = [[] for _ in range(partitions)]

    def produce(self, key: bytes, value: bytes) -> bool:
        """Store (maybe twice, maybe not at all); True when the producer hears success."""
        roll = self.rng.random()
        config = self.config
        if roll < config.broker_drop:
            return False
        digest = int(hashlib.blake2b(key, digest_size=2).hexdigest(), 16)
        log = self.partitions[digest % len(self.partitions)]  # by key, like Kafka
        log.append((key, value))
        if roll < config.broker_drop + config.broker_ack_lost:
            return False
        if roll < config.broker_drop + config.broker_ack_lost + config.broker_duplicate:
            log.append((key, value))
        return True

    def all_values(self) -> list[bytes]:
        return [value for log in self.partitions for _, value in log]


class OutboxRelay:
    """The outbox's contract on its pure parts: tail durable records, publish each one at
    least once in order, advance the stored position only past acknowledged records."""

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.stored_seq = 0  # the fsynced offset file
        self.acked_seq = 0
        self.tailer: WALTailer | None = None
        self.encoder: EnvelopeEncoder | None = None

    def restart(self) -> None:
        self.acked_seq = self.stored_seq
        self.tailer = None

    def step(self) -> int:
        life = self.sim.life
        if life is None or life.journal.durable_seq <= self.acked_seq:
            return 0
        if self.tailer is None:
            self.tailer = WALTailer(
                Path(WAL_DIR), start_seq=self.acked_seq + 1, hmac_key=HMAC_KEY, disk=self.sim.disk
            )
            self.encoder = EnvelopeEncoder(source_name(ENGINE_ID, life.journal.wal_id))
        assert self.encoder is not None
        sent = 0
        for record in self.tailer.poll(64):
            event = decode_payload(record.record_type, record.payload)
            key, value = self.encoder.encode_keyed(event, seq=record.seq, ts_ns=record.ts_ns)
            if not self.sim.broker.produce(key, value):
                self.tailer = None  # rewind: everything after the acknowledged prefix again
                return sent
            self.acked_seq = record.seq
            sent += 1
        if self.sim.rng.random() < 0.3:
            self.stored_seq = self.acked_seq
        return sent


class BackofficeSim:
    """The back office consuming the broker: apply a batch, then commit the offsets."""

    def __init__(self, sim: Simulation, template: sqlite3.Connection) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import StaticPool

        self.sim = sim
        connection = sqlite3.connect(":memory:", check_same_thread=False)
        template.backup(connection)
        self.engine = create_engine("sqlite://", creator=lambda: connection, poolclass=StaticPool)
        self.store = Store(self.engine, currency="USD", fee_bps=0)
        self.committed = [0, 0, 0]  # per partition: next offset to read

    def step(self) -> int:
        applied = 0
        for partition, log in enumerate(self.sim.broker.partitions):
            start = self.committed[partition]
            batch = log[start : start + 32]
            if not batch:
                continue
            items = [(value, f"p{partition}:{start + i}") for i, (_, value) in enumerate(batch)]
            self.store.apply_batch(items, now_ns=self.sim.clock.wall_ns())
            applied += len(items)
            if self.sim.rng.random() < 0.05:
                continue  # crashed before committing: the batch comes again (dedupe)
            self.committed[partition] = start + len(batch)
        return applied


# --- the WAL writer, asynchronous like the real one ----------------------------------------


class DelayedFlusher:
    """The writer process's timing on virtual time: chunks wait a little (the pipe, the
    batch window) before one write + fdatasync each, so a crash can find chunks handed over
    and not yet written, and a durable notification always comes after its sync."""

    def __init__(self, loop: asyncio.AbstractEventLoop, rng: random.Random) -> None:
        self.inner = InlineFlusher(loop.call_soon)
        self.loop = loop
        self.rng = rng
        self.queue: deque[Any] = deque()
        self.scheduled = False
        self.dead = False  # the process died: nothing queued is ever written

    def start(self, plan: Any, disk: Any, lock_handle: int, callbacks: Any) -> None:
        self.inner.start(plan, disk, lock_handle, callbacks)

    def submit(self, chunk: Any) -> None:
        self.queue.append(chunk)
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_later(self.rng.uniform(0.0002, 0.003), self._write)

    def _write(self) -> None:
        self.scheduled = False
        while self.queue and not self.dead:
            self.inner.submit(self.queue.popleft())

    async def close(self) -> None:
        self._write()
        await self.inner.close()


# --- one life of the gateway process -----------------------------------------------------------


class GatewayLife:
    """A gateway process: recovered journal, replayed state, node and in-process venue."""

    def __init__(self, sim: Simulation, index: int) -> None:
        self.sim = sim
        self.index = index
        self.dead = False
        self.published: list[int] = []  # seqs the node published (SSE), in order
        self.fatal: BaseException | None = None
        loop = asyncio.get_running_loop()
        self.flusher = DelayedFlusher(loop, random.Random(sim.seed * 31 + index))
        self.journal = Journal.open(
            Path(WAL_DIR),
            disk=sim.disk,
            settings=JournalSettings(
                hmac_key=HMAC_KEY,
                flusher="inline",
                segment_size_bytes=128 * 1024,
                anchor_interval_s=0.0,
            ),
            clock=sim.clock,
            flusher=self.flusher,
            on_durable=self._on_durable,
            on_fatal=self._on_fatal,
            log=lambda line: None,
            system_id=sim.system_id,
            lock_wait_s=0.0,
        )
        if self.journal.recovery.cut is not None:
            sim.figures.tail_cuts += 1
        self.first_new_seq = self.journal.recovery.last_seq + 1
        state, risk = sim.replay(self.journal)
        specs = VenueSettings.from_env({"VENUE_SYMBOLS": ",".join(SYMBOLS)}).specs
        service = VenueService(specs, liquidity=True, seed=sim.seed * 100 + index)
        self.venue = SimVenueTransport(service, clock=sim.clock, delay_ms=1.0, tick_ms=100)
        self.node = GatewayNode(venue=self.venue, clock=sim.clock, publish=self._publish)
        self.node.attach(Sequencer(state, risk, self._record), self.journal)

    async def start(self) -> None:
        await self.node.start()
        self.node.sequencer.record_session(
            engine_id=ENGINE_ID,
            version="sim",
            pid=self.index,
            config_digest="sim",
            now_ns=self.sim.clock.wall_ns(),
        )
        self.node.commit_now()  # as app.start_gateway: serve once the session record is durable
        await self.node.until_durable(self.node.sequencer.state.session_seq)

    def _record(self, seq: int, ts_ns: int, record: Record) -> None:
        if self.dead or self.fatal is not None:
            return  # the real process has exited (os._exit in node.on_fatal): nothing is kept
        self.sim.appended[seq] = (ts_ns, record)
        self.sim.figures.fills += record.record_type == RecordType.ORDER_FILLED
        self.sim.figures.records += 1
        self.node.on_record(seq, ts_ns, record)

    def _on_durable(self, seq: int) -> None:
        if not self.dead:
            self.sim.durable_acked_seq = max(self.sim.durable_acked_seq, seq)
            self.node.on_durable(seq)

    def _on_fatal(self, error: BaseException) -> None:
        if not self.dead and self.fatal is None:
            self.fatal = error  # the process stops: the supervisor restarts it

    def _publish(self, seq: int, ts_ns: int, record: Record) -> None:
        if self.dead:
            return
        if self.published and seq != self.published[-1] + 1:
            self.sim.fail(f"SSE gap in life {self.index}: {self.published[-1]} then {seq}")
        self.published.append(seq)
        self.sim.figures.published += 1

    async def kill(self) -> None:
        self.dead = True
        self.flusher.dead = True
        await self.venue.close()


# --- the simulation ------------------------------------------------------------------------


def _fresh_state(wal_id: str) -> tuple[GatewayState, RiskEngine]:
    limits = StateLimits(
        orders_retained_max=100_000,
        orders_open_max=100_000,
        idempotency_max=100_000,
        idempotency_ttl_s=0,
    )
    state = GatewayState(engine_id=ENGINE_ID, wal_id=wal_id, limits=limits)
    return state, RiskEngine(RiskConfig.from_env({"RISK_MAX_QTY": str(RISK_MAX_QTY)}))


class Simulation:
    """One seeded run: build, load with faults, drain, check (see the module docstring)."""

    def __init__(self, seed: int, config: SimConfig, template: sqlite3.Connection) -> None:
        self.seed = seed
        self.config = config
        self.rng = random.Random(seed)
        self.clock = SimClock()
        self.figures = Figures()
        self.appended: dict[int, tuple[int, Record]] = {}  # every record any life appended
        self.acked: list[tuple[int, str, bool]] = []  # (accept seq, order id, durable ACK)
        self.durable_acked_seq = 0  # the highest seq a durable notification reached
        self.life: GatewayLife | None = None
        self.lives: list[GatewayLife] = []
        self.disk = FakeDisk(
            seed=seed, latency_ns={"fdatasync": config.fsync_latency_ns}, advance=self.clock.advance
        )
        self.disk.makedirs("/data")
        self.system_id = random.Random(seed ^ 0x5EED).randbytes(16)
        self.broker = FakeBroker(random.Random(seed * 7 + 1), config)
        self.outbox = OutboxRelay(self)
        self.backoffice = BackofficeSim(self, template)
        self.sent: dict[str, dict[str, Any]] = {}  # client order id -> request
        self.first_answer: dict[tuple[str, str], str] = {}  # (account, cid) -> order id
        self.lost_order_ids: set[str] = set()  # fast-ACKed ids whose record a crash lost

    def fail(self, message: str) -> None:
        raise SimFailure(
            f"seed {self.seed}: {message} (replay: python -m "
            f"switchyard.testing.sim --seed {self.seed})"
        )

    def replay(self, journal: Journal) -> tuple[GatewayState, RiskEngine]:
        """What app._recover does: every recovered record applied to a fresh state."""
        state, risk = _fresh_state(journal.wal_id)
        for record in journal.replay():
            payload = decode_payload(record.record_type, record.payload)
            live = self.appended.get(record.seq)
            if live is None or encode_payload(live[1]) != bytes(record.payload):
                self.fail(f"recovered seq {record.seq} is not what was appended there")
            apply_record(state, risk, record.seq, record.ts_ns, payload)
        return state, risk

    def hash_of_prefix(self, last_seq: int, wal_id: str) -> str:
        """The state hash after `last_seq`, by replaying what the lives appended."""
        state, risk = _fresh_state(wal_id)
        for seq in range(1, last_seq + 1):
            ts_ns, record = self.appended[seq]
            apply_record(state, risk, seq, ts_ns, record)
        return Sequencer(state, risk, lambda *_: None).state_hash()

    # --- lives -----------------------------------------------------------------------------

    async def start_life(self) -> None:
        life = GatewayLife(self, len(self.lives))
        self.lives.append(life)
        recovered = life.journal.recovery.last_seq
        if recovered < self.durable_acked_seq:
            self.fail(
                f"recovery ended at {recovered}, durable was reported to {self.durable_acked_seq}"
            )
        if life.node.sequencer.state_hash() != self.hash_of_prefix(recovered, life.journal.wal_id):
            self.fail(f"replay of seqs 1..{recovered} does not give the live state's hash")
        for seq in [s for s in self.appended if s > recovered]:
            del self.appended[seq]  # lost with the crash: never acknowledged (checked above)
        self._check_disk_resume(recovered)
        self._forget_lost_answers(life.node.sequencer.state)
        await life.start()
        self.life = life

    def _forget_lost_answers(self, state: GatewayState) -> None:
        """Fast ACKs lost with the crash: a resend makes a new order (UNKNOWN until then)."""
        for key, order_id in list(self.first_answer.items()):
            order = state.orders.get(order_id)
            if order is None or (order.account_id, order.client_order_id) != key:
                del self.first_answer[key]
                self.lost_order_ids.add(order_id)

    def _check_disk_resume(self, recovered: int) -> None:
        """SSE resume after a restart reads (last published, recovered] from disk: no gap."""
        if len(self.lives) < 2:
            return
        before = self.lives[-2].published
        start = (before[-1] if before else self.lives[-2].first_new_seq - 1) + 1
        if before and before[-1] > recovered:
            self.fail(f"SSE published {before[-1]}, recovery ended at {recovered}")
        reader = WALReader(Path(WAL_DIR), hmac_key=HMAC_KEY, disk=self.disk)
        seqs = (
            [record.seq for record in reader.iter_from(start, recovered)]
            if start <= recovered
            else []
        )
        if seqs != list(range(start, recovered + 1)):
            self.fail(
                f"resume from disk after {start - 1} gave {seqs[:5]}... not a run to {recovered}"
            )
        self.figures.resumed_from_disk += len(seqs)

    async def fault(self, kind: str) -> None:
        life = self.life
        assert life is not None
        live_hash = life.node.sequencer.state_hash()
        if live_hash != self.hash_of_prefix(life.journal.appended_seq, life.journal.wal_id):
            self.fail(f"the live state at {life.journal.appended_seq} is not its records' replay")
        if kind in ("fsync", "power"):
            # "power": the machine dies inside a write or sync of the WAL (the call fails,
            # then everything not fdatasynced is lost); "fsync": the sync fails, the process
            # stops and the page cache survives.
            op = "fdatasync" if kind == "fsync" else self.rng.choice(["pwrite", "fdatasync"])
            self.disk.fail(op, errno.EIO, after=self.rng.randint(0, 3), path_contains="/data/wal")
            for _ in range(400):  # until a batch hits it (the load keeps appending)
                await asyncio.sleep(0.005)
                if life.fatal is not None:
                    break
            self.disk.clear_faults()
            self.figures.fsync_errors += kind == "fsync" and life.fatal is not None
        self.life = None
        await life.kill()
        if kind == "power":
            self.disk.power_cut(mode=self.rng.choice(["prefix", "sectors"]))
            self.figures.power_cuts += 1
        else:
            self.disk.crash()
            self.figures.process_crashes += kind == "crash"
        self.outbox.restart()  # in-process: it dies with the gateway
        self.figures.restarts += 1
        await asyncio.sleep(self.rng.uniform(0.001, 0.05))
        await self.start_life()

    def on_durable_ack(self, seq: int, order_id: str) -> None:
        if self.life is None or self.life.dead:
            self.fail(f"durable ACK for {order_id} from a dead process")
        self.durable_acked_seq = max(self.durable_acked_seq, seq)
        self.acked.append((seq, order_id, True))
        self.figures.durable_acks += 1

    # --- the load ------------------------------------------------------------------------

    async def client(self, index: int, until_ns: int) -> None:
        rng = random.Random(self.seed * 1_000 + index)
        account = f"acct{index}"
        mine: list[str] = []  # client order ids this client sent
        while self.clock.mono_ns() < until_ns:
            await asyncio.sleep(rng.expovariate(1 / self.config.step_mean_s))
            life = self.life
            if life is None or life.dead or life.fatal is not None or not life.node.venue_up:
                continue  # the gateway is down or restarting: a real client gets refused
            self.client_step(life, rng, account, mine)

    def client_step(
        self, life: GatewayLife, rng: random.Random, account: str, mine: list[str]
    ) -> None:
        roll = rng.random()
        node = life.node
        if roll < 0.70 or not mine:
            cid = f"{account}-{len(mine)}"
            mine.append(cid)
            self.submit(life, rng, account, cid, durable=roll < 0.35, deny=roll > 0.67)
        elif roll < 0.78:
            self.submit(life, rng, account, rng.choice(mine), durable=False, deny=False)
        elif roll < 0.88:
            order_id = node.sequencer.state.client_index.get((account, rng.choice(mine)))
            if order_id is not None:
                node.cancel_order(
                    account_id=account, order_id=order_id, reason=Reason.USER_REQUESTED
                )
        elif roll < 0.93:
            order_id = node.sequencer.state.client_index.get((account, rng.choice(mine)))
            order = node.sequencer.state.orders.get(order_id or "")
            if order is not None and order.order_type == OrderType.LIMIT:
                node.replace_order(
                    account_id=account,
                    order_id=order.order_id,
                    qty=rng.randint(1, 6),
                    price=order.price + rng.randint(-2, 2),
                )
        elif roll < 0.98:
            symbol = rng.choice(SYMBOLS)
            node.record_market_event(
                key=symbol,
                price=_REFERENCE[symbol] + rng.randint(-5, 5),
                volume=rng.randint(1, 9),
                account_id=account,
            )
        else:
            node.set_kill_switch(
                scope=account,
                active=rng.random() < 0.25,
                cancel_open=True,
                actor="sim-ops",
                note="drill",
            )

    def submit(
        self,
        life: GatewayLife,
        rng: random.Random,
        account: str,
        cid: str,
        *,
        durable: bool,
        deny: bool,
    ) -> None:
        request = self.sent.get(cid) or _order_request(rng, deny=deny)
        self.sent[cid] = request
        result = life.node.submit_order(
            account_id=account,
            idempotency_key=cid,
            client_order_id=cid,
            origin="sim",
            t0_ns=0,
            **request,
        )
        if result.outcome in (Outcome.ACCEPTED, Outcome.REPLAYED, Outcome.DENIED):
            assert result.order is not None or result.outcome == Outcome.REPLAYED
            order_id = result.order.order_id if result.order is not None else result.detail
            self.check_idempotent(account, cid, order_id)
        if result.outcome == Outcome.DENIED:
            self.figures.denied += 1
        if result.outcome != Outcome.ACCEPTED:
            return
        order = result.order
        assert order is not None
        self.figures.orders_accepted += 1
        if durable:
            life.node.wait_durable(
                result.seq, lambda: self.on_durable_ack(result.seq, order.order_id)
            )
        else:
            self.acked.append((result.seq, order.order_id, False))
            self.figures.fast_acks += 1

    def check_idempotent(self, account: str, cid: str, order_id: str) -> None:
        first = self.first_answer.setdefault((account, cid), order_id)
        if first != order_id:
            self.fail(f"{account}/{cid} answered {order_id} after {first}: not idempotent")

    # --- the background parts and the run ---------------------------------------------------

    async def relay(self, stop: asyncio.Event) -> None:
        """Outbox and back office steps, with their own crashes, until told to stop."""
        crashes = [
            ("outbox", self.rng.uniform(0, self.config.duration_s))
            for _ in range(self.config.outbox_crashes)
        ]
        crashes += [
            ("backoffice", self.rng.uniform(0, self.config.duration_s))
            for _ in range(self.config.backoffice_crashes)
        ]
        crashes.sort(key=lambda item: item[1])
        while not stop.is_set():
            await asyncio.sleep(0.01)
            self.outbox.step()
            self.figures.backoffice_applied += self.backoffice.step()
            while crashes and crashes[0][1] * NS <= self.clock.mono_ns():
                part, _ = crashes.pop(0)
                if part == "outbox":
                    self.outbox.restart()
                    self.figures.outbox_restarts += 1
                else:
                    self.backoffice.committed = [
                        max(0, c - self.rng.randint(0, 40)) for c in self.backoffice.committed
                    ]
                    self.figures.backoffice_restarts += 1

    async def run(self) -> Figures:
        await self.start_life()
        until = int(self.config.duration_s * NS)
        stop = asyncio.Event()
        relay = asyncio.ensure_future(self.relay(stop))
        clients = [asyncio.ensure_future(self.client(i, until)) for i in range(self.config.clients)]
        kinds = ["crash", "power", "fsync"]
        for at_s in sorted(
            self.rng.uniform(0.5, self.config.duration_s - 0.5)
            for _ in range(self.config.gateway_faults)
        ):
            await asyncio.sleep(max(0.0, at_s - self.clock.mono_ns() / NS))
            await self.fault(self.rng.choice(kinds))
        await asyncio.gather(*clients)
        await self.settle()
        stop.set()
        await relay
        self.drain()
        self.figures.virtual_s = self.clock.mono_ns() / NS
        return self.figures

    async def settle(self) -> None:
        """Stop the venue, let the last reports become durable."""
        life = self.life
        assert life is not None
        await asyncio.sleep(0.5)
        await life.venue.close()
        life.node.commit_now()
        await asyncio.sleep(0.1)
        if life.journal.durable_seq != life.journal.appended_seq:
            self.fail("records still not durable after the load stopped")

    def drain(self) -> None:
        for _ in range(10_000):
            sent = self.outbox.step()
            applied = self.backoffice.step()
            self.figures.backoffice_applied += applied
            if not sent and not applied:
                return
        self.fail("the outbox and back office did not drain")


_REFERENCE = {"BTC": 65_000, "ETH": 3_500}


def _order_request(rng: random.Random, *, deny: bool) -> dict[str, Any]:
    symbol = rng.choice(SYMBOLS)
    market = rng.random() < 0.15
    return {
        "symbol": symbol,
        "side": rng.choice([Side.BUY, Side.SELL]),
        "order_type": OrderType.MARKET if market else OrderType.LIMIT,
        "qty": rng.randint(RISK_MAX_QTY + 1, RISK_MAX_QTY + 9) if deny else rng.randint(1, 6),
        "price": 0 if market else _REFERENCE[symbol] + rng.randint(-30, 30),
        "time_in_force": TimeInForce.IOC
        if market
        else rng.choice([TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC]),
        "expire_at_ms": 0,
        "post_only": False,
    }


# --- the checkers at the end ---------------------------------------------------------------


def check_final(sim: Simulation) -> None:
    life = sim.life
    assert life is not None
    state = life.node.sequencer.state
    final = life.journal.durable_seq
    if sorted(sim.appended) != list(range(1, final + 1)):
        sim.fail("the log is not exactly the appended records 1..durable")
    _check_acknowledged(sim, state)
    sim.figures.lost_fast_acks = len(sim.lost_order_ids)
    sim.figures.order_ids_reused = sum(i in state.orders for i in sim.lost_order_ids)
    if sim.figures.order_ids_reused:
        sim.fail(f"{sim.figures.order_ids_reused} order ids of lost fast ACKs name other orders")
    if life.published and life.published[-1] != final:
        sim.fail(f"the last life published up to {life.published[-1]}, durable is {final}")
    life.venue.service.engine.check_invariants()
    _check_broker(sim, final, life.journal.wal_id)
    _check_backoffice(sim, state, final, life.journal.wal_id)


def _check_acknowledged(sim: Simulation, state: GatewayState) -> None:
    """Durable ACKs all there with their record; fast ACKs there intact or lost whole."""
    for seq, order_id, durable in sim.acked:
        kept = sim.appended.get(seq)
        record = kept[1] if kept is not None else None
        intact = record is not None and getattr(record, "order_id", None) == order_id
        if durable and not intact:
            sim.fail(f"durably acknowledged {order_id} (seq {seq}) is not in the log")
        if intact:
            order = state.orders.get(order_id)
            if order is None or order.accept_seq != seq:
                sim.fail(f"acknowledged {order_id} is in the log but not in the state")
            assert record is not None
            for name in ("account_id", "symbol", "side", "order_type", "time_in_force"):
                if getattr(order, name) != getattr(record, name):
                    sim.fail(f"{order_id}: {name} changed across recovery")


def _check_broker(sim: Simulation, final: int, wal_id: str) -> None:
    encoder = EnvelopeEncoder(source_name(ENGINE_ID, wal_id))
    stored = sim.broker.all_values()
    present = set(stored)
    sim.figures.broker_messages = len(stored)
    sim.figures.broker_duplicates = len(stored) - len(present)
    for seq in range(1, final + 1):
        ts_ns, record = sim.appended[seq]
        if encoder.encode(record, seq=seq, ts_ns=ts_ns) not in present:
            sim.fail(f"the broker never got the event of seq {seq}")


def _check_backoffice(sim: Simulation, state: GatewayState, final: int, wal_id: str) -> None:
    source = source_name(ENGINE_ID, wal_id)
    with sim.backoffice.engine.connect() as connection:
        applied = queries.applied_through(connection, source)
        if applied != final:
            sim.fail(f"the back office applied {source} through {applied}, not {final}")
        view = reconcile.GatewayView(seq=final, source=source)
        for order in state.orders.values():
            view.orders[order.order_id] = {
                "orderId": order.order_id,
                "accountId": order.account_id,
                "symbol": order.symbol,
                "side": Side(order.side).name,
                "status": order.status.name,
                "filledQty": order.filled_qty,
                "cumNotional": order.cum_notional,
                "acceptSeq": order.accept_seq,
            }
        view.positions = dict(state.positions)
        mismatches = reconcile.compare(connection, view, None)
    if mismatches:
        sim.fail(f"the back office does not reconcile: {mismatches[:5]}")


# --- running seeds -----------------------------------------------------------------------------

_TEMPLATE: sqlite3.Connection | None = None


def schema_template() -> sqlite3.Connection:
    """The back office schema, migrated once per process, copied into each run's database."""
    global _TEMPLATE
    if _TEMPLATE is None:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import StaticPool

        connection = sqlite3.connect(":memory:", check_same_thread=False)
        engine = create_engine("sqlite://", creator=lambda: connection, poolclass=StaticPool)
        migrate(engine)
        _TEMPLATE = connection
    return _TEMPLATE


def run_seed(seed: int, config: SimConfig | None = None) -> Figures:
    """One simulation; raises SimFailure (message starting with the seed) on a broken promise."""
    sim = Simulation(seed, config or SimConfig(), schema_template())
    loop = SimLoop(sim.clock)
    try:
        figures = loop.run_until_complete(sim.run())
        check_final(sim)
    finally:
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m switchyard.testing.sim",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seed", type=int, help="run (replay) this seed")
    parser.add_argument("--seeds", default="", help="a range A-B of seeds")
    parser.add_argument(
        "--duration", type=float, default=SimConfig.duration_s, help="virtual seconds of load"
    )
    args = parser.parse_args(argv)
    if args.seed is not None:
        seeds = [args.seed]
    else:
        low, _, high = (args.seeds or "1-10").partition("-")
        seeds = list(range(int(low), int(high or low) + 1))
    config = SimConfig(duration_s=args.duration)
    failed = 0
    for seed in seeds:
        try:
            figures = run_seed(seed, config)
        except SimFailure as failure:
            failed += 1
            sys.stdout.write(f"FAIL {failure}\n")
            continue
        sys.stdout.write(f"ok seed {seed}: {figures}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
