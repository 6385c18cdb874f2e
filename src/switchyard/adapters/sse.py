"""Server-Sent Events: account and order streams of durable WAL records.

`publish()` is called by the runtime for each record once it is durable, in seq order; an
event's `id:` is its WAL seq, so `Last-Event-ID` resumes without gap or duplicate: from an
in-memory ring of recent records, else from the WAL on disk (read in a worker thread while
live events are held back, bounded). Events are encoded only when someone listens.

Each subscriber's buffer is its socket's write buffer, bounded by the HTTP limits: a reader
that falls behind is dropped (counted) and resumes from its last id. Idle streams get a
comment line every heartbeat interval so proxies keep them open.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Final

import orjson

from switchyard.core import limits as L
from switchyard.core.events import OrderAccepted, Record, RecordType

from .http import HTTPProtocol, Request, StreamResponse, error_response
from .http.messages import Response
from .views import EVENT_NAMES, record_view

log = logging.getLogger("switchyard.sse")

RecordEntry = tuple[int, int, Record]  # (seq, ts_ns, record)
DiskReader = Callable[[int, int], Iterator[RecordEntry]]  # (from_seq, to_seq) inclusive

_HEARTBEAT: Final = b": heartbeat\n\n"
_RETRY: Final = b"retry: 1000\n\n"
_ALL_ACCOUNTS: Final = "*"


def encode_event(seq: int, ts_ns: int, record: Record) -> bytes:
    """The SSE frame(s) of one record: its event, plus `order_durable` after an accept."""
    name = EVENT_NAMES[record.record_type][0]
    frame = b"id: %d\nevent: %s\ndata: %s\n\n" % (
        seq,
        name.encode(),
        orjson.dumps(record_view(seq, ts_ns, record)),
    )
    if record.record_type == RecordType.ORDER_ACCEPTED:
        assert isinstance(record, OrderAccepted)
        durable = orjson.dumps({"orderId": record.order_id, "seq": seq, "durable": True})
        # No id: it is a notification about record `seq`, replayed together with it.
        frame += b"event: order_durable\ndata: %s\n\n" % durable
    return frame


class Subscriber:
    __slots__ = ("account_id", "backlog", "catching_up", "last_seq", "order_id", "protocol")

    def __init__(self, account_id: str, order_id: str | None, last_seq: int) -> None:
        self.account_id = account_id  # "*" = every account (operators)
        self.order_id = order_id
        self.last_seq = last_seq  # highest seq written to this subscriber
        self.protocol: HTTPProtocol | None = None
        self.catching_up = False
        self.backlog: list[tuple[int, bytes]] = []  # live frames held during a disk catch-up

    def wants(self, record: Record) -> bool:
        if self.order_id is not None:
            return getattr(record, "order_id", None) == self.order_id
        if self.account_id == _ALL_ACCOUNTS:
            return True
        return getattr(record, "account_id", None) == self.account_id


class SSEHub:
    """Fan-out of durable records to SSE subscribers. Lives on the event loop."""

    def __init__(
        self,
        *,
        disk_reader: DiskReader,
        recent_max: int = L.SSE_RECENT_RECORDS_MAX,
        subscribers_max: int = L.SSE_SUBSCRIBERS_MAX,
        backlog_max: int = L.SSE_SUBSCRIBER_BUFFER_MAX_EVENTS,
        heartbeat_s: float = L.SSE_HEARTBEAT_S,
    ) -> None:
        self._disk_reader = disk_reader
        self._recent: deque[RecordEntry] = deque(maxlen=recent_max)  # a cache: dropping is fine
        self._subscribers_max = subscribers_max
        self._backlog_max = backlog_max
        self._heartbeat_s = heartbeat_s
        self._by_account: dict[str, set[Subscriber]] = {}
        self._by_order: dict[str, set[Subscriber]] = {}
        self._all: set[Subscriber] = set()
        self._heartbeat: asyncio.TimerHandle | None = None
        self.last_published = 0  # the highest durable seq published
        self.counters = {"published": 0, "dropped_slow": 0, "resumed_from_disk": 0, "refused": 0}

    # --- lifecycle -----------------------------------------------------------------------

    def start(self, last_durable_seq: int) -> None:
        self.last_published = last_durable_seq
        loop = asyncio.get_running_loop()

        def beat() -> None:
            for subscriber in list(self._all):
                if subscriber.protocol is not None and not subscriber.catching_up:
                    self._write(subscriber, _HEARTBEAT)
            self._heartbeat = loop.call_later(self._heartbeat_s, beat)

        self._heartbeat = loop.call_later(self._heartbeat_s, beat)

    def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        for subscriber in list(self._all):
            if subscriber.protocol is not None:
                subscriber.protocol.close()

    @property
    def subscriber_count(self) -> int:
        return len(self._all)

    # --- publishing ------------------------------------------------------------------------

    def publish(self, seq: int, ts_ns: int, record: Record) -> None:
        """A durable record, in seq order."""
        assert seq > self.last_published, (seq, self.last_published)
        self.last_published = seq
        self._recent.append((seq, ts_ns, record))
        if not self._all:
            return
        targets = self._targets(record)
        if not targets:
            return
        frame = encode_event(seq, ts_ns, record)
        self.counters["published"] += 1
        for subscriber in targets:
            if subscriber.catching_up:
                if len(subscriber.backlog) >= self._backlog_max:
                    self._drop(subscriber)
                else:
                    subscriber.backlog.append((seq, frame))
            elif seq > subscriber.last_seq:
                subscriber.last_seq = seq
                self._write(subscriber, frame)

    def _targets(self, record: Record) -> list[Subscriber]:
        targets: list[Subscriber] = []
        account_id = getattr(record, "account_id", None)
        if account_id is not None:
            subs = self._by_account.get(account_id)
            if subs:
                targets.extend(subs)
        subs = self._by_account.get(_ALL_ACCOUNTS)
        if subs:
            targets.extend(subs)
        order_id = getattr(record, "order_id", None)
        if order_id is not None:
            subs = self._by_order.get(order_id)
            if subs:
                targets.extend(subs)
        return targets

    # --- subscribing ------------------------------------------------------------------------

    def subscribe(
        self, request: Request, *, account_id: str, order_id: str | None, from_seq: int
    ) -> StreamResponse | Response:
        """A stream of the records after `from_seq` (exclusive) that the subscriber may see."""
        if len(self._all) >= self._subscribers_max:
            self.counters["refused"] += 1
            return error_response(
                503,
                "TOO_MANY_STREAMS",
                f"{len(self._all)} streams open; the limit is {self._subscribers_max}",
                headers=((b"retry-after", b"5"),),
            )
        subscriber = Subscriber(account_id, order_id, min(from_seq, self.last_published))

        def start(protocol: HTTPProtocol) -> None:
            subscriber.protocol = protocol
            self._register(subscriber)
            protocol.write_stream(_RETRY)
            self._catch_up(subscriber)

        def on_close() -> None:
            self._unregister(subscriber)

        return StreamResponse(start, on_close)

    def _register(self, subscriber: Subscriber) -> None:
        self._all.add(subscriber)
        if subscriber.order_id is not None:
            self._by_order.setdefault(subscriber.order_id, set()).add(subscriber)
        else:
            self._by_account.setdefault(subscriber.account_id, set()).add(subscriber)

    def _unregister(self, subscriber: Subscriber) -> None:
        self._all.discard(subscriber)
        index = self._by_order if subscriber.order_id is not None else self._by_account
        key = subscriber.order_id if subscriber.order_id is not None else subscriber.account_id
        subs = index.get(key)
        if subs is not None:
            subs.discard(subscriber)
            if not subs:
                del index[key]
        subscriber.protocol = None

    def _catch_up(self, subscriber: Subscriber) -> None:
        after = subscriber.last_seq
        if after >= self.last_published:
            return
        recent = self._recent
        if recent and recent[0][0] <= after + 1:
            self._write_entries(subscriber, _after(recent, after))
            return
        # Older than the ring: read the gap from disk off the loop, holding live events back.
        subscriber.catching_up = True
        self.counters["resumed_from_disk"] += 1
        first_in_ring = recent[0][0] if recent else self.last_published + 1
        to_seq = first_in_ring - 1
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(None, self._read_disk, subscriber, after + 1, to_seq)
        future.add_done_callback(lambda done: self._caught_up(subscriber, done, to_seq))

    def _read_disk(self, subscriber: Subscriber, from_seq: int, to_seq: int) -> list[RecordEntry]:
        return [e for e in self._disk_reader(from_seq, to_seq) if subscriber.wants(e[2])]

    def _caught_up(
        self, subscriber: Subscriber, done: asyncio.Future[list[RecordEntry]], to_seq: int
    ) -> None:
        if subscriber.protocol is None:
            return  # went away meanwhile
        try:
            entries = done.result()
        except Exception:  # an edge: one resume failing must not hurt the others
            log.exception("sse resume from disk failed after=%d", subscriber.last_seq)
            self._drop(subscriber)
            return
        subscriber.catching_up = False
        self._write_entries(subscriber, entries)
        self._write_entries(subscriber, _after(self._recent, max(subscriber.last_seq, to_seq)))
        backlog, subscriber.backlog = subscriber.backlog, []
        for seq, frame in backlog:
            if seq > subscriber.last_seq and subscriber.protocol is not None:
                subscriber.last_seq = seq
                self._write(subscriber, frame)

    def _write_entries(self, subscriber: Subscriber, entries: Iterable[RecordEntry]) -> None:
        for seq, ts_ns, record in entries:
            if subscriber.protocol is None:
                return
            if seq <= subscriber.last_seq or not subscriber.wants(record):
                continue
            subscriber.last_seq = seq
            self._write(subscriber, encode_event(seq, ts_ns, record))

    def _write(self, subscriber: Subscriber, frame: bytes) -> None:
        protocol = subscriber.protocol
        if protocol is None:
            return
        if not protocol.write_stream(frame):
            self._drop(subscriber)

    def _drop(self, subscriber: Subscriber) -> None:
        """A subscriber fell behind its bound: close it; it resumes from its Last-Event-ID."""
        self.counters["dropped_slow"] += 1
        protocol = subscriber.protocol
        self._unregister(subscriber)
        if protocol is not None:
            protocol.close()


def _after(recent: deque[RecordEntry], seq: int) -> Iterator[RecordEntry]:
    """Entries of the ring with a seq above `seq` (the ring is in seq order)."""
    if not recent or recent[-1][0] <= seq:
        return iter(())
    start = seq + 1 - recent[0][0]
    if start <= 0:
        return iter(recent)
    return islice(recent, start, None)


def last_event_id(request: Request) -> int | None:
    """Resume point from `Last-Event-ID` (or `?lastEventId=`); None when absent."""
    raw = request.header(b"last-event-id")
    if raw is None:
        value = request.query_params().get("lastEventId")
        raw = value.encode() if value is not None else None
    if raw is None:
        return None
    text = raw.strip()
    if not text.isdigit() or len(text) > 19:
        raise ValueError("Last-Event-ID must be a WAL seq (a non-negative integer)")
    return int(text)
