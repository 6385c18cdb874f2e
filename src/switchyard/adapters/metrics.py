"""Prometheus exposition for the gateway: one collector that reads plain counters at scrape time.

Nothing on the hot path touches prometheus_client: the runtime counts in ints and records
latency in LatencyRecorders; `collect()` turns them into metric families. Conventional names
(`switchyard_<subsystem>_<what>_<unit>`, counters `_total`, latencies as histograms in
seconds) come first; the seed's documented names (`gateway_ack_p99_us`,
`fast_path_process_latency_p99_microseconds`, ...) are exported as aliases so existing
dashboards and scripts keep working. Other components register their own collectors on the
same registry (`registry.register(...)`).

Scrape cost matters because `collect()` runs on the event loop: each latency recorder is
summed once per scrape (`itertools.accumulate`, in C) and that one running total gives both
the Prometheus buckets and the seed's percentile gauges (walking the ~4,400 slots in Python
for each cost ~0.3 ms per recorder). The catalogue of every name is docs/METRICS.md.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from switchyard.runtime.latency import BUCKETS_S, LatencyRecorder, bucket_highest, bucket_index

from .api_common import GatewayContext
from .http import ServerState


def new_registry() -> CollectorRegistry:
    """A registry with the process and Python collectors (the seed's jvm_* equivalents)."""
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


# Statuses the HTTP layer refuses with (adapters/http/protocol.py), exported from the start:
# a labelled counter that appears only with its first refusal hides that refusal from rate().
_REFUSED_STATUSES: Final = ("400", "408", "413", "414", "417", "431")
_RESPONSE_CODES: Final = (200, 202, 400, 401, 403, 404, 405, 408, 409, 413, 415, 422, 429, 500, 503)
_SEED_PERCENTILES: Final = (("p50", 50.0), ("p99", 99.0), ("p999", 99.9))


def _end_slot(bound_ns: int) -> int:
    """One past the last recorder slot whose values are all <= bound_ns."""
    index = bucket_index(bound_ns)
    return index + 1 if bucket_highest(index) <= bound_ns else index


# Bucket bounds (seconds) as recorder slots, computed once: a scrape only indexes.
_BUCKET_ENDS: Final = tuple(_end_slot(int(bound * 1e9)) for bound in BUCKETS_S)


class RecorderView:
    """One scrape's view of a LatencyRecorder: cumulative counts at each bucket bound.

    Buckets are sums of slot slices (C speed); a percentile first finds its bucket in those
    totals, then walks only that bucket's slots, so nothing visits all ~4,400 slots.
    """

    __slots__ = ("bucket_running", "count", "counts", "max_ns", "sum_ns")

    def __init__(self, recorder: LatencyRecorder) -> None:
        counts = recorder.counts
        running = 0
        start = 0
        bucket_running: list[int] = []
        for end in _BUCKET_ENDS:
            running += sum(counts[start:end])
            start = end
            bucket_running.append(running)
        self.bucket_running = bucket_running
        self.counts = counts
        self.count = recorder.count
        self.sum_ns = recorder.sum_ns
        self.max_ns = recorder.max_ns

    def cumulative_buckets(self) -> list[tuple[str, float]]:
        """Prometheus buckets: (upper bound in seconds as text, cumulative count)."""
        buckets: list[tuple[str, float]] = [
            (repr(bound), running)
            for bound, running in zip(BUCKETS_S, self.bucket_running, strict=True)
        ]
        buckets.append(("+Inf", self.count))
        return buckets

    def percentile_us(self, percentile: float) -> float:
        """As LatencyRecorder.percentiles_us: the highest value of the percentile's slot."""
        if self.count == 0:
            return 0.0
        wanted = max(1, -(-self.count * percentile // 100))  # ceil
        bucket = bisect_left(self.bucket_running, wanted)
        running = self.bucket_running[bucket - 1] if bucket else 0
        start = _BUCKET_ENDS[bucket - 1] if bucket else 0
        end = _BUCKET_ENDS[bucket] if bucket < len(_BUCKET_ENDS) else len(self.counts)
        counts = self.counts
        index = start
        for index in range(start, end):
            running += counts[index]
            if running >= wanted:
                break
        return round(min(bucket_highest(index), self.max_ns) / 1000, 3)


def histogram(name: str, documentation: str, view: RecorderView) -> HistogramMetricFamily:
    """A latency histogram in seconds (for histogram_quantile)."""
    return HistogramMetricFamily(
        name,
        documentation,
        buckets=view.cumulative_buckets(),
        sum_value=view.sum_ns / 1e9,
    )


def gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    """A gauge family with one unlabelled sample."""
    return GaugeMetricFamily(name, documentation, value=value)


def counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    """A counter family with one unlabelled sample (exposed as `<name>` ending `_total`)."""
    return CounterMetricFamily(name, documentation, value=value)


def percentile_aliases(
    prefix: str, suffix: str, description: str, view: RecorderView
) -> Iterator[Metric]:
    """The seed's percentile gauges, e.g. gateway_ack_p99_us (computed at scrape time)."""
    for label, percentile in _SEED_PERCENTILES:
        yield gauge(
            f"{prefix}_{label}_{suffix}",
            f"{description}, {label} in microseconds since start (seed name)",
            view.percentile_us(percentile),
        )


def process_threads() -> int:
    """OS threads of this process (Linux /proc; 0 where it does not exist)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0


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
        series: tuple[tuple[str, str, LatencyRecorder, tuple[str, ...]], ...] = (
            (
                "switchyard_ack_latency_seconds",
                "Request complete to fast answer (server ack)",
                node.ack_latency,
                ("gateway_ack",),
            ),
            (
                "switchyard_durable_ack_latency_seconds",
                "Request complete to its accept record durable",
                node.durable_latency,
                ("gateway_durable_ack",),
            ),
            (
                "switchyard_wal_enqueue_latency_seconds",
                "Request complete to record appended to the WAL buffer",
                node.wal_enqueue_latency,
                ("gateway_wal_enqueue",),
            ),
            (
                "switchyard_fast_path_process_seconds",
                "Sequencer decision, apply and journal append",
                node.process_latency,
                ("gateway_fast_path_processing",),
            ),
            (
                "switchyard_wal_fsync_seconds",
                "WAL batch fdatasync duration (one per writer batch)",
                node.fsync_latency,
                ("gateway_fdatasync",),
            ),
        )
        views: dict[str, RecorderView] = {}
        for name, doc, recorder, aliases in series:
            view = views[name] = RecorderView(recorder)
            yield histogram(name, doc, view)
            for alias in aliases:
                yield from percentile_aliases(alias, "us", doc, view)
        process = views["switchyard_fast_path_process_seconds"]
        yield from percentile_aliases(
            "fast_path_process_latency", "microseconds", "Sequencer processing", process
        )
        yield gauge(
            "persistence_queue_write_latency_p99_microseconds",
            "WAL batch fdatasync p99 in microseconds since start (seed name)",
            views["switchyard_wal_fsync_seconds"].percentile_us(99.0),
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
        yield counter(
            "fast_path_drops_total",
            "Orders refused before sequencing for capacity, 503 (seed name; nothing is dropped "
            "silently)",
            node.order_outcomes["capacity"],
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
            "persistence_queue_lag", "Records waiting for fsync (seed name)", node.undurable_count
        )
        # The seed counted persistence write errors. A WAL write or fdatasync error stops the
        # gateway (fail-stop), so this is 1 only in the moment between the failure and the
        # exit; operators alert on the target going down (docs/METRICS.md).
        yield counter(
            "persistence_queue_errors_total",
            "WAL write/fdatasync failures in this process (seed name; the first one stops it)",
            int(journal.failed is not None),
        )
        yield gauge(
            "fast_path_lag",
            "Age of the oldest non-durable record in microseconds (seed name)",
            age_s * 1e6,
        )
        yield gauge(
            "switchyard_wal_disk_full",
            "1 while the WAL waits for disk space",
            int(journal.disk_full),
        )
        yield from self._wal_batches()

    def _wal_batches(self) -> Iterator[Metric]:
        node = self._ctx.node
        journal = node.journal
        assert journal is not None
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
        yield from _volume(self._ctx.wal_dir)

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
            "switchyard_venue_reports_received_total",
            "Execution reports received from the venue (the venue process counts what it sent)",
            node.counters.reports,
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
        yield gauge(
            "process_threads",
            "OS threads of this process (the seed's jvm_thread_count)",
            process_threads(),
        )
        http = self._http
        counters = http.counters
        yield gauge("switchyard_http_connections", "Open HTTP connections", len(http.connections))
        yield counter(
            "switchyard_http_requests_total", "HTTP requests parsed", counters["requests"]
        )
        yield counter(
            "gateway_http_requests_total", "HTTP requests parsed (seed name)", counters["requests"]
        )
        responses = CounterMetricFamily(
            "switchyard_http_responses_total",
            "HTTP responses written (streams counted when they start), by status code",
            labels=["code"],
        )
        by_code = dict.fromkeys(_RESPONSE_CODES, 0)  # labelled counters start at zero
        by_code.update(http.responses)
        for code, value in sorted(by_code.items()):
            responses.add_metric([str(code)], value)
        yield responses
        refused = CounterMetricFamily(
            "switchyard_http_refused_total", "Requests refused by the HTTP layer", labels=["status"]
        )
        by_status = dict.fromkeys(_REFUSED_STATUSES, 0)
        for key, value in counters.items():
            if key.startswith("refused_"):
                by_status[key.removeprefix("refused_")] = value
        for status, value in sorted(by_status.items()):
            refused.add_metric([status], value)
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


def _volume(wal_dir: Path) -> Iterator[Metric]:
    """Free and total bytes of the WAL's filesystem (one statvfs, a few microseconds)."""
    try:
        stat = os.statvfs(wal_dir)
    except OSError:
        return  # no WAL directory (yet): no sample beats a made-up one
    yield gauge(
        "switchyard_wal_volume_free_bytes",
        "Bytes available to the gateway on the WAL's filesystem",
        stat.f_bavail * stat.f_frsize,
    )
    yield gauge(
        "switchyard_wal_volume_size_bytes",
        "Size of the WAL's filesystem in bytes",
        stat.f_blocks * stat.f_frsize,
    )


def register_gauge_fn(
    registry: CollectorRegistry, name: str, doc: str, fn: Callable[[], float]
) -> None:
    """A one-off gauge computed at scrape time."""

    class _Fn(Collector):
        def collect(self) -> Iterator[Metric]:
            yield gauge(name, doc, fn())

    registry.register(_Fn())
