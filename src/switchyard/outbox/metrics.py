"""Prometheus view of the outbox: reads its plain int counters at scrape time.

Names: the seed's `gateway_outbox_*` and `gateway_kafka_*` (so its runbook and alerts keep
working) plus `switchyard_outbox_*` with units (lag in records and seconds, acknowledged seq,
offset writes). Nothing here runs on the publishing path.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from .publisher import Outbox


class OutboxCollector(Collector):
    """Register with `registry.register(OutboxCollector(outbox))`."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def collect(self) -> Iterator[Metric]:
        yield from self._seed_names()
        yield from self._switchyard_names()

    def _seed_names(self) -> Iterator[Metric]:
        o = self.outbox
        yield _gauge("gateway_kafka_enabled", "1 when the outbox publishes to Kafka", 1)
        yield _counter(
            "gateway_kafka_publish_queued", "records handed to the producer", o.publish_queued
        )
        yield _counter("gateway_kafka_delivery_ok", "records proven delivered", o.delivery_ok)
        yield _counter("gateway_kafka_delivery_err", "failed delivery reports", o.delivery_errors)
        yield _counter("gateway_outbox_records_read", "WAL records read", o.records_read)
        yield _counter(
            "gateway_outbox_events_published",
            "records acknowledged in seq order (the watermark moved over them)",
            o.events_published,
        )
        yield _counter("gateway_outbox_read_errors", "WAL read or decode failures", o.read_errors)
        yield _counter(
            "gateway_outbox_publish_errors",
            "publishing failures (each causes a retry)",
            o.publish_errors,
        )
        yield _counter(
            "gateway_outbox_offset_resets",
            "offset files unusable (corrupt, other WAL, ahead of the WAL)",
            o.offset_resets,
        )
        settings = o.settings
        yield _gauge(
            "gateway_outbox_backoff_base_ms", "first retry delay", settings.backoff_base_ms
        )
        yield _gauge(
            "gateway_outbox_backoff_max_ms", "largest retry delay", settings.backoff_max_ms
        )
        yield _gauge(
            "gateway_outbox_backoff_current_ms", "current retry delay", o.backoff_current_ms
        )

    def _switchyard_names(self) -> Iterator[Metric]:
        o = self.outbox
        yield _gauge(
            "switchyard_outbox_acked_seq",
            "highest seq acknowledged with all before it",
            o.acked_seq,
        )
        yield _gauge(
            "switchyard_outbox_lag_records", "durable records not yet acknowledged", o.lag_records()
        )
        yield _gauge(
            "switchyard_outbox_lag_seconds",
            "age of the oldest unacknowledged record",
            o.lag_seconds(),
        )
        yield _gauge(
            "switchyard_outbox_inflight_records",
            "records sent, not yet acknowledged",
            o.inflight_records(),
        )
        yield _counter(
            "switchyard_outbox_offset_writes", "offset file writes (fsynced)", o.offset_writes
        )
        yield _counter(
            "switchyard_outbox_offset_write_seconds",
            "time spent writing the offset file",
            o.offset_write_seconds,
        )
        yield _counter(
            "switchyard_outbox_native_verify_overruled",
            "WAL batches the native codec refused and the reference parser accepted (should be 0)",
            o.native_verify_overruled(),
        )
        yield _counter(
            "switchyard_outbox_producer_restarts",
            "producers created (first one included)",
            o.producer_restarts,
        )
        up = GaugeMetricFamily(
            "switchyard_outbox_state", "1 for the current state", labels=["state"]
        )
        for state in type(o.state):
            up.add_metric([state.value], 1.0 if state is o.state else 0.0)
        yield up


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)
