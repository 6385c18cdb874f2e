"""The adaptive inflight limit: admission hysteresis, the limit law, and the decline rule.

The controller is stepped with the time passed in, so these tests are exact: no sleeps.
"""

from __future__ import annotations

from switchyard.backpressure.controller import InflightController
from switchyard.backpressure.settings import ControllerSettings
from switchyard.core.codes import Reason

TICK_NS = 250_000_000  # the default 250 ms tick


def controller(**overrides: object) -> InflightController:
    values: dict[str, object] = {"enabled": True, **overrides}
    return InflightController(ControllerSettings(**values))  # type: ignore[arg-type]


class Driver:
    """Steps a controller tick by tick with a commit rate (orders/s) and an inflight count."""

    def __init__(self, subject: InflightController) -> None:
        self.subject = subject
        self.now_ns = 0
        self.committed = 0
        subject.step(now_ns=0, committed_total=0, inflight=0, wal_age_ns=0)

    def tick(self, rate_per_s: float, inflight: int = 0, wal_age_s: float = 10.0) -> None:
        """One tick; the WAL age defaults to far above any target (the probe stays off)."""
        self.now_ns += TICK_NS
        self.committed += int(rate_per_s * TICK_NS / 1e9)
        assert self.subject.step(
            now_ns=self.now_ns,
            committed_total=self.committed,
            inflight=inflight,
            wal_age_ns=int(wal_age_s * 1e9),
        )


# --- admission ------------------------------------------------------------------------------


def test_admit_below_the_limit_admits() -> None:
    subject = controller(limit_initial=300)
    assert subject.admit(299) == Reason.NONE
    assert subject.soft_refused == 0


def test_admit_at_the_limit_refuses_soft_and_counts() -> None:
    subject = controller(limit_initial=300)
    assert subject.admit(300) == Reason.BACKPRESSURE_INFLIGHT_SOFT
    assert subject.rejecting is True
    assert subject.soft_refused == 1


def test_admit_keeps_refusing_until_inflight_falls_to_the_hysteresis_mark() -> None:
    subject = controller(limit_initial=300, hysteresis_off_ratio=0.9)
    subject.admit(300)
    assert subject.admit(271) == Reason.BACKPRESSURE_INFLIGHT_SOFT  # off mark is 270
    assert subject.admit(270) == Reason.NONE
    assert subject.rejecting is False


def test_admit_limit_one_does_not_latch_on_a_zero_hysteresis_mark() -> None:
    # The seed cleared its latch only when inflight < floor(L x h) = 0 for L = 1: never.
    subject = controller(limit_min=1, limit_cap=1, limit_initial=1, hysteresis_off_ratio=0.9)
    assert subject.admit(1) == Reason.BACKPRESSURE_INFLIGHT_SOFT
    assert subject.admit(0) == Reason.NONE


def test_admit_full_hysteresis_clears_as_soon_as_below_the_limit() -> None:
    subject = controller(limit_initial=300, hysteresis_off_ratio=1.0)
    subject.admit(300)
    assert subject.admit(299) == Reason.NONE


# --- sampling ---------------------------------------------------------------------------------


def test_step_first_call_only_takes_a_baseline() -> None:
    subject = controller()
    assert subject.step(now_ns=5, committed_total=100, inflight=0, wal_age_ns=0) is False
    assert subject.ticks == 0


def test_step_before_a_tick_has_passed_does_nothing() -> None:
    subject = controller(tick_ms=250)
    subject.step(now_ns=0, committed_total=0, inflight=0, wal_age_ns=0)
    assert subject.step(now_ns=TICK_NS - 1, committed_total=10, inflight=0, wal_age_ns=0) is False
    assert subject.step(now_ns=TICK_NS, committed_total=10, inflight=0, wal_age_ns=0) is True


def test_step_updates_the_rate_ewma_with_beta() -> None:
    subject = controller(limit_initial=2_000, target_wal_age_s=1.0, beta=0.2)
    before = subject.commit_rate  # the seed's start: L0 / T = 2000/s
    Driver(subject).tick(rate_per_s=1_000)
    assert subject.last_tick_rate == 1_000
    assert subject.commit_rate == before + 0.2 * (1_000 - before)


def test_step_limit_converges_to_alpha_rate_target() -> None:
    subject = controller(alpha=0.8, target_wal_age_s=0.1, limit_min=1, limit_initial=50)
    driver = Driver(subject)
    for _ in range(100):
        driver.tick(rate_per_s=5_000)
    assert subject.limit == round(0.8 * 5_000 * 0.1)


def test_step_limit_moves_at_most_one_slew_step_per_tick() -> None:
    subject = controller(slew_ratio=0.2, limit_min=1, limit_initial=1_000, target_wal_age_s=1.0)
    driver = Driver(subject)
    driver.tick(rate_per_s=1_000_000)  # desired far above
    assert subject.limit == 1_200
    for rate in (1e6, 1e6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 50, 5e5, 3, 0):
        before = subject.limit
        driver.tick(rate_per_s=rate)
        assert abs(subject.limit - before) <= max(1, int(before * 0.2)), (before, subject.limit)


def test_step_limit_stays_within_min_and_cap() -> None:
    subject = controller(limit_min=10, limit_cap=40, limit_initial=20, target_wal_age_s=1.0)
    driver = Driver(subject)
    for _ in range(50):
        driver.tick(rate_per_s=0)
    assert subject.limit == 10
    for _ in range(50):
        driver.tick(rate_per_s=1e9)
    assert subject.limit == 40


def test_step_disabled_keeps_rates_live_but_not_the_limit() -> None:
    subject = controller(enabled=False, limit_initial=2_000)
    driver = Driver(subject)
    for _ in range(20):
        driver.tick(rate_per_s=10, inflight=5_000)
    assert subject.limit == 2_000
    assert subject.commit_rate < 100
    assert subject.declining is False


def test_step_soft_refusal_rate_is_measured() -> None:
    subject = controller(limit_initial=300, reject_beta=1.0)
    driver = Driver(subject)
    for _ in range(25):
        subject.admit(10_000)
    driver.tick(rate_per_s=0)
    assert subject.reject_rate == 100.0  # 25 refusals in 0.25 s


# --- rate decline -------------------------------------------------------------------------------


def test_decline_fires_with_the_seed_defaults_when_saturated() -> None:
    # The seed's rule (R_new < d x R_old) could never fire with beta=0.2, d=0.8.
    subject = controller(limit_min=1, limit_initial=400, target_wal_age_s=0.1)
    driver = Driver(subject)
    for _ in range(40):
        driver.tick(rate_per_s=5_000, inflight=10)
    for _ in range(3):
        subject.admit(subject.limit)  # demand hits the limit during the tick
        driver.tick(rate_per_s=1_000, inflight=subject.limit)
    assert subject.declining is True
    assert subject.admit(0) == Reason.BACKPRESSURE_DURABLE_RATE_DECLINE


def test_decline_ends_when_inflight_drains_even_though_the_rate_stays_low() -> None:
    subject = controller(limit_min=1, limit_initial=400, target_wal_age_s=0.1)
    driver = Driver(subject)
    for _ in range(40):
        driver.tick(rate_per_s=5_000, inflight=10)
    for _ in range(3):
        subject.admit(subject.limit)
        driver.tick(rate_per_s=1_000, inflight=subject.limit)
    assert subject.declining
    driver.tick(rate_per_s=0, inflight=0)  # refused orders commit nothing: rate falls further
    assert subject.declining is False
    assert subject.admit(0) == Reason.NONE


def test_decline_never_fires_while_demand_is_below_the_limit() -> None:
    # The seed's latch: with beta > 1 - d, idle ticks started the rule and nothing ended it.
    subject = controller(beta=0.3, decline_ratio=0.8, limit_initial=2_000)
    driver = Driver(subject)
    for _ in range(10):
        driver.tick(rate_per_s=4_000, inflight=3)
    for _ in range(40):
        driver.tick(rate_per_s=0, inflight=0)  # clients went away
    assert subject.declining is False
    assert subject.admit(1) == Reason.NONE


def test_decline_ratio_zero_turns_the_rule_off() -> None:
    subject = controller(decline_ratio=0.0, limit_min=1, limit_initial=400)
    driver = Driver(subject)
    for _ in range(10):
        driver.tick(rate_per_s=5_000)
    for _ in range(10):
        subject.admit(subject.limit)
        driver.tick(rate_per_s=10, inflight=subject.limit)
    assert subject.declining is False


def test_decline_streak_resets_on_a_good_tick() -> None:
    subject = controller(limit_min=1, limit_initial=400, decline_streak=3, target_wal_age_s=0.1)
    driver = Driver(subject)
    for _ in range(40):
        driver.tick(rate_per_s=5_000, inflight=10)
    for rate in (1_000, 1_000, 5_000, 1_000, 1_000):
        subject.admit(subject.limit)
        driver.tick(rate_per_s=rate, inflight=subject.limit)
    assert subject.declining is False


# --- the probe ----------------------------------------------------------------------------------


def test_probe_grows_a_binding_limit_while_the_wal_age_meets_the_target() -> None:
    # Each accept takes 30 ms to become durable (> ALPHA x TARGET = 16 ms, < TARGET = 20 ms):
    # the seed's law alone shrinks to MIN, because the rate it measures is what it let through.
    subject = controller(limit_min=4, limit_initial=100, target_wal_age_s=0.02, slew_ratio=0.2)
    driver = Driver(subject)
    for _ in range(20):
        limit = subject.limit
        subject.admit(limit)  # demand hits the limit
        driver.tick(rate_per_s=limit / 0.03, inflight=limit, wal_age_s=0.03 * 0.6)
        assert subject.limit > limit
    assert subject.limit > 100


def test_probe_is_off_when_the_wal_age_exceeds_the_target() -> None:
    subject = controller(limit_min=4, limit_initial=100, target_wal_age_s=0.02)
    driver = Driver(subject)
    for _ in range(30):
        limit = subject.limit
        subject.admit(limit)
        driver.tick(rate_per_s=limit / 0.03, inflight=limit, wal_age_s=0.03)
    assert subject.limit == 4


def test_step_uses_the_largest_wal_age_seen_during_the_tick() -> None:
    subject = controller(limit_min=4, limit_initial=100, target_wal_age_s=0.02)
    subject.step(now_ns=0, committed_total=0, inflight=0, wal_age_ns=0)
    subject.step(now_ns=TICK_NS // 2, committed_total=0, inflight=0, wal_age_ns=50_000_000)
    subject.admit(100)
    subject.step(now_ns=TICK_NS, committed_total=100, inflight=100, wal_age_ns=1_000_000)
    assert subject.last_tick_wal_age_s == 0.05
    assert subject.limit < 100  # the 50 ms sample counted: no probe


def test_decline_needs_the_wal_age_over_the_target() -> None:
    # A busy loop also lowers the durable rate; with the backlog within its target the disk is
    # not the cause and refusing everything would not help.
    subject = controller(limit_min=1, limit_initial=400, target_wal_age_s=0.1)
    driver = Driver(subject)
    for _ in range(40):
        driver.tick(rate_per_s=5_000, inflight=10, wal_age_s=0.01)
    for _ in range(5):
        subject.admit(subject.limit)
        driver.tick(rate_per_s=1_000, inflight=subject.limit, wal_age_s=0.05)
    assert subject.declining is False


# --- loop budget ------------------------------------------------------------------------------


class BusyDriver:
    """Ticks at WAL age 0 (the probe wants to grow) with the loop's CPU share per tick."""

    def __init__(self, subject: InflightController) -> None:
        self.subject = subject
        self.tick_index = 0
        self.cpu_ns = 0
        subject.step(now_ns=0, committed_total=0, inflight=0, wal_age_ns=0, loop_cpu_ns=0)

    def tick(self, busy: float, *, refused: bool = True) -> None:
        if refused:
            self.subject.admit(self.subject.limit)  # demand is at the limit
        self.tick_index += 1
        self.cpu_ns += int(busy * TICK_NS)
        assert self.subject.step(
            now_ns=self.tick_index * TICK_NS,
            committed_total=self.tick_index * 1000,
            inflight=0,
            wal_age_ns=0,
            loop_cpu_ns=self.cpu_ns,
        )


def test_loop_budget_halves_the_limit_when_the_loop_is_over_it() -> None:
    subject = controller(limit_initial=400, limit_min=16, loop_busy_max=0.8, target_wal_age_s=1.0)
    driver = BusyDriver(subject)

    driver.tick(0.95)
    assert subject.limit == 200
    assert subject.last_tick_loop_busy == 0.95
    driver.tick(0.9)
    assert subject.limit == 100


def test_loop_budget_lets_the_probe_grow_again_below_the_budget() -> None:
    subject = controller(limit_initial=400, limit_min=16, loop_busy_max=0.8, target_wal_age_s=1.0)
    driver = BusyDriver(subject)
    driver.tick(0.95)

    driver.tick(0.5)

    assert subject.limit == 240  # the probe: one slew step (20%) up from 200


def test_loop_budget_never_goes_below_min() -> None:
    subject = controller(limit_initial=20, limit_min=16, loop_busy_max=0.8)
    driver = BusyDriver(subject)

    driver.tick(1.0)

    assert subject.limit == 16


def test_loop_budget_off_or_unknown_cpu_leaves_the_law_alone() -> None:
    off = controller(limit_initial=400, limit_min=16, target_wal_age_s=1.0)
    BusyDriver(off).tick(0.99)
    unknown = controller(limit_initial=400, limit_min=16, loop_busy_max=0.8, target_wal_age_s=1.0)
    unknown.step(now_ns=0, committed_total=0, inflight=0, wal_age_ns=0)
    unknown.admit(400)
    unknown.step(now_ns=TICK_NS, committed_total=1000, inflight=0, wal_age_ns=0)

    assert off.limit == 480  # the probe grew it
    assert unknown.limit == 480
    assert unknown.last_tick_loop_busy is None


def test_loop_budget_holds_the_limit_just_below_the_budget() -> None:
    subject = controller(limit_initial=400, limit_min=16, loop_busy_max=0.8, target_wal_age_s=1.0)
    driver = BusyDriver(subject)

    driver.tick(0.75)  # over 85% of the budget, under the budget: no probe

    assert subject.limit == 400
