"""The tuner: each rule fires on the numbers that call for it, and only then."""

from switchyard.sre import observations, tune

from .conftest_helpers import bench_document


def _obs(**changes) -> observations.Observations:
    obs = observations.from_document(bench_document(), "b.json")
    for name, value in changes.items():
        setattr(obs, name, value)
    return obs


def _settings(**values) -> dict[str, str]:
    return tune.current_settings({k: str(v) for k, v in values.items()})


def _by_parameter(recommendations):
    return {r.parameter: r for r in recommendations}


def test_a_healthy_run_gets_a_single_keep_as_is():
    recommendations = tune.recommend(_obs(), _settings())
    assert [(r.priority, r.parameter) for r in recommendations] == [("INFO", "(none)")]


def test_drops_are_critical_and_get_a_littles_law_cap():
    obs = _obs(dropped=25, achieved_per_sec=20_000.0, stats={"fsync_p99_us": 400.0})
    found = _by_parameter(tune.recommend(obs, _settings()))
    cap = found["BACKPRESSURE_INFLIGHT_MAX"]
    assert cap.priority == "CRITICAL"
    # 2 x 20,000/s x (400 + 200) µs = 24 -> floor 256
    assert cap.recommended == "256"
    obs.achieved_per_sec = 200_000.0  # 2 x 200k x 600 µs = 240 -> 256; at 1M/s -> 2048
    obs.achieved_per_sec = 1_000_000.0
    assert (
        _by_parameter(tune.recommend(obs, _settings()))["BACKPRESSURE_INFLIGHT_MAX"].recommended
        == "2048"
    )


def test_inflight_refusals_within_slo_raise_the_cap():
    obs = _obs(errors_by_code={"BACKPRESSURE_INFLIGHT": 40}, stats={"fsync_p99_us": 400.0})
    found = _by_parameter(tune.recommend(obs, _settings(BACKPRESSURE_INFLIGHT_MAX=64)))
    assert found["BACKPRESSURE_INFLIGHT_MAX"].priority == "WARNING"
    assert int(found["BACKPRESSURE_INFLIGHT_MAX"].recommended) >= 128


def test_inflight_refusals_beyond_slo_keep_the_cap():
    obs = _obs(errors_by_code={"BACKPRESSURE_INFLIGHT": 40}, latency_p99_us=5000.0)
    found = _by_parameter(tune.recommend(obs, _settings(BACKPRESSURE_INFLIGHT_MAX=64)))
    assert found["BACKPRESSURE_INFLIGHT_MAX"].priority == "INFO"
    assert found["BACKPRESSURE_INFLIGHT_MAX"].recommended == "64"


def test_a_disk_busy_in_fsync_wants_bigger_batches():
    obs = _obs(achieved_per_sec=30_000.0, stats={"fsync_p99_us": 500.0, "batch_records_mean": 16.0})
    found = _by_parameter(tune.recommend(obs, _settings()))
    batch = found["AUDIT_FDATASYNC_MAX_BATCH"]
    assert batch.priority == "CRITICAL"  # 30k/16 = 1875 fsync/s x 500 µs = 94% busy
    assert batch.recommended == "128"


def test_full_batches_want_bigger_batches():
    obs = _obs(achieved_per_sec=2_000.0, stats={"fsync_p99_us": 300.0, "batch_records_mean": 62.0})
    assert (
        _by_parameter(tune.recommend(obs, _settings()))["AUDIT_FDATASYNC_MAX_BATCH"].priority
        == "WARNING"
    )


def test_sparse_batches_with_a_long_wait_want_a_shorter_wait():
    obs = _obs(
        achieved_per_sec=500.0,
        stats={"fsync_p99_us": 300.0, "batch_records_mean": 2.0, "durable_ack_p99_us": 2500.0},
    )
    found = _by_parameter(tune.recommend(obs, _settings(AUDIT_FDATASYNC_MAX_WAIT_US=1000)))
    assert found["AUDIT_FDATASYNC_MAX_WAIT_US"].recommended == "150"


def test_wal_age_limit_below_a_few_fsyncs_is_raised():
    obs = _obs(errors_by_code={"BACKPRESSURE_SOFT_WAL_AGE": 9}, stats={"fsync_p99_us": 800.0})
    found = _by_parameter(tune.recommend(obs, _settings(BACKPRESSURE_SOFT_WAL_AGE_MS_MAX=2)))
    assert found["BACKPRESSURE_SOFT_WAL_AGE_MS_MAX"].recommended == "5"  # (200 + 4000) µs


def test_the_seeds_latching_rate_decline_parameters_are_critical():
    obs = _obs()
    latching = _settings(BACKPRESSURE_INFLIGHT_BETA=0.3, BACKPRESSURE_INFLIGHT_DECLINE_RATIO=0.8)
    found = _by_parameter(tune.recommend(obs, latching))
    assert found["BACKPRESSURE_INFLIGHT_BETA"].priority == "CRITICAL"
    safe = _settings(BACKPRESSURE_INFLIGHT_BETA=0.2, BACKPRESSURE_INFLIGHT_DECLINE_RATIO=0.8)
    assert "BACKPRESSURE_INFLIGHT_BETA" not in _by_parameter(tune.recommend(obs, safe))


def test_queue_reject_and_disk_free_are_critical():
    obs = _obs(errors_by_code={"QUEUE_REJECT": 5, "BACKPRESSURE_DISK_FREE": 2})
    priorities = {r.priority for r in tune.recommend(obs, _settings())}
    assert priorities == {"CRITICAL"}


def test_csv_has_the_seed_columns_and_markdown_exports_numeric_settings():
    obs = _obs(dropped=1, achieved_per_sec=1000.0, stats={"fsync_p99_us": 400.0})
    recommendations = tune.recommend(obs, _settings())
    assert tune.csv_text(recommendations).splitlines()[0] == (
        "priority,parameter,current_value,recommended_value,reason"
    )
    assert "export BACKPRESSURE_INFLIGHT_MAX=256" in tune.markdown(recommendations, ["b.json"])
