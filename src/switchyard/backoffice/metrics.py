"""Prometheus view of the back office: counters of the apply loop, backlog and watermarks.

Read at scrape time from plain counters (ConsumerStats) and two small database queries
(parked / quarantined counts, per-source watermarks). The seed's back office exported none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc

from switchyard.core.ports import Clock

from . import queries
from .consumer import ConsumerStats

if TYPE_CHECKING:
    from prometheus_client.core import Metric


class BackofficeCollector(Collector):
    def __init__(self, stats: Callable[[], ConsumerStats], engine: Engine, clock: Clock) -> None:
        self._stats = stats
        self._engine = engine
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        stats = self._stats()
        events = CounterMetricFamily(
            "switchyard_backoffice_events",
            "events taken from the source, by outcome",
            labels=["outcome"],
        )
        for outcome, value in (
            ("applied", stats.applied),
            ("parked", stats.parked),
            ("released", stats.released),
            ("recorded", stats.recorded),
            ("quarantined", stats.quarantined),
            ("duplicate", stats.duplicates),
        ):
            events.add_metric([outcome], value)
        yield events
        yield CounterMetricFamily(
            "switchyard_backoffice_batches", "database transactions committed", value=stats.batches
        )
        yield CounterMetricFamily(
            "switchyard_backoffice_batch_seconds",
            "time spent applying batches (sum)",
            value=stats.batch_seconds_total,
        )
        yield CounterMetricFamily(
            "switchyard_backoffice_db_errors",
            "failed batch transactions (retried)",
            value=stats.db_errors,
        )
        yield CounterMetricFamily(
            "switchyard_backoffice_refolds",
            "positions re-folded after a late fill",
            value=stats.refolds,
        )
        yield GaugeMetricFamily(
            "switchyard_backoffice_lag_records",
            "events at the source not yet applied",
            value=stats.lag_records,
        )
        now = self._clock.wall_ns()
        lag_s = (now - stats.last_occurred_at_ns) / 1e9 if stats.lag_records else 0.0
        yield GaugeMetricFamily(
            "switchyard_backoffice_lag_seconds",
            "age of the newest applied event while behind",
            value=lag_s,
        )
        yield GaugeMetricFamily(
            "switchyard_backoffice_up",
            "1 while the apply loop runs",
            value=1.0 if stats.running else 0.0,
        )
        yield from self._from_database()

    def _from_database(self) -> Iterator[Metric]:
        try:
            with self._engine.connect() as connection:
                backlog = queries.backlog(connection)
                sources = queries.source_watermarks(connection)
        except sa_exc.SQLAlchemyError:
            return
        yield GaugeMetricFamily(
            "switchyard_backoffice_parked_events",
            "events waiting for their order",
            value=backlog["parked"],
        )
        yield GaugeMetricFamily(
            "switchyard_backoffice_quarantined_events",
            "events that could not be applied",
            value=backlog["quarantined"],
        )
        through = GaugeMetricFamily(
            "switchyard_backoffice_applied_through_seq",
            "highest seq applied with every seq before it, per source",
            labels=["source"],
        )
        for source, marks in sources.items():
            through.add_metric([source], marks["appliedThroughSeq"])
        yield through
