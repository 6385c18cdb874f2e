"""Profiles: the shipped files are valid, the schedule follows the phases, errors name fields."""

from itertools import pairwise

import pytest

from switchyard.sre.profiles import (
    Phase,
    ProfileError,
    iter_offsets_ns,
    load_profile,
    parse_profile,
)

MINIMAL = {
    "name": "t",
    "load": {"connections": 2, "phases": [{"duration_sec": 1, "rate_per_sec": 100}]},
    "accounts": 2,
    "order_mix": {"limit": 1},
    "qty": {"min": 1, "max": 5},
    "price_offset_ticks": {"min": 0, "max": 3},
}


@pytest.mark.parametrize("name", ["steady", "burst", "skew"])
def test_shipped_profiles_load_and_ask_for_their_documented_load(name):
    profile = load_profile(name)
    assert profile.name == name
    assert profile.request_count > 10_000  # each is a real run, not a smoke test
    assert abs(sum(profile.symbol_weights.values()) - 1) < 1e-9
    assert set(profile.symbol_weights) == {"BTC", "ETH", "7203", "6758", "9984"}
    assert profile.warmup_sec < profile.duration_sec


def test_skew_profile_keeps_the_seed_weights():
    weights = load_profile("skew").symbol_weights
    assert weights["BTC"] == pytest.approx(0.70)
    assert weights["9984"] == pytest.approx(0.02)


def test_constant_phase_schedules_evenly_spaced_requests():
    offsets = list(iter_offsets_ns((Phase("c", 1.0, 1000, 1000),)))
    assert len(offsets) == 1000
    gaps = {b - a for a, b in pairwise(offsets)}
    assert gaps <= {999_999, 1_000_000, 1_000_001}


def test_ramp_arrivals_follow_the_ramp():
    # 0 -> 2000/s over 1 s: 1000 requests, a quarter of them in the first half.
    offsets = list(iter_offsets_ns((Phase("r", 1.0, 0, 2000),)))
    assert len(offsets) == 1000
    first_half = sum(1 for t in offsets if t < 500_000_000)
    assert 240 <= first_half <= 260
    assert offsets == sorted(offsets)


def test_phases_are_consecutive():
    phases = (Phase("a", 1.0, 10, 10), Phase("b", 1.0, 20, 20))
    offsets = list(iter_offsets_ns(phases))
    assert len(offsets) == 30
    assert sum(1 for t in offsets if t >= 1_000_000_000) == 20


def test_burst_profile_peaks_in_its_burst_phase():
    profile = load_profile("burst")
    offsets = list(iter_offsets_ns(profile.phases))
    per_second = [0] * int(profile.duration_sec + 1)
    for t in offsets:
        per_second[t // 1_000_000_000] += 1
    assert max(per_second) > 5 * min(per_second[:25])  # burst vs ramp start / recovery


def test_overrides_replace_the_phases_and_keep_warmup_proportional():
    profile = load_profile("steady").with_overrides(rate_per_sec=500, duration_sec=2)
    assert profile.request_count == 1000
    assert profile.warmup_sec == pytest.approx(2 * 2 / 20)


@pytest.mark.parametrize(
    ("change", "field_name"),
    [
        ({"accounts": 0}, "accounts"),
        ({"load": {"connections": 2, "phases": []}}, "load.phases"),
        ({"order_mix": {"limit": 1, "stop": 1}}, "order_mix.stop"),
        ({"qty": {"min": 5, "max": 1}}, "qty.min"),
        (
            {"load": {"connections": 0, "phases": [{"duration_sec": 1, "rate_per_sec": 1}]}},
            "load.connections",
        ),
        ({"target": {"ack": "eventually"}}, "target.ack"),
    ],
)
def test_invalid_profiles_are_refused_naming_the_field(change, field_name):
    with pytest.raises(ProfileError, match=field_name.replace(".", r"\.")):
        parse_profile({**MINIMAL, **change}, "test.yaml")


def test_missing_profile_file_is_a_profile_error(tmp_path):
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(str(tmp_path / "nope.yaml"))
