"""Prometheus metrics of `switchyard venue`, read from plain counters at scrape time.

Owns the collector and its registry; the server and service only count in ints (STYLE 2.4).
Names: switchyard_venue_<what>_<unit>, counters end in _total.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .server import VenueServer


class VenueCollector(Collector):
    """Reads a `VenueServer` (and its service) each scrape."""

    def __init__(self, server: VenueServer) -> None:
        self.server = server

    def collect(self) -> Iterator[Metric]:
        server = self.server
        service = server.service
        registry = service.engine.registry
        requests = CounterMetricFamily(
            "switchyard_venue_requests", "Requests received, by type", labels=["type"]
        )
        for kind, value in sorted(server.requests.items()):
            requests.add_metric([kind], value)
        yield requests
        reports = CounterMetricFamily(
            "switchyard_venue_reports",
            "Execution reports sent to clients, by kind",
            labels=["kind"],
        )
        for kind, value in sorted(server.reports.items()):
            reports.add_metric([kind], value)
        yield reports
        errors = CounterMetricFamily(
            "switchyard_venue_protocol_errors", "Bad request lines, by error", labels=["error"]
        )
        for code, value in sorted(server.protocol_errors.items()):
            errors.add_metric([code], value)
        yield errors
        yield GaugeMetricFamily(
            "switchyard_venue_connections", "Open client connections", value=len(server.connections)
        )
        yield CounterMetricFamily(
            "switchyard_venue_connections_accepted",
            "Client connections accepted",
            value=server.connections_total,
        )
        yield CounterMetricFamily(
            "switchyard_venue_slow_readers_cut",
            "Connections closed because their write buffer passed the limit",
            value=server.slow_readers_cut,
        )
        yield CounterMetricFamily(
            "switchyard_venue_reports_undeliverable",
            "Reports whose session was gone or whose backlog was full",
            value=server.reports_undeliverable,
        )
        yield CounterMetricFamily(
            "switchyard_venue_market_data_lines",
            "Market-data lines queued to subscribers",
            value=server.market_data_lines,
        )
        yield GaugeMetricFamily(
            "switchyard_venue_orders_resting",
            "Orders resting in the books",
            value=len(registry.live),
        )
        trades = CounterMetricFamily(
            "switchyard_venue_trades", "Trades matched, by symbol", labels=["symbol"]
        )
        for symbol, book in service.engine.books.items():
            trades.add_metric([symbol], book.trade_count)
        yield trades
        yield CounterMetricFamily(
            "switchyard_venue_market_maker_ticks", "Market-maker timer ticks", value=service.ticks
        )


def build_registry(server: VenueServer) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(VenueCollector(server))
    return registry
