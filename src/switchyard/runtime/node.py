"""The gateway node: owns the sequencer, the journal and the venue link, and the order of effects.

Every record the sequencer makes goes to the journal (`_on_record`); one hand-off per loop
iteration commits them as a group. Only when the journal reports a seq durable do its effects
happen, in seq order: durable ACKs are answered, SSE subscribers see the record, accepted
orders go to the venue, cancels and replaces are sent. Venue reports come back here and are
sequenced like any other command. A failed fsync stops the process at once: nothing after
the last durable seq is ever acknowledged (recovery decides on restart).

This is the only layer that knows that ordering; handlers call its methods and never touch
pipeline internals.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from switchyard.core.codes import Reason
from switchyard.core.enums import OrderStatus, OrderType, Side, TimeInForce
from switchyard.core.events import (
    CancelRequested,
    OrderAccepted,
    Record,
    RecordType,
    ReplaceRequested,
)
from switchyard.core.messages import (
    BookDelta,
    BookSnapshot,
    ExecReport,
    MarketData,
    Trade,
    VenueCancel,
    VenueNewOrder,
    VenueReference,
    VenueReplace,
    VenueStatusQuery,
)
from switchyard.core.ports import Clock, VenueTransport
from switchyard.pipeline.sequencer import Outcome, ReportAction, Result, Sequencer
from switchyard.pipeline.state import Order
from switchyard.wal.journal import Journal
from switchyard.wal.payload import encode_payload

from .latency import LatencyRecorder

log = logging.getLogger("switchyard.runtime")

_NS_PER_MS: Final = 1_000_000
_RECONCILE_CHUNK: Final = 1_000  # status queries sent per loop iteration after a reconnect
_FATAL_EXIT_CODE: Final = 70
_OUTCOME_NAMES: Final = {outcome: outcome.name.lower() for outcome in Outcome}

Publisher = Callable[[int, int, Record], None]  # (seq, ts_ns, record) of a durable record
DurableReply = Callable[[], None]


@dataclass(slots=True)
class NodeCounters:
    records: int = 0
    commits: int = 0
    venue_send_refused: int = 0
    orders_sent: int = 0
    reports: int = 0
    reconcile_queries: int = 0


class GatewayNode:
    """See the module docstring. Everything runs on the event loop thread."""

    def __init__(
        self,
        *,
        venue: VenueTransport,
        clock: Clock,
        publish: Publisher,
        on_market_data: Callable[[MarketData], None] | None = None,
    ) -> None:
        # config and collaborators (the sequencer and journal arrive with attach())
        self.sequencer: Sequencer
        self.venue = venue
        self.clock = clock
        self._publish = publish
        self._market_listener = on_market_data
        self.journal: Journal | None = None
        # records appended and not yet durable: (seq, ts_ns, record, t0 mono ns or 0)
        self._undurable: deque[tuple[int, int, Record, int]] = deque()
        self._waiters: dict[int, DurableReply] = {}  # accept seq -> answer to send when durable
        self._commit_scheduled = False
        self._current_t0 = 0  # mono ns of the request being sequenced (for latency)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reconcile_queue: deque[str] = deque()
        self.venue_up = False
        self.accepting = True
        self.recovered_state_hash = ""  # state hash right after WAL replay (set by the app)
        # Called with the new durable seq after each durable batch's effects (e.g. the outbox's
        # wake-up); each must be cheap and must not raise.
        self.durable_listeners: list[Callable[[int], None]] = []
        self.counters = NodeCounters()
        self.order_outcomes: dict[str, int] = {outcome.name.lower(): 0 for outcome in Outcome}
        # latency series
        self.ack_latency = LatencyRecorder(
            "ack", "request complete to fast answer written (server-side ack)"
        )
        self.durable_latency = LatencyRecorder(
            "durable_ack", "request complete to its record durable (fdatasync done)"
        )
        self.wal_enqueue_latency = LatencyRecorder(
            "wal_enqueue", "request complete to its record appended to the WAL buffer"
        )
        self.process_latency = LatencyRecorder(
            "fast_path_process", "sequencer decision + apply + journal append"
        )
        self.fsync_latency = LatencyRecorder("fdatasync", "WAL batch fdatasync duration")
        self.wal_syncs = 0  # writer batches made durable
        self.wal_synced_records = 0  # records they held (syncs / records = batch size)
        self.wal_batch_records_max = 0
        # accept records made durable since start; accepted minus this = backpressure inflight
        self.accepted_durable = 0

    # --- lifecycle ------------------------------------------------------------------------

    def attach(self, sequencer: Sequencer, journal: Journal) -> None:
        """Take the recovered sequencer and its open journal (they must agree on the seq)."""
        assert self.journal is None
        assert journal.appended_seq == sequencer.state.last_seq, (
            journal.appended_seq,
            sequencer.state.last_seq,
        )
        self.sequencer = sequencer
        self.journal = journal
        journal.sync_listener = self.on_synced
        self._loop = asyncio.get_running_loop()

    async def start(self) -> None:
        assert self.journal is not None
        self.venue.set_handlers(self.on_report, self.on_market_data, self.on_connection)
        await self.venue.start()

    @property
    def durable_seq(self) -> int:
        assert self.journal is not None
        return self.journal.durable_seq

    # --- the sink: every record the sequencer makes ------------------------------------------

    def on_record(self, seq: int, ts_ns: int, record: Record) -> None:
        journal = self.journal
        assert journal is not None
        journal.append(seq, record.record_type, ts_ns, encode_payload(record))
        self._undurable.append((seq, ts_ns, record, self._current_t0))
        self.counters.records += 1
        if not self._commit_scheduled:
            self._commit_scheduled = True
            assert self._loop is not None
            self._loop.call_soon(self._commit)

    def _commit(self) -> None:
        """Hand this loop iteration's records to the WAL writer as one group."""
        self._commit_scheduled = False
        journal = self.journal
        assert journal is not None
        if journal.failed is None:
            journal.commit()
            self.counters.commits += 1

    def commit_now(self) -> None:
        if self._commit_scheduled:
            self._commit()

    # --- durability: release effects in seq order --------------------------------------------

    def on_durable(self, durable_seq: int) -> None:
        now_mono = self.clock.mono_ns()
        undurable = self._undurable
        waiters = self._waiters
        record_durable = self.durable_latency.record_ns
        publish = self._publish
        while undurable and undurable[0][0] <= durable_seq:
            seq, ts_ns, record, t0 = undurable.popleft()
            record_type = record.record_type
            if t0 and record_type == RecordType.ORDER_ACCEPTED:
                record_durable(now_mono - t0)
            if waiters:
                reply = waiters.pop(seq, None)
                if reply is not None:
                    reply()
            publish(seq, ts_ns, record)
            if record_type == RecordType.ORDER_ACCEPTED:
                assert isinstance(record, OrderAccepted)
                self.accepted_durable += 1
                self._send_new(record.order_id)
            elif record_type == RecordType.CANCEL_REQUESTED:
                assert isinstance(record, CancelRequested)
                self._send_cancel(record.order_id)
            elif record_type == RecordType.REPLACE_REQUESTED:
                assert isinstance(record, ReplaceRequested)
                self._send_replace(record.order_id, record.new_qty, record.new_price)
        for listener in self.durable_listeners:
            listener(durable_seq)

    def on_synced(self, records: int, sync_ns: int) -> None:
        """One writer batch: its fdatasync time and size (for /stats and /metrics)."""
        self.fsync_latency.record_ns(sync_ns)
        self.wal_syncs += 1
        self.wal_synced_records += records
        if records > self.wal_batch_records_max:
            self.wal_batch_records_max = records

    def on_fatal(self, error: BaseException) -> None:
        """The WAL cannot be trusted any more: stop now, acknowledging nothing else."""
        log.critical(
            "WAL write/fsync failed; stopping without acknowledging seq > %d: %s",
            self.journal.durable_seq if self.journal is not None else -1,
            error,
        )
        sys.stderr.flush()
        os._exit(_FATAL_EXIT_CODE)

    def wait_durable(self, seq: int, reply: DurableReply) -> None:
        """Call `reply` once `seq` is durable (now, if it already is)."""
        if seq <= self.durable_seq:
            reply()
        else:
            self._waiters[seq] = reply

    async def until_durable(self, seq: int) -> None:
        """Return once `seq` is durable (the writer failing stops the process: exit 70)."""
        assert self._loop is not None
        done = self._loop.create_future()

        def reply() -> None:
            if not done.done():
                done.set_result(None)

        self.wait_durable(seq, reply)
        await done

    # --- commands from handlers --------------------------------------------------------------

    def submit_order(
        self,
        *,
        account_id: str,
        idempotency_key: str,
        client_order_id: str,
        symbol: str,
        side: Side,
        order_type: OrderType,
        qty: int,
        price: int,
        time_in_force: TimeInForce,
        expire_at_ms: int,
        post_only: bool,
        origin: str,
        t0_ns: int,
    ) -> Result:
        """Sequence a new order. `t0_ns` is the request's monotonic start (0 if internal)."""
        self._current_t0 = t0_ns
        start = self.clock.mono_ns()
        result = self.sequencer.submit_order(
            account_id=account_id,
            idempotency_key=idempotency_key,
            client_order_id=client_order_id,
            symbol=symbol,
            side=side,
            order_type=order_type,
            qty=qty,
            price=price,
            time_in_force=time_in_force,
            expire_at_ms=expire_at_ms,
            post_only=post_only,
            origin=origin,
            now_ns=self.clock.wall_ns(),
        )
        self._current_t0 = 0
        self.order_outcomes[_OUTCOME_NAMES[result.outcome]] += 1
        if result.seq:
            end = self.clock.mono_ns()
            self.process_latency.record_ns(end - start)
            if t0_ns:
                self.wal_enqueue_latency.record_ns(end - t0_ns)
        return result

    def cancel_order(self, *, account_id: str, order_id: str, reason: Reason) -> Result:
        return self.sequencer.cancel_order(
            account_id=account_id, order_id=order_id, reason=reason, now_ns=self.clock.wall_ns()
        )

    def replace_order(self, *, account_id: str, order_id: str, qty: int, price: int) -> Result:
        return self.sequencer.replace_order(
            account_id=account_id,
            order_id=order_id,
            qty=qty,
            price=price,
            now_ns=self.clock.wall_ns(),
        )

    def set_kill_switch(
        self, *, scope: str, active: bool, cancel_open: bool, actor: str, note: str
    ) -> int:
        return self.sequencer.set_kill_switch(
            scope=scope,
            active=active,
            cancel_open=cancel_open,
            actor=actor,
            note=note,
            now_ns=self.clock.wall_ns(),
        )

    def record_market_event(
        self, *, key: str, price: int, volume: int, account_id: str, reference: bool = True
    ) -> int:
        """Sequence a keyed event; with `reference`, it also moves the venue's reference."""
        seq = self.sequencer.record_market_event(
            key=key,
            price=price,
            volume=volume,
            account_id=account_id,
            now_ns=self.clock.wall_ns(),
        )
        if reference and self.venue_up and key in self.venue.symbols():
            self.venue.send(VenueReference(key, price))
        return seq

    def record_ack_latency(self, t0_ns: int) -> None:
        self.ack_latency.record_ns(self.clock.mono_ns() - t0_ns)

    # --- the venue -------------------------------------------------------------------------

    def _send_new(self, order_id: str) -> None:
        order = self.sequencer.state.orders.get(order_id)
        if order is None or order.status != OrderStatus.ACCEPTED:
            return  # canceled before it could be sent
        sent = self.venue_up and self.venue.send(
            VenueNewOrder(
                order_id=order.order_id,
                account_id=order.account_id,
                symbol=order.symbol,
                side=order.side,
                order_type=order.order_type,
                qty=order.qty,
                price=order.price,
                time_in_force=order.time_in_force,
                expire_at_ns=order.expire_at_ms * _NS_PER_MS,
                post_only=order.post_only,
            )
        )
        now = self.clock.wall_ns()
        if sent:
            self.sequencer.mark_sent(order_id, now)
            self.counters.orders_sent += 1
        else:
            self.counters.venue_send_refused += 1
            self.sequencer.fail_unsent(order_id, Reason.VENUE_UNAVAILABLE, now)

    def _send_cancel(self, order_id: str) -> None:
        order = self.sequencer.state.orders.get(order_id)
        if order is None or order.status != OrderStatus.CANCEL_REQUESTED:
            return
        if not (self.venue_up and self.venue.send(VenueCancel(order_id, order.symbol))):
            # Stays CANCEL_REQUESTED; the reconciliation after the venue returns resends it.
            self.counters.venue_send_refused += 1

    def _send_replace(self, order_id: str, qty: int, price: int) -> None:
        order = self.sequencer.state.orders.get(order_id)
        if order is None or order.pending_replace != (qty, price):
            return
        if not (
            self.venue_up and self.venue.send(VenueReplace(order_id, order.symbol, qty, price))
        ):
            self.counters.venue_send_refused += 1
            self.sequencer.fail_replace(order_id, Reason.VENUE_UNAVAILABLE, self.clock.wall_ns())

    def on_report(self, report: ExecReport) -> None:
        self.counters.reports += 1
        action = self.sequencer.apply_report(report, self.clock.wall_ns())
        if action == ReportAction.SEND_NEW:
            self._send_new(report.order_id)
        elif action == ReportAction.RESEND_CANCEL:
            self._send_cancel(report.order_id)

    def on_market_data(self, data: MarketData) -> None:
        risk = self.sequencer.risk
        if isinstance(data, Trade):
            risk.reference_prices[data.symbol] = data.price
        elif (
            isinstance(data, BookSnapshot | BookDelta) and data.symbol not in risk.reference_prices
        ):
            mid = _mid(self.venue.book(data.symbol, 1))
            if mid:
                risk.reference_prices[data.symbol] = mid
        if self._market_listener is not None:
            self._market_listener(data)

    def on_connection(self, up: bool) -> None:
        self.venue_up = up
        log.info("venue %s", "connected" if up else "disconnected")
        if up:
            self._reconcile_queue.extend(o.order_id for o in self.sequencer.live_orders())
            self._reconcile_step()

    def _reconcile_step(self) -> None:
        """Check live orders with the venue, a chunk per loop iteration (bounded queues)."""
        queue = self._reconcile_queue
        sent = 0
        while queue and sent < _RECONCILE_CHUNK and self.venue_up:
            order = self.sequencer.state.orders.get(queue[0])
            if order is None or order.is_terminal:
                queue.popleft()
                continue
            if order.status == OrderStatus.ACCEPTED:
                if order.accept_seq <= self.durable_seq:
                    self._send_new(order.order_id)
            elif not self.venue.send(VenueStatusQuery(order.order_id, order.symbol)):
                break  # the transport is full: try again shortly
            else:
                self.counters.reconcile_queries += 1
            queue.popleft()
            sent += 1
        if queue and self.venue_up and self._loop is not None:
            delay = 0.0 if sent else 0.05
            self._loop.call_later(delay, self._reconcile_step)

    # --- reads for handlers -----------------------------------------------------------------

    def is_durable(self, order: Order) -> bool:
        return order.accept_seq <= self.durable_seq

    @property
    def undurable_count(self) -> int:
        return len(self._undurable)

    @property
    def accepted_undurable(self) -> int:
        """Orders accepted whose accept record is not durable yet (backpressure's inflight)."""
        return self.order_outcomes["accepted"] - self.accepted_durable

    def oldest_undurable_age_ns(self) -> int:
        journal = self.journal
        if journal is None:
            return 0
        oldest = journal.oldest_pending_ns
        return self.clock.mono_ns() - oldest if oldest else 0

    async def close(self) -> None:
        """Drain: commit what is appended, wait (bounded) for it to be durable, stop the venue."""
        self.accepting = False
        self.commit_now()
        journal = self.journal
        if journal is not None and journal.failed is None:
            for _ in range(500):
                if journal.durable_seq >= journal.appended_seq:
                    break
                await asyncio.sleep(0.01)
        await self.venue.close()


def _mid(book: BookSnapshot | None) -> int:
    if book is None or not book.bids or not book.asks:
        return 0
    return (book.bids[0].price + book.asks[0].price) // 2
