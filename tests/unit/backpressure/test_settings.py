"""Backpressure settings: seed names and defaults, off unless configured, relations checked."""

from __future__ import annotations

import pytest

from switchyard.backpressure.settings import (
    WAL_BYTES_SAFETY_MAX,
    BackpressureSettings,
    ControllerSettings,
)
from switchyard.core.env import REGISTRY, ConfigError
from switchyard.core.limits import VENUE_OUTBOUND_QUEUE_MAX

SEED_NAMES = [
    "BACKPRESSURE_INFLIGHT_MAX",
    "BACKPRESSURE_WAL_BYTES_MAX",
    "BACKPRESSURE_WAL_AGE_MS_MAX",
    "BACKPRESSURE_SOFT_WAL_AGE_MS_MAX",
    "BACKPRESSURE_DISK_FREE_PCT_MIN",
    "BACKPRESSURE_INFLIGHT_DYNAMIC",
    "BACKPRESSURE_INFLIGHT_TARGET_WAL_AGE_SEC",
    "BACKPRESSURE_INFLIGHT_ALPHA",
    "BACKPRESSURE_INFLIGHT_BETA",
    "BACKPRESSURE_INFLIGHT_MIN",
    "BACKPRESSURE_INFLIGHT_CAP",
    "BACKPRESSURE_INFLIGHT_TICK_MS",
    "BACKPRESSURE_INFLIGHT_SLEW_RATIO",
    "BACKPRESSURE_INFLIGHT_HYSTERESIS_OFF_RATIO",
    "BACKPRESSURE_INFLIGHT_INITIAL",
    "BACKPRESSURE_INFLIGHT_DECLINE_RATIO",
    "BACKPRESSURE_INFLIGHT_DECLINE_STREAK",
    "BACKPRESSURE_INFLIGHT_REJECT_BETA",
]


def test_settings_seed_names_are_all_declared() -> None:
    missing = [name for name in SEED_NAMES if name not in REGISTRY]
    assert missing == []


def test_settings_unset_static_limits_are_off() -> None:
    settings = BackpressureSettings.from_env({})
    assert settings.inflight_max is None
    assert settings.wal_bytes_max is None
    assert settings.wal_age_ms_max is None
    assert settings.soft_wal_age_ms_max is None
    assert settings.disk_free_pct_min is None
    assert settings.controller.enabled is False


def test_settings_defaults_keep_the_wal_and_venue_bounds() -> None:
    settings = BackpressureSettings.from_env({})
    assert settings.wal_bytes_limit == WAL_BYTES_SAFETY_MAX
    assert settings.venue_queue_max == VENUE_OUTBOUND_QUEUE_MAX


def test_settings_seed_controller_defaults() -> None:
    controller = BackpressureSettings.from_env({}).controller
    assert controller == ControllerSettings(
        enabled=False,
        target_wal_age_s=1.0,
        alpha=0.8,
        beta=0.2,
        reject_beta=0.2,
        limit_min=256,
        limit_cap=10_000,
        tick_ms=250,
        slew_ratio=0.2,
        hysteresis_off_ratio=0.9,
        limit_initial=2_000,
        decline_ratio=0.8,
        decline_streak=3,
    )


def test_settings_configured_values_are_read() -> None:
    settings = BackpressureSettings.from_env(
        {
            "BACKPRESSURE_INFLIGHT_MAX": "100",
            "BACKPRESSURE_WAL_BYTES_MAX": "1_000_000",
            "BACKPRESSURE_WAL_AGE_MS_MAX": "500",
            "BACKPRESSURE_SOFT_WAL_AGE_MS_MAX": "200",
            "BACKPRESSURE_DISK_FREE_PCT_MIN": "12.5",
            "BACKPRESSURE_VENUE_QUEUE_MAX": "0",
            "BACKPRESSURE_INFLIGHT_DYNAMIC": "yes",
        }
    )
    assert (settings.inflight_max, settings.wal_bytes_limit) == (100, 1_000_000)
    assert (settings.wal_age_ms_max, settings.soft_wal_age_ms_max) == (500, 200)
    assert settings.disk_free_pct_min == 12.5
    assert settings.venue_queue_max == 0
    assert settings.controller.enabled is True


def test_settings_min_above_cap_is_a_config_error_naming_both() -> None:
    with pytest.raises(ConfigError) as caught:
        BackpressureSettings.from_env(
            {"BACKPRESSURE_INFLIGHT_MIN": "500", "BACKPRESSURE_INFLIGHT_CAP": "100"}
        )
    assert "BACKPRESSURE_INFLIGHT_MIN=500" in str(caught.value)
    assert "BACKPRESSURE_INFLIGHT_CAP=100" in str(caught.value)


def test_settings_soft_age_above_hard_age_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="BACKPRESSURE_SOFT_WAL_AGE_MS_MAX"):
        BackpressureSettings.from_env(
            {"BACKPRESSURE_SOFT_WAL_AGE_MS_MAX": "900", "BACKPRESSURE_WAL_AGE_MS_MAX": "100"}
        )


def test_settings_initial_is_clamped_into_min_cap() -> None:
    settings = ControllerSettings(limit_min=10, limit_cap=100, limit_initial=2_000)
    assert settings.initial_clamped == 100
    assert ControllerSettings(limit_min=10, limit_cap=100, limit_initial=1).initial_clamped == 10


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BACKPRESSURE_INFLIGHT_MAX", "0"),
        ("BACKPRESSURE_INFLIGHT_MAX", "many"),
        ("BACKPRESSURE_WAL_BYTES_MAX", str(WAL_BYTES_SAFETY_MAX + 1)),
        ("BACKPRESSURE_DISK_FREE_PCT_MIN", "101"),
        ("BACKPRESSURE_DISK_FREE_PCT_MIN", "nan"),
        ("BACKPRESSURE_VENUE_QUEUE_MAX", str(VENUE_OUTBOUND_QUEUE_MAX + 1)),
        ("BACKPRESSURE_INFLIGHT_DYNAMIC", "maybe"),
        ("BACKPRESSURE_INFLIGHT_TARGET_WAL_AGE_SEC", "0"),
        ("BACKPRESSURE_INFLIGHT_BETA", "0"),
        ("BACKPRESSURE_INFLIGHT_BETA", "1.5"),
        ("BACKPRESSURE_INFLIGHT_MIN", "0"),
        ("BACKPRESSURE_INFLIGHT_TICK_MS", "1"),
        ("BACKPRESSURE_INFLIGHT_SLEW_RATIO", "-0.1"),
        ("BACKPRESSURE_INFLIGHT_HYSTERESIS_OFF_RATIO", "0"),
        ("BACKPRESSURE_INFLIGHT_DECLINE_RATIO", "1"),
        ("BACKPRESSURE_INFLIGHT_DECLINE_STREAK", "0"),
        ("BACKPRESSURE_INFLIGHT_LOOP_BUSY_MAX", "1.5"),
    ],
)
def test_settings_bad_value_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        BackpressureSettings.from_env({name: value})


def test_settings_loop_budget_is_off_unless_set() -> None:
    assert BackpressureSettings.from_env({}).controller.loop_busy_max == 0.0
    settings = BackpressureSettings.from_env({"BACKPRESSURE_INFLIGHT_LOOP_BUSY_MAX": "0.75"})
    assert settings.controller.loop_busy_max == 0.75
