"""Observations from results, /stats and /metrics under one set of names."""

import math

import pytest

from switchyard.sre import observations

from .conftest_helpers import bench_document, canary_document

METRICS = """\
# TYPE switchyard_wal_fdatasync_seconds histogram
switchyard_wal_fdatasync_seconds_bucket{le="0.0001"} 0
switchyard_wal_fdatasync_seconds_bucket{le="0.0002"} 500
switchyard_wal_fdatasync_seconds_bucket{le="0.0004"} 980
switchyard_wal_fdatasync_seconds_bucket{le="0.0008"} 1000
switchyard_wal_fdatasync_seconds_bucket{le="+Inf"} 1000
switchyard_wal_fdatasync_seconds_sum 0.21
switchyard_wal_fdatasync_seconds_count 1000
# TYPE switchyard_wal_batch_records histogram
switchyard_wal_batch_records_bucket{le="8"} 900
switchyard_wal_batch_records_bucket{le="64"} 1000
switchyard_wal_batch_records_bucket{le="+Inf"} 1000
switchyard_wal_batch_records_sum 5000
switchyard_wal_batch_records_count 1000
# TYPE switchyard_backpressure_refusals_total counter
switchyard_backpressure_refusals_total{reason="BACKPRESSURE_INFLIGHT"} 12
switchyard_backpressure_refusals_total{reason="QUEUE_REJECT"} 3
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.5
"""


def test_bucket_quantile_interpolates_like_prometheus():
    buckets = [(0.1, 0.0), (0.2, 50.0), (0.4, 100.0), (math.inf, 100.0)]
    assert observations.bucket_quantile(buckets, 0.5) == pytest.approx(0.2)
    assert observations.bucket_quantile(buckets, 0.75) == pytest.approx(0.3)


def test_metrics_text_gives_fsync_percentiles_batch_mean_and_refusals():
    found, refusals = observations.observe_metrics(METRICS)
    assert found["fsync_p50_us"] == pytest.approx(200.0)
    assert 200.0 < found["fsync_p99_us"] <= 800.0
    assert found["batch_records_mean"] == 5.0
    assert refusals == {"BACKPRESSURE_INFLIGHT": 12, "QUEUE_REJECT": 3}


def test_stats_names_match_in_any_spelling():
    stats = {
        "wal": {"fdatasync": {"p99_us": 420.5}},
        "walBatchRecordsMean": 17,
        "gateway_ack_p99_us": 31.0,
        "unrelated": "text",
    }
    found = observations.observe_stats(stats)
    assert found == {"fsync_p99_us": 420.5, "batch_records_mean": 17.0, "server_ack_p99_us": 31.0}


def test_bench_result_observations_include_measured_cpu():
    obs = observations.from_document(bench_document(), "b.json")
    assert obs.kind == "bench"
    assert obs.cpu_seconds is not None
    assert obs.cpu_seconds > 0
    assert obs.sent == obs.ok == 3600


def test_canary_observations_add_events_and_orders():
    obs = observations.from_document(canary_document(), "c.json")
    assert obs.sent == 2050
    assert obs.kind == "canary"


def test_mean_batch_comes_from_the_wal_counters():
    document = bench_document()
    document["server"]["counterDeltas"] = {
        "switchyard_wal_records_total": 12398.0,
        "switchyard_wal_commits_total": 3328.0,
    }
    obs = observations.from_document(document, "b.json")
    assert obs.stats["batch_records_mean"] == pytest.approx(3.73, abs=0.01)
