"""Backpressure settings: the seed's BACKPRESSURE_* variables, parsed and checked together.

Owns the declarations and the relations between values (a MIN above CAP is a ConfigError
naming both, never a crash later). Must not read `os.environ`, a clock or anything else: the
caller passes the mapping in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from switchyard.core import env
from switchyard.core.limits import VENUE_OUTBOUND_QUEUE_MAX, WAL_PENDING_MAX_BYTES

_S = "backpressure"
_P = "BACKPRESSURE_INFLIGHT_"

# When BACKPRESSURE_WAL_BYTES_MAX is unset the WAL's own bound still holds: the journal
# asserts (crashes) past WAL_PENDING_MAX_BYTES, so admission refuses at half of it, leaving
# room for the records of orders already accepted (fills, cancels) that need no admission.
WAL_BYTES_SAFETY_MAX = WAL_PENDING_MAX_BYTES // 2

INFLIGHT_MAX = env.declare(
    "BACKPRESSURE_INFLIGHT_MAX",
    "",
    "Hard cap on accepted orders not yet durable: beyond it 503 BACKPRESSURE_INFLIGHT (unset: off)",
    env.optional_integer(1, 10_000_000),
    section=_S,
)
WAL_BYTES_MAX = env.declare(
    "BACKPRESSURE_WAL_BYTES_MAX",
    "",
    "WAL bytes appended and not yet durable above which new orders get 503 "
    f"BACKPRESSURE_WAL_BYTES (unset: only the WAL's own bound, {WAL_BYTES_SAFETY_MAX} bytes)",
    env.optional_integer(1, WAL_BYTES_SAFETY_MAX),
    section=_S,
)
WAL_AGE_MS_MAX = env.declare(
    "BACKPRESSURE_WAL_AGE_MS_MAX",
    "",
    "Age of the oldest non-durable WAL record above which new orders get 503 "
    "BACKPRESSURE_WAL_AGE (unset: off)",
    env.optional_integer(1, 3_600_000),
    section=_S,
)
SOFT_WAL_AGE_MS_MAX = env.declare(
    "BACKPRESSURE_SOFT_WAL_AGE_MS_MAX",
    "",
    "Soft WAL-age limit: above it new orders get 429 BACKPRESSURE_SOFT_WAL_AGE (unset: off)",
    env.optional_integer(1, 3_600_000),
    section=_S,
)
DISK_FREE_PCT_MIN = env.declare(
    "BACKPRESSURE_DISK_FREE_PCT_MIN",
    "",
    "Free space on the WAL's filesystem (percent) below which new orders get 503 "
    "BACKPRESSURE_DISK_FREE, polled on a timer (unset: off; a full disk always refuses)",
    env.optional_number(0.0, 100.0),
    section=_S,
)
VENUE_QUEUE_MAX = env.declare(
    "BACKPRESSURE_VENUE_QUEUE_MAX",
    str(VENUE_OUTBOUND_QUEUE_MAX),
    "Venue send queue plus accepted-not-yet-sent orders at which new orders get 503 "
    "QUEUE_REJECT (0: off)",
    env.integer(0, VENUE_OUTBOUND_QUEUE_MAX),
    section=_S,
)
DYNAMIC = env.declare(
    _P + "DYNAMIC",
    "0",
    "Adaptive inflight limit (docs/BACKPRESSURE.md): 429 BACKPRESSURE_INFLIGHT_SOFT above it",
    env.boolean,
    section=_S,
)
TARGET_WAL_AGE_SEC = env.declare(
    _P + "TARGET_WAL_AGE_SEC",
    "1.0",
    "Adaptive limit: target time from accept to durable (limit = ALPHA x rate x this)",
    env.number(0.001, 3600.0),
    section=_S,
)
ALPHA = env.declare(
    _P + "ALPHA",
    "0.8",
    "Adaptive limit: share of the Little's-law inflight the limit aims at",
    env.number(0.01, 100.0),
    section=_S,
)
BETA = env.declare(
    _P + "BETA",
    "0.2",
    "Adaptive limit: weight of the newest tick in the durable-rate EWMA",
    env.number(0.001, 1.0),
    section=_S,
)
REJECT_BETA = env.declare(
    _P + "REJECT_BETA",
    "0.2",
    "Adaptive limit: weight of the newest tick in the soft-refusal-rate EWMA (a metric)",
    env.number(0.001, 1.0),
    section=_S,
)
LIMIT_MIN = env.declare(
    _P + "MIN",
    "256",
    "Adaptive limit: lowest value (must not exceed CAP)",
    env.integer(1, 10_000_000),
    section=_S,
)
LIMIT_CAP = env.declare(
    _P + "CAP",
    "10000",
    "Adaptive limit: highest value",
    env.integer(1, 10_000_000),
    section=_S,
)
TICK_MS = env.declare(
    _P + "TICK_MS",
    "250",
    "Adaptive limit: controller period (rates are measured over one tick)",
    env.integer(10, 60_000),
    section=_S,
)
SLEW_RATIO = env.declare(
    _P + "SLEW_RATIO",
    "0.2",
    "Adaptive limit: largest change per tick as a share of the limit (at least 1)",
    env.number(0.0, 1.0),
    section=_S,
)
HYSTERESIS_OFF_RATIO = env.declare(
    _P + "HYSTERESIS_OFF_RATIO",
    "0.9",
    "Adaptive limit: once at the limit, refuse until inflight falls to this share of it",
    env.number(0.01, 1.0),
    section=_S,
)
INITIAL = env.declare(
    _P + "INITIAL",
    "2000",
    "Adaptive limit: value at start (clamped into MIN..CAP)",
    env.integer(1, 10_000_000),
    section=_S,
)
DECLINE_RATIO = env.declare(
    _P + "DECLINE_RATIO",
    "0.8",
    "Adaptive limit: a tick's durable rate below this share of its EWMA, while at the limit, "
    "counts as a decline (0: rule off)",
    env.number(0.0, 0.999),
    section=_S,
)
DECLINE_STREAK = env.declare(
    _P + "DECLINE_STREAK",
    "3",
    "Adaptive limit: declining ticks in a row before 429 BACKPRESSURE_DURABLE_RATE_DECLINE",
    env.integer(1, 1_000),
    section=_S,
)

LOOP_BUSY_MAX = env.declare(
    _P + "LOOP_BUSY_MAX",
    "0",
    "Adaptive limit: share of the event loop's CPU (0..1, measured per tick) above which the "
    "limit shrinks and does not grow: refusals cost CPU too, so at several times capacity "
    "the accepted orders must leave room for them (0: off)",
    env.number(0.0, 1.0),
    section=_S,
)


@dataclass(frozen=True, slots=True)
class ControllerSettings:
    """The adaptive inflight limit's knobs (seed names, BACKPRESSURE_INFLIGHT_*)."""

    enabled: bool = False
    target_wal_age_s: float = 1.0
    alpha: float = 0.8
    beta: float = 0.2
    reject_beta: float = 0.2
    limit_min: int = 256
    limit_cap: int = 10_000
    tick_ms: int = 250
    slew_ratio: float = 0.2
    hysteresis_off_ratio: float = 0.9
    limit_initial: int = 2_000
    decline_ratio: float = 0.8
    decline_streak: int = 3
    loop_busy_max: float = 0.0  # 0 = off

    def __post_init__(self) -> None:
        if self.limit_min > self.limit_cap:
            raise env.ConfigError(
                f"{_P}MIN={self.limit_min} is above {_P}CAP={self.limit_cap}: "
                "the adaptive limit needs MIN <= CAP"
            )
        assert self.limit_min >= 1
        assert self.target_wal_age_s > 0
        assert 0 < self.beta <= 1
        assert 0 < self.reject_beta <= 1
        assert 0 <= self.slew_ratio <= 1
        assert 0 < self.hysteresis_off_ratio <= 1
        assert 0 <= self.decline_ratio < 1
        assert self.decline_streak >= 1
        assert 0 <= self.loop_busy_max <= 1
        assert self.tick_ms > 0

    @property
    def initial_clamped(self) -> int:
        return min(max(self.limit_initial, self.limit_min), self.limit_cap)


@dataclass(frozen=True, slots=True)
class BackpressureSettings:
    """Static limits (None = off) and the adaptive controller's settings."""

    inflight_max: int | None = None
    wal_bytes_max: int | None = None
    wal_age_ms_max: int | None = None
    soft_wal_age_ms_max: int | None = None
    disk_free_pct_min: float | None = None
    venue_queue_max: int = VENUE_OUTBOUND_QUEUE_MAX  # 0 = off
    controller: ControllerSettings = ControllerSettings()

    @property
    def wal_bytes_limit(self) -> int:
        """The bound actually enforced: the configured one, else the WAL's safety bound."""
        return self.wal_bytes_max if self.wal_bytes_max is not None else WAL_BYTES_SAFETY_MAX

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> BackpressureSettings:
        """Read and check every BACKPRESSURE_* variable; ConfigError names the bad one."""
        controller = ControllerSettings(
            enabled=DYNAMIC.read(environ),
            target_wal_age_s=TARGET_WAL_AGE_SEC.read(environ),
            alpha=ALPHA.read(environ),
            beta=BETA.read(environ),
            reject_beta=REJECT_BETA.read(environ),
            limit_min=LIMIT_MIN.read(environ),
            limit_cap=LIMIT_CAP.read(environ),
            tick_ms=TICK_MS.read(environ),
            slew_ratio=SLEW_RATIO.read(environ),
            hysteresis_off_ratio=HYSTERESIS_OFF_RATIO.read(environ),
            limit_initial=INITIAL.read(environ),
            decline_ratio=DECLINE_RATIO.read(environ),
            decline_streak=DECLINE_STREAK.read(environ),
            loop_busy_max=LOOP_BUSY_MAX.read(environ),
        )
        soft_age = SOFT_WAL_AGE_MS_MAX.read(environ)
        hard_age = WAL_AGE_MS_MAX.read(environ)
        if soft_age is not None and hard_age is not None and soft_age > hard_age:
            raise env.ConfigError(
                f"BACKPRESSURE_SOFT_WAL_AGE_MS_MAX={soft_age} is above "
                f"BACKPRESSURE_WAL_AGE_MS_MAX={hard_age}: the soft limit must come first"
            )
        return cls(
            inflight_max=INFLIGHT_MAX.read(environ),
            wal_bytes_max=WAL_BYTES_MAX.read(environ),
            wal_age_ms_max=hard_age,
            soft_wal_age_ms_max=soft_age,
            disk_free_pct_min=DISK_FREE_PCT_MIN.read(environ),
            venue_queue_max=VENUE_QUEUE_MAX.read(environ),
            controller=controller,
        )
