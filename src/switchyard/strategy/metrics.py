"""Prometheus collector of the strategy: every decision, order and config event as counters.

Reads the trader's, runner's and config service's plain counters at scrape time (nothing on
the tick touches prometheus_client). Conventional names first (`switchyard_strategy_*`),
then the seed's documented names (`strategy_config_update_total`,
`strategy_config_update_failed_total`, `strategy_config_validation_failed_total`,
`strategy_storage_fallback_total`, `strategy_order_filtered_total{reason}`). Labels are
closed sets (reason, side, outcome) or the configured symbols (at most 50).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from switchyard.runtime.latency import LatencyRecorder

from . import decisions as R
from .runner import StrategyRunner
from .service import ConfigService, Storage


class StrategyCollector(Collector):
    def __init__(self, runner: StrategyRunner, service: ConfigService) -> None:
        self.runner = runner
        self.service = service

    def collect(self) -> Iterator[Metric]:
        yield from self._runner_metrics()
        yield from self._config_metrics()
        yield from self._seed_metrics()

    def _runner_metrics(self) -> Iterator[Metric]:
        runner = self.runner
        trader = runner.trader
        yield _gauge("switchyard_strategy_running", "1 while the strategy ticks", runner.running)
        yield _gauge(
            "switchyard_strategy_enabled", "1 while the config says enabled", trader.config.enabled
        )
        yield _counter("switchyard_strategy_ticks", "strategy ticks run", trader.ticks)
        yield _counter(
            "switchyard_strategy_ticks_skipped",
            "ticks skipped because the loop was a whole period late",
            runner.ticks_skipped,
        )
        decisions = CounterMetricFamily(
            "switchyard_strategy_decisions",
            "decisions (one per symbol per tick), by reason",
            labels=["reason"],
        )
        for reason, count in trader.reasons.items():
            decisions.add_metric([reason], count)
        yield decisions
        orders = CounterMetricFamily(
            "switchyard_strategy_orders",
            "orders the strategy submitted, by side and what the sequencer did",
            labels=["side", "outcome"],
        )
        for side in ("BUY", "SELL"):
            for outcome in (R.OUTCOME_ACCEPTED, R.OUTCOME_DENIED, R.OUTCOME_REFUSED):
                orders.add_metric([side, outcome], trader.orders.get((side, outcome), 0))
        yield orders
        yield _counter(
            "switchyard_strategy_decisions_dropped",
            "decisions pushed out of the recent list (capacity reached)",
            trader.log.dropped,
        )
        yield _gauge(
            "switchyard_strategy_live_orders",
            "strategy orders not final yet",
            trader.live_order_count,
        )
        yield from self._signal_metrics()
        yield _histogram(
            "switchyard_strategy_tick_seconds", "duration of one tick", runner.tick_latency
        )

    def _signal_metrics(self) -> Iterator[Metric]:
        trader = self.runner.trader
        signal = GaugeMetricFamily(
            "switchyard_strategy_signal",
            "latest signal inputs per symbol (short/long moving average in ticks, RSI in %)",
            labels=["symbol", "value"],
        )
        position = GaugeMetricFamily(
            "switchyard_strategy_position",
            "strategy account's filled position plus open orders, per symbol (lots)",
            labels=["symbol"],
        )
        port = trader.port
        for symbol in trader.config.symbols:
            latest = trader.last_signal.get(symbol)
            if latest is not None and latest.rsi is not None:
                signal.add_metric([symbol, "short_ma"], latest.short_ma or 0.0)
                signal.add_metric([symbol, "long_ma"], latest.long_ma or 0.0)
                signal.add_metric([symbol, "rsi"], latest.rsi)
            position.add_metric([symbol], float(port.position(symbol)))
        yield signal
        yield position

    def _config_metrics(self) -> Iterator[Metric]:
        service = self.service
        counters = service.counters
        yield _gauge(
            "switchyard_strategy_config_version",
            "version of the config in use",
            service.config.version,
        )
        yield _gauge(
            "switchyard_strategy_storage_healthy",
            "1 while the config database answers",
            service.status.state is Storage.DB,
        )
        yield _counter(
            "switchyard_strategy_config_conflicts",
            "PUTs with a stale version (409)",
            counters["conflicts"],
        )
        yield _counter(
            "switchyard_strategy_config_refreshes",
            "config reloads attempted",
            counters["refreshes"],
        )
        yield _counter(
            "switchyard_strategy_config_refresh_failures",
            "config reloads that failed (database down or row invalid)",
            counters["refresh_failed"] + counters["invalid_rows"],
        )
        yield _histogram(
            "switchyard_strategy_db_call_seconds",
            "strategy config database calls (on their own thread)",
            service.db_latency,
        )

    def _seed_metrics(self) -> Iterator[Metric]:
        counters = self.service.counters
        for name, key, text in (
            ("strategy_config_update_total", "updates", "successful config PUTs"),
            ("strategy_config_update_failed_total", "update_failed", "PUTs the database failed"),
            (
                "strategy_config_validation_failed_total",
                "validation_failed",
                "PUTs refused with 400",
            ),
            (
                "strategy_storage_fallback_total",
                "fallbacks",
                "times the config database became unavailable",
            ),
        ):
            yield CounterMetricFamily(name, text, value=counters[key])
        filtered = CounterMetricFamily(
            "strategy_order_filtered_total",
            "signals that did not become an order, by the rail that stopped them",
            labels=["reason"],
        )
        reasons = self.runner.trader.reasons
        for reason in R.FILTERS:
            filtered.add_metric([reason], reasons[reason])
        yield filtered


def _gauge(name: str, text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, text, value=float(value))


def _counter(name: str, text: str, value: int) -> CounterMetricFamily:
    return CounterMetricFamily(name, text, value=value)


def _histogram(name: str, text: str, recorder: LatencyRecorder) -> HistogramMetricFamily:
    return HistogramMetricFamily(
        name, text, buckets=recorder.cumulative_buckets(), sum_value=recorder.sum_ns / 1e9
    )
