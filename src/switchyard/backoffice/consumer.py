"""The back office's apply loop: poll a batch, apply it in one transaction, then acknowledge.

Runs in its own thread (the database driver and the Kafka client block). Order of effects
per batch: source.poll -> Store.apply_batch (dedupe keys + effects + WAL cursor, one
transaction) -> source.commit (Kafka offsets). A database error rolls the transaction back,
rewinds the source and retries after a bounded, growing delay: no event is skipped. An
unexpected exception is logged, counted and handed to `on_fatal` (the service stops): the
loop never dies silently (the seed's consumer thread did).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import exc as sa_exc

from switchyard.core.ports import Clock

from .sources import Delivery, EventSource
from .store import BatchResult, Store

log = logging.getLogger("switchyard.backoffice")

RETRY_DELAY_MIN_S = 0.05
RETRY_DELAY_MAX_S = 5.0
POLL_TIMEOUT_S = 0.05  # how long an idle poll waits for the first event
LAG_CHECK_INTERVAL_NS = 500_000_000  # how often the source is asked for its backlog


@dataclass
class ConsumerStats:
    """Plain counters, read by /health, /stats and the metrics collector."""

    batches: int = 0
    events: int = 0
    applied: int = 0
    parked: int = 0
    released: int = 0
    recorded: int = 0
    quarantined: int = 0
    duplicates: int = 0
    refolds: int = 0
    db_errors: int = 0
    batch_seconds_total: float = 0.0
    last_batch_at_ns: int = 0
    last_occurred_at_ns: int = 0  # newest event time applied: lag = now - this
    lag_records: int = 0  # events the source holds that are not applied yet
    last_error: str = ""
    running: bool = False
    failed: bool = False


class ApplyLoop:
    """Feeds `store` from `source_factory()` until `stop()`."""

    def __init__(
        self,
        store: Store,
        source_factory: Callable[[], EventSource],
        *,
        clock: Clock,
        batch_max: int,
        on_fatal: Callable[[BaseException], None] | None = None,
        on_committed: Callable[[list[Delivery], BatchResult, int], None] | None = None,
    ) -> None:
        self.store = store
        self._source_factory = source_factory
        self._clock = clock
        self.batch_max = batch_max
        self._on_fatal = on_fatal
        self._on_committed = on_committed
        self.stats = ConsumerStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.source: EventSource | None = None
        self._lag_checked_ns = 0

    def start(self) -> None:
        assert self._thread is None, "started twice"
        self._thread = threading.Thread(target=self._run, name="backoffice-apply", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        self.stats.running = True
        try:
            self.source = self._source_factory()
            try:
                while not self._stop.is_set():
                    self.run_once()
            finally:
                self.source.close()
        except BaseException as error:
            self.stats.failed = True
            self.stats.last_error = f"{type(error).__name__}: {error}"
            log.exception("event=backoffice_apply_failed error=%s", self.stats.last_error)
            if self._on_fatal is not None:
                self._on_fatal(error)
        finally:
            self.stats.running = False

    def run_once(self) -> int:
        """Poll and apply one batch; the number of events applied (0 when idle or retrying)."""
        source = self.source
        assert source is not None
        deliveries = source.poll(self.batch_max, POLL_TIMEOUT_S)
        now = self._clock.mono_ns()
        if now - self._lag_checked_ns > LAG_CHECK_INTERVAL_NS:
            self._lag_checked_ns = now
            self.stats.lag_records = source.lag_records() + len(deliveries)
        if not deliveries:
            return 0
        delay = RETRY_DELAY_MIN_S
        while True:
            try:
                result = self.store.apply_batch(
                    [(d.raw, d.position) for d in deliveries],
                    now_ns=self._clock.wall_ns(),
                    wal_cursor=source.cursor(),
                )
                break
            except (sa_exc.OperationalError, sa_exc.IntegrityError, sa_exc.InterfaceError) as error:
                # Database away, deadlock, or another member applied the same events first.
                self.stats.db_errors += 1
                self.stats.last_error = f"{type(error).__name__}: {error}"[:500]
                log.warning("event=backoffice_batch_failed retry_in_s=%.2f error=%s", delay, error)
                if self._stop.wait(delay):
                    source.rewind()
                    return 0
                delay = min(delay * 2, RETRY_DELAY_MAX_S)
        source.commit()
        committed_ns = self._clock.wall_ns()
        self._count(result, committed_ns)
        if self._on_committed is not None:
            self._on_committed(deliveries, result, committed_ns)
        return len(deliveries)

    def _count(self, result: BatchResult, committed_ns: int) -> None:
        stats, counts = self.stats, result.counts
        stats.batches += 1
        stats.events += result.events
        stats.applied += counts.applied
        stats.parked += counts.parked
        stats.released += counts.released
        stats.recorded += counts.recorded
        stats.quarantined += counts.quarantined
        stats.duplicates += counts.duplicates
        stats.refolds += counts.refolds
        stats.batch_seconds_total += result.seconds
        stats.last_batch_at_ns = committed_ns
        stats.last_occurred_at_ns = max(stats.last_occurred_at_ns, counts.last_occurred_ns)
