"""The adaptive inflight limit (BACKPRESSURE_INFLIGHT_DYNAMIC): a clock-free controller.

Owns the limit L, the durable-commit-rate EWMA R, the soft-refusal-rate EWMA, the admission
hysteresis and the rate-decline state. It is stepped with the time passed in (`step(now_ns=...,
committed_total=..., inflight=...)`) and asked per order (`admit(inflight)`), so a simulation
or a test drives it exactly like the gateway's timer does. It must not read a clock, sleep,
log or do I/O.

Control law (docs/BACKPRESSURE.md has the derivation and plots), once per tick of dt seconds:

    r  = durable commits in the tick / dt                  (accepted orders made durable)
    R <- (1 - BETA) R + BETA r
    L* = clamp(round(ALPHA x R x TARGET_WAL_AGE_SEC), MIN, CAP)     (Little: inflight = R x age)
    s  = max(1, floor(SLEW_RATIO x L))
    L <- L + s            if the limit refused orders in the tick while the oldest non-durable
                          record stayed within TARGET (the probe, see below)
    L <- L* if |L* - L| <= s else L +- s                                         (otherwise)

The probe is ours: when the limit binds, R is what the limit let through, so L* = ALPHA x R x T
can only shrink whenever one accept-to-durable round trip exceeds ALPHA x T, even if the
backlog meets T (the seed collapsed to MIN then). Growing while the measured WAL age is within
T keeps the backlog between ALPHA x T and T when the disk is the bottleneck, and sheds nothing
when it is not; when even one round trip is slower than T, L falls to MIN (documented).

Admission: refuse (429 BACKPRESSURE_INFLIGHT_SOFT) when inflight >= L, and keep refusing
until inflight falls to floor(HYSTERESIS_OFF_RATIO x L) (at most L - 1, at least 0: the
seed's floor(L x h) could be 0 with L = 1, a threshold inflight never goes below).

Rate decline (429 BACKPRESSURE_DURABLE_RATE_DECLINE), redesigned because the seed's rule was
dead with its defaults and latched otherwise (reference §10.2): a tick counts as declining
only when this tick's rate r < DECLINE_RATIO x R_before *and* the WAL was behind during it
(admission saturated: inflight refusals happened or inflight was at the hysteresis mark; and
the oldest non-durable record older than TARGET), i.e. the disk, not the clients or a busy
loop, set the rate. DECLINE_STREAK such ticks in a row start refusing every order; the
refusal ends at the first tick where inflight has drained to the hysteresis mark. Refusing
admits nothing, so inflight only falls while the disk makes progress: the exit condition
does not depend on the rate recovering, which is what made the seed's version latch.

Loop budget (LOOP_BUSY_MAX > 0, ours): the caller also passes the event loop thread's CPU
time; when its share of the tick exceeds LOOP_BUSY_MAX, L halves (never below MIN) and does
not grow that tick. A refusal is cheap but not free (a few microseconds of parsing and
answering), so far above capacity the refusals alone take much of the loop; orders admitted
on top of them saturate it, every request then queues in the kernel and all answers, refusals
included, wait. Neither the WAL age nor the commit rate sees that in time (the disk keeps up).
Halving on an overloaded tick, holding while within 85% of the budget and probing up again
below that keeps the loop near the budget.

Why L cannot latch either: L >= MIN >= 1, so orders keep being admitted and R keeps measuring
what the disk really does; when the disk speeds up R rises and L follows, SLEW_RATIO per tick.
"""

from __future__ import annotations

from typing import Final

from switchyard.core.codes import Reason

from .settings import ControllerSettings

_NS_PER_S: Final = 1_000_000_000
_ADMIT: Final = Reason.NONE
_SOFT: Final = Reason.BACKPRESSURE_INFLIGHT_SOFT
_DECLINE: Final = Reason.BACKPRESSURE_DURABLE_RATE_DECLINE
# Loop budget: between this share of LOOP_BUSY_MAX and LOOP_BUSY_MAX the limit holds (no probe
# and no growth): growing there overshoots the budget on the next tick, and the overloaded
# tick queues every request (5x capacity, two alternating A/B pairs: accepted p99 14.8 and
# 11.1 ms without the band, 9.3 and 8.3 ms with it).
_LOOP_GROW_RATIO: Final = 0.85


class InflightController:
    """See the module docstring. Not thread-safe; every call happens on one thread."""

    __slots__ = (
        "_age_max_ns",
        "_alpha",
        "_beta",
        "_cap",
        "_decline_ratio",
        "_decline_streak_max",
        "_hysteresis",
        "_last_committed",
        "_last_inflight_refused",
        "_last_loop_cpu_ns",
        "_last_ns",
        "_last_soft",
        "_loop_busy_max",
        "_min",
        "_reject_beta",
        "_slew",
        "_target_s",
        "_tick_ns",
        "commit_rate",
        "decline_refused",
        "decline_streak",
        "declining",
        "enabled",
        "last_tick_loop_busy",
        "last_tick_rate",
        "last_tick_wal_age_s",
        "limit",
        "off_threshold",
        "reject_rate",
        "rejecting",
        "soft_refused",
        "ticks",
    )

    def __init__(self, settings: ControllerSettings) -> None:
        # config
        self.enabled = settings.enabled
        self._alpha = settings.alpha
        self._beta = settings.beta
        self._reject_beta = settings.reject_beta
        self._min = settings.limit_min
        self._cap = settings.limit_cap
        self._target_s = settings.target_wal_age_s
        self._tick_ns = settings.tick_ms * 1_000_000
        self._slew = settings.slew_ratio
        self._hysteresis = settings.hysteresis_off_ratio
        self._decline_ratio = settings.decline_ratio
        self._decline_streak_max = settings.decline_streak
        self._loop_busy_max = settings.loop_busy_max
        # state read by metrics, /stats and the plots
        self.limit = settings.initial_clamped
        self.off_threshold = self._off_for(self.limit)
        self.commit_rate = self.limit / self._target_s  # the seed's start: the limit is right
        self.last_tick_rate = 0.0
        self.last_tick_wal_age_s = 0.0
        self.last_tick_loop_busy: float | None = None  # loop CPU share of the last tick
        self.reject_rate = 0.0
        self.rejecting = False
        self.declining = False
        self.decline_streak = 0
        self.soft_refused = 0  # BACKPRESSURE_INFLIGHT_SOFT answers
        self.decline_refused = 0  # BACKPRESSURE_DURABLE_RATE_DECLINE answers
        self.ticks = 0
        # the previous sample (None until the first step)
        self._last_ns: int | None = None
        self._last_committed = 0
        self._last_soft = 0
        self._last_inflight_refused = 0
        self._last_loop_cpu_ns: int | None = None
        self._age_max_ns = 0  # oldest non-durable record's age, the largest seen this tick

    # --- per order (hot path) ------------------------------------------------------------

    def admit(self, inflight: int) -> Reason:
        """NONE to admit one more order, else the soft refusal's reason (and count it)."""
        if self.declining:
            self.decline_refused += 1
            return _DECLINE
        if self.rejecting:
            if inflight > self.off_threshold:
                self.soft_refused += 1
                return _SOFT
            self.rejecting = False
        if inflight >= self.limit:
            self.rejecting = True
            self.soft_refused += 1
            return _SOFT
        return _ADMIT

    # --- per tick ----------------------------------------------------------------------------

    def step(
        self,
        *,
        now_ns: int,
        committed_total: int,
        inflight: int,
        wal_age_ns: int,
        loop_cpu_ns: int | None = None,
    ) -> bool:
        """Sample if a tick has passed since the last sample; True when it did.

        `committed_total`: accepted orders made durable since start (never decreases);
        `inflight`: accepted orders not durable yet, now; `wal_age_ns`: age of the oldest
        record not yet durable, now (0: none); `loop_cpu_ns`: CPU time of the thread that
        runs admission and answers, since any fixed origin (None: unknown, the loop budget
        is not applied). Call it as often as you like: the WAL age of every call counts (the
        tick uses the largest seen since the previous tick).
        """
        assert inflight >= 0, inflight
        assert wal_age_ns >= 0, wal_age_ns
        if wal_age_ns > self._age_max_ns:
            self._age_max_ns = wal_age_ns
        if self._last_ns is None:
            self._remember(now_ns, committed_total)
            self._last_loop_cpu_ns = loop_cpu_ns
            return False
        elapsed_ns = now_ns - self._last_ns
        assert elapsed_ns >= 0, (now_ns, self._last_ns)
        if elapsed_ns < self._tick_ns:
            return False
        assert committed_total >= self._last_committed, (committed_total, self._last_committed)
        elapsed_s = elapsed_ns / _NS_PER_S
        rate = (committed_total - self._last_committed) / elapsed_s
        before = self.commit_rate
        self.commit_rate = before + self._beta * (rate - before)
        self.last_tick_rate = rate
        self.last_tick_wal_age_s = self._age_max_ns / _NS_PER_S
        soft = self.soft_refused + self.decline_refused - self._last_soft
        self.reject_rate += self._reject_beta * (soft / elapsed_s - self.reject_rate)
        saturated = self.soft_refused > self._last_inflight_refused or (
            inflight >= self.off_threshold
        )
        busy = None
        if loop_cpu_ns is not None and self._last_loop_cpu_ns is not None:
            assert loop_cpu_ns >= self._last_loop_cpu_ns, (loop_cpu_ns, self._last_loop_cpu_ns)
            busy = (loop_cpu_ns - self._last_loop_cpu_ns) / elapsed_ns
        self.last_tick_loop_busy = busy
        self._last_loop_cpu_ns = loop_cpu_ns
        if self.enabled:
            budget = self._loop_busy_max  # 0: off
            if budget and busy is not None and busy > budget:
                self._step_limit_busy()
            else:
                self._step_limit(
                    saturated=saturated,
                    wal_age_s=self.last_tick_wal_age_s,
                    may_grow=not budget or busy is None or busy <= budget * _LOOP_GROW_RATIO,
                )
            behind = saturated and self.last_tick_wal_age_s > self._target_s
            self._step_decline(rate, before, behind=behind, inflight=inflight)
        self.ticks += 1
        self._remember(now_ns, committed_total)
        return True

    def _step_limit(self, *, saturated: bool, wal_age_s: float, may_grow: bool = True) -> None:
        desired = round(self._alpha * self.commit_rate * self._target_s)
        desired = min(max(desired, self._min), self._cap)
        limit = self.limit
        step = max(1, int(limit * self._slew))
        if saturated and wal_age_s <= self._target_s and desired <= limit:
            # The limit refused orders although the backlog met its target: the measured rate
            # is what the limit let through, not what the disk can do. Probe one step up.
            limit = min(self._cap, limit + step)
        elif desired > limit + step:
            limit += step
        elif desired < limit - step:
            limit -= step
        else:
            limit = desired
        if not may_grow:
            limit = min(limit, self.limit)  # the loop is near its budget: hold or shrink
        assert self._min <= limit <= self._cap, (limit, self._min, self._cap)
        self.limit = limit
        self.off_threshold = self._off_for(limit)

    def _step_limit_busy(self) -> None:
        """The loop spent more than its budget: halve the limit (multiplicative decrease)."""
        limit = max(self._min, self.limit // 2)
        assert limit <= self.limit, (limit, self.limit)
        self.limit = limit
        self.off_threshold = self._off_for(limit)

    def _step_decline(self, rate: float, before: float, *, behind: bool, inflight: int) -> None:
        if self.declining:
            if inflight <= self.off_threshold:  # drained: the disk kept up with what it had
                self.declining = False
                self.decline_streak = 0
            return
        if self._decline_ratio > 0 and behind and rate < self._decline_ratio * before:
            self.decline_streak += 1
        else:
            self.decline_streak = 0
        if self.decline_streak >= self._decline_streak_max:
            self.declining = True
            self.decline_streak = 0

    def _off_for(self, limit: int) -> int:
        off = min(limit - 1, int(limit * self._hysteresis))
        assert 0 <= off < limit, (off, limit)
        return off

    def _remember(self, now_ns: int, committed_total: int) -> None:
        self._age_max_ns = 0
        self._last_ns = now_ns
        self._last_committed = committed_total
        self._last_soft = self.soft_refused + self.decline_refused
        self._last_inflight_refused = self.soft_refused

    def describe(self) -> dict[str, object]:
        """The controller's state for /stats, /health and /api/admin."""
        return {
            "enabled": self.enabled,
            "limit": self.limit,
            "limitMin": self._min,
            "limitCap": self._cap,
            "offThreshold": self.off_threshold,
            "commitRateEwma": round(self.commit_rate, 1),
            "lastTickRate": round(self.last_tick_rate, 1),
            "lastTickWalAgeMs": round(self.last_tick_wal_age_s * 1000, 3),
            "lastTickLoopBusy": None
            if self.last_tick_loop_busy is None
            else round(self.last_tick_loop_busy, 3),
            "loopBusyMax": self._loop_busy_max or None,
            "softRejectRateEwma": round(self.reject_rate, 1),
            "rejecting": self.rejecting,
            "rateDeclining": self.declining,
            "declineStreak": self.decline_streak,
            "ticks": self.ticks,
        }
