"""The wrk driver: the script renders, the summary parses, wrk results map to bench.v1."""

import pytest

from switchyard.sre import wrk
from switchyard.sre.bench import wrk_measurements
from switchyard.sre.profiles import load_profile

SUMMARY_LINE = (
    'SWITCHYARD_WRK_JSON {"durationUs":5001234,"requests":250000,"bytes":40000000,'
    '"errors":{"connect":0,"read":2,"write":0,"status":1500,"timeout":3},'
    '"latencyUs":{"min":40,"mean":610.5,"max":25000,"percentiles":{"p50":520,"p90":900,'
    '"p99":2100,"p999":9000}},"statuses":{"202":248500,"429":1000,"404":500},'
    '"codes":{"BACKPRESSURE_INFLIGHT_SOFT":1000,"NOT_FOUND":500},"cancelRaces":500}'
)


def test_script_embeds_tokens_symbols_and_the_durable_path():
    profile = load_profile("steady").with_overrides(ack_mode="durable")
    script = wrk.render_script(profile, ["tok-a", "tok-b"], "r1", {"BTC": 6_000_000})
    assert '"tok-a","tok-b"' in script
    assert '"/orders?ack=durable"' in script
    assert "6000000" in script
    assert "%" not in script.replace("%s", "").replace("%d", "").replace("%.1f", "").replace(
        "%-a", ""
    ).replace("%d+", "")


def test_parse_output_finds_the_summary_among_wrk_text():
    parsed = wrk.parse_output("Running 5s test\n  1 threads\n" + SUMMARY_LINE + "\n")
    assert parsed["requests"] == 250000


def test_missing_summary_is_an_error():
    with pytest.raises(wrk.WrkError, match="printed no"):
        wrk.parse_output("Running 5s test\n")


def test_wrk_summary_maps_to_counts_and_latency():
    measured = wrk_measurements(wrk.parse_output(SUMMARY_LINE), load_profile("steady"))
    counts = measured["counts"]
    assert counts["dropped"] == 5  # read + timeout errors: no answer
    assert counts["cancelRaces"] == 500
    assert counts["errors"] == 1000 + 5  # 429s and drops; 404 cancel races are fine
    assert counts["byError"]["WRK_TIMEOUT"] == 3
    assert measured["latencyUs"]["p999"] == 9000.0
    assert measured["latencyBasis"] == "actual-send"
    assert measured["rate"]["achievedPerSec"] == pytest.approx(250000 / 5.001234, rel=1e-3)
