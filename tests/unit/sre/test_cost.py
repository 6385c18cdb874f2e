"""Cost guard: never zero for a real run, over budget fails, unusable input is refused."""

import pytest

from switchyard.sre import cost, observations

from .conftest_helpers import bench_document, canary_document


def _usage(document, **overrides):
    obs = observations.from_document(document, "x.json")
    return cost.usage_of(obs, overrides)


def test_a_real_bench_run_costs_more_than_zero():
    report = cost.cost_breakdown(_usage(bench_document()), cost.Prices())
    assert report["costYen"]["cpu"] > 0
    assert report["costYenPer1kOrders"] > 0
    assert report["orders"] == 3600


def test_a_real_canary_costs_more_than_zero():
    assert cost.cost_breakdown(_usage(canary_document()), cost.Prices())["costYenPer1kOrders"] > 0


def test_the_arithmetic_per_component():
    usage = cost.Usage(
        orders=10_000,
        cpu_seconds=3600.0,
        storage_bytes=2 * cost.GIB,
        kafka_bytes=cost.GIB,
        sources={},
    )
    prices = cost.Prices(
        yen_per_vcpu_hour=6.0, yen_per_gib_month=15.0, retention_months=2.0, yen_per_kafka_gib=25.0
    )
    report = cost.cost_breakdown(usage, prices)
    assert report["costYen"]["cpu"] == pytest.approx(6.0)
    assert report["costYen"]["storage"] == pytest.approx(60.0)
    assert report["costYen"]["kafka"] == pytest.approx(25.0)
    assert report["costYenPer1kOrders"] == pytest.approx(9.1)


def test_over_budget_fails_and_within_passes():
    report = cost.cost_breakdown(_usage(bench_document()), cost.Prices())
    per_1k = report["costYenPer1kOrders"]
    assert cost.verdict(report, per_1k * 0.5)["status"] == "FAIL"
    assert cost.verdict(report, per_1k * 2)["status"] == "PASS"


def test_no_orders_is_refused():
    document = bench_document()
    document["counts"]["ok"] = 0
    with pytest.raises(cost.CostInputError, match="no order"):
        _usage(document)


def test_no_cpu_measurement_is_refused_rather_than_costing_zero():
    document = bench_document()
    document["server"]["resources"] = {"source": "unavailable", "reason": "remote server"}
    document["server"]["counterDeltas"] = {}
    with pytest.raises(cost.CostInputError, match="no CPU measurement"):
        _usage(document)


def test_metrics_counters_stand_in_for_proc():
    document = bench_document()
    document["server"]["resources"] = {"source": "unavailable", "reason": "remote server"}
    document["server"]["counterDeltas"] = {
        "process_cpu_seconds_total": 1.5,
        "switchyard_wal_bytes_written_total": 4096,
        "switchyard_outbox_bytes_total": 2048,
    }
    usage = _usage(document)
    assert (usage.cpu_seconds, usage.storage_bytes, usage.kafka_bytes) == (1.5, 4096, 2048)


def test_the_wal_byte_counter_wins_over_device_writes():
    document = bench_document()
    document["server"]["resources"]["storageWriteBytes"] = 30 * 2**30  # write amplification
    document["server"]["counterDeltas"] = {"switchyard_wal_bytes_written_total": 9_000_000}
    obs = observations.from_document(document, "x.json")
    assert obs.storage_bytes == 9_000_000
    assert "WAL byte counter" in obs.storage_source
    usage = cost.usage_of(obs, {})
    assert usage.sources["storage_bytes"].startswith("measured: WAL byte counter")
