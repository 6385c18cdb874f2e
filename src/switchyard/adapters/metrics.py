"""Prometheus exposition for the gateway: one collector that reads plain counters at scrape time.

Nothing on the hot path touches prometheus_client: the runtime counts in ints and records
latency in LatencyRecorders; `collect()` turns them into metric families. Conventional names
(`switchyard_<subsystem>_<what>_<unit>`, counters `_total`, latencies as histograms in
seconds) come first; the seed's documented names (`gateway_ack_p99_us`,
`fast_path_process_latency_p99_microseconds`, ...) are exported as aliases so existing
dashboards and scripts keep working. Other components register their own collectors on the
same registry (`registry.register(...)`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from switchyard.runtime.latency import LatencyRecorder

from .api_common import GatewayContext
from .http import ServerState


def new_registry() -> CollectorRegistry:
    """A registry with the process and Python collectors (the seed's jvm_* equivalents)."""
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def histogram(name: str, documentation: str, recorder: LatencyRecorder) -> HistogramMetricFamily:
    return HistogramMetricFamily(
        name,
        documentation,
        buckets=recorder.cumulative_buckets(),
        sum_value=recorder.sum_ns / 1e9,
    )


def gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


def percentile_aliases(prefix: str, suffix: str, recorder: LatencyRecorder) -> Iterator[Metric]:
    """The seed's percentile gauges, e.g. gateway_ack_p99_us (computed at scrape time)."""
    values = recorder.percentiles_us()
    for key, label in (("p50", "p50"), ("p99", "p99"), ("p999", "p999")):
        yield gauge(
            f"{prefix}_{label}_{suffix}",
            f"{recorder.description}, {label} in microseconds (seed name)",
            values[key],
        )


class GatewayCollector(Collector):
    """Reads the gateway's counters when Prometheus scrapes."""

    def __init__(self, ctx: GatewayContext, http: ServerState) -> None:
        self._ctx = ctx
        self._http = http

    def collect(self) -> Iterator[Metric]:
        yield from self._latencies()
        yield from self._orders()
        yield from self._wal()
        yield from self._venue()
        yield from self._edges()

    def _latencies(self) -> Iterator[Metric]:
        node = self._ctx.node
        series: list[tuple[str, str, LatencyRecorder, str, str]] = [
            (
                "switchyard_ack_latency_seconds",
                "Request complete to fast answer (server ack)",
                node.ack_latency,
                "gateway_ack",
                "us",
            ),
            (
                "switchyard_durable_ack_latency_seconds",
                "Request complete to its accept record durable",
                node.durable_latency,
                "gateway_durable_ack",
                "us",
            ),
            (
                "switchyard_wal_enqueue_latency_seconds",
                "Request complete to record appended to the WAL buffer",
                node.wal_enqueue_latency,
                "gateway_wal_enqueue",
                "us",
            ),
            (
                "switchyard_fast_path_process_seconds",
                "Sequencer decision, apply and journal append",
                node.process_latency,
                "gateway_fast_path_processing",
                "us",
            ),
        ]
        series.append(
            (
                "switchyard_wal_fsync_seconds",
                "WAL batch fdatasync duration (one per writer batch)",
                node.fsync_latency,
                "gateway_fdatasync",
                "us",
            )
        )
        for name, doc, recorder, alias, suffix in series:
            yield histogram(name, doc, recorder)
            yield from percentile_aliases(alias, suffix, recorder)
        yield from percentile_aliases(
            "fast_path_process_latency", "microseconds", node.process_latency
        )

    def _orders(self) -> Iterator[Metric]:
        node = self._ctx.node
        state = node.sequencer.state
        outcomes = CounterMetricFamily(
            "switchyard_orders_total", "Order submissions by outcome", labels=["result"]
        )
        for result, value in sorted(node.order_outcomes.items()):
            outcomes.add_metric([result], value)
        yield outcomes
        yield counter(
            "fast_path_events_total", "Accepted orders (seed name)", node.order_outcomes["accepted"]
        )
        yield gauge("switchyard_orders_open", "Live (non-terminal) orders", state.open_count)
        yield gauge("switchyard_orders_retained", "Orders held in memory", len(state.orders))
        yield counter(
            "switchyard_orders_evicted_total",
            "Terminal orders forgotten from memory (WAL keeps them)",
            state.evicted_orders,
        )
        yield gauge(
            "switchyard_idempotency_entries", "Idempotency keys remembered", len(state.idempotency)
        )
        yield counter(
            "switchyard_idempotency_expired_total",
            "Idempotency keys expired by TTL",
            state.idempotency_expired,
        )
        yield counter(
            "switchyard_idempotency_evicted_total",
            "Idempotency keys dropped early at the capacity bound",
            state.idempotency_evicted,
        )
        yield counter(
            "gateway_idempotency_expired_total",
            "Idempotency keys expired (seed name)",
            state.idempotency_expired,
        )
        for name, value in node.sequencer.counters.items():
            yield counter(
                f"switchyard_sequencer_{name}_total", f"Sequencer: {name.replace('_', ' ')}", value
            )
        yield gauge(
            "switchyard_kill_switch_global",
            "1 when the global kill switch is on",
            int(state.killed_global),
        )
        yield gauge(
            "switchyard_kill_switch_accounts",
            "Accounts with the kill switch on",
            len(state.killed_accounts),
        )

    def _wal(self) -> Iterator[Metric]:
        node = self._ctx.node
        journal = node.journal
        if journal is None:
            return
        yield gauge(
            "switchyard_wal_appended_seq", "Last seq appended to the WAL", journal.appended_seq
        )
        yield gauge("switchyard_wal_durable_seq", "Last seq fsynced (durable)", journal.durable_seq)
        yield counter(
            "switchyard_wal_records_total", "Records appended since start", node.counters.records
        )
        yield counter(
            "switchyard_wal_commits_total",
            "Group hand-offs to the WAL writer",
            node.counters.commits,
        )
        yield gauge(
            "switchyard_wal_pending_bytes",
            "Bytes appended and not yet durable",
            journal.pending_bytes,
        )
        age_s = node.oldest_undurable_age_ns() / 1e9
        yield gauge(
            "switchyard_wal_oldest_pending_age_seconds",
            "Age of the oldest non-durable record",
            age_s,
        )
        yield gauge(
            "gateway_wal_age_ms",
            "Age of the oldest non-durable record in ms (seed name)",
            age_s * 1000,
        )
        yield gauge(
            "switchyard_wal_undurable_records", "Records waiting for fsync", node.undurable_count
        )
        yield gauge(
            "gateway_inflight", "Records waiting for fsync (seed name)", node.undurable_count
        )
        yield gauge(
            "switchyard_wal_disk_full",
            "1 while the WAL waits for disk space",
            int(journal.disk_full),
        )
        yield counter(
            "switchyard_wal_bytes_total",
            "Record bytes (framed, with checksum and chain hash) written to the WAL",
            journal.bytes_committed_total,
        )
        yield counter(
            "switchyard_wal_syncs_total",
            "Writer batches made durable (one fdatasync each)",
            node.wal_syncs,
        )
        yield counter(
            "switchyard_wal_synced_records_total",
            "Records made durable (divided by syncs: the mean batch size)",
            node.wal_synced_records,
        )
        yield gauge(
            "switchyard_wal_batch_records_max",
            "Largest writer batch so far, in records",
            node.wal_batch_records_max,
        )

    def _venue(self) -> Iterator[Metric]:
        node = self._ctx.node
        yield gauge("switchyard_venue_up", "1 when the venue is connected", int(node.venue_up))
        yield gauge(
            "switchyard_venue_queue_depth",
            "Requests queued for the venue",
            node.venue.queue_depth(),
        )
        yield gauge(
            "gateway_queue_len",
            "Requests queued for the venue (seed name)",
            node.venue.queue_depth(),
        )
        yield counter(
            "switchyard_venue_orders_sent_total",
            "Orders handed to the venue",
            node.counters.orders_sent,
        )
        yield counter(
            "switchyard_venue_reports_total", "Execution reports received", node.counters.reports
        )
        yield counter(
            "switchyard_venue_send_refused_total",
            "Venue sends refused (down or queue full)",
            node.counters.venue_send_refused,
        )
        yield counter(
            "switchyard_venue_reconcile_queries_total",
            "Status queries after a (re)connect",
            node.counters.reconcile_queries,
        )

    def _edges(self) -> Iterator[Metric]:
        http = self._http
        counters = http.counters
        yield gauge("switchyard_http_connections", "Open HTTP connections", len(http.connections))
        yield counter(
            "switchyard_http_requests_total", "HTTP requests parsed", counters["requests"]
        )
        yield counter(
            "gateway_http_requests_total", "HTTP requests parsed (seed name)", counters["requests"]
        )
        refused = CounterMetricFamily(
            "switchyard_http_refused_total", "Requests refused by the HTTP layer", labels=["status"]
        )
        for key, value in sorted(counters.items()):
            if key.startswith("refused_"):
                refused.add_metric([key.removeprefix("refused_")], value)
        yield refused
        yield counter(
            "switchyard_http_connections_refused_total",
            "Connections refused at the cap",
            counters["connections_refused"],
        )
        yield counter(
            "switchyard_http_timeouts_total",
            "Slow heads/bodies cut off (408)",
            counters["timeouts"],
        )
        yield counter(
            "switchyard_http_handler_errors_total",
            "Handlers that failed (500)",
            counters["handler_errors"],
        )
        auth = self._ctx.auth
        yield counter(
            "switchyard_auth_verified_total",
            "Tokens verified by PyJWT (cache misses)",
            auth.verified_total,
        )
        yield counter(
            "switchyard_auth_refused_total", "Requests refused by auth (401)", auth.refused_total
        )
        yield counter(
            "gateway_http_unauthorized_total",
            "Requests refused by auth (seed name)",
            auth.refused_total,
        )
        sse = self._ctx.sse
        yield gauge("switchyard_sse_subscribers", "Open SSE streams", sse.subscriber_count)
        for name, value in sse.counters.items():
            yield counter(f"switchyard_sse_{name}_total", f"SSE: {name.replace('_', ' ')}", value)


def register_gauge_fn(
    registry: CollectorRegistry, name: str, doc: str, fn: Callable[[], float]
) -> None:
    """A one-off gauge computed at scrape time."""

    class _Fn(Collector):
        def collect(self) -> Iterator[Metric]:
            yield gauge(name, doc, fn())

    registry.register(_Fn())
