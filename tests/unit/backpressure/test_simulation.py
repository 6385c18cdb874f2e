"""The adaptive limit against the deterministic plant: it sheds an overload, shrinks on a slow
disk, and always recovers once the world is calm again (it cannot latch).

Assertions are on direction and bounds, never on exact times (docs/BACKPRESSURE.md has the
plots of the same scenarios).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from switchyard.backpressure.controller import InflightController
from switchyard.backpressure.settings import ControllerSettings
from switchyard.backpressure.simulation import Run, Scenario, simulate

BATCH = 4
FAST_FSYNC_S = 0.004  # capacity = BATCH / fsync = 1000 orders/s
CAPACITY = BATCH / FAST_FSYNC_S
CONTROLLER = ControllerSettings(
    enabled=True,
    target_wal_age_s=0.05,
    limit_min=4,
    limit_cap=400,
    limit_initial=40,
    tick_ms=100,
)


def run(scenario: Scenario, settings: ControllerSettings = CONTROLLER) -> Run:
    return simulate(InflightController(settings), scenario)


def window(result: Run, start_s: float, end_s: float) -> list:  # type: ignore[type-arg]
    return [s for s in result.samples if start_s <= s.t_s < end_s]


def test_simulation_step_overload_is_shed_and_refusals_stop_after_it() -> None:
    result = run(
        Scenario(
            duration_s=12,
            offered_per_s=lambda t: 5 * CAPACITY if 3 <= t < 7 else 0.5 * CAPACITY,
            fsync_s=lambda t: FAST_FSYNC_S,
            batch_max=BATCH,
        )
    )
    calm = window(result, 0, 3)
    overload = window(result, 4, 7)
    after = window(result, 9, 12)
    assert sum(s.refused_per_s for s in calm) == 0
    offered = sum(s.offered_per_s for s in overload)
    refused = sum(s.refused_per_s for s in overload)
    assert refused >= 0.7 * offered  # at least the excess (4/5) minus what the limit admits
    assert max(s.committed_per_s for s in overload) <= 1.1 * CAPACITY
    assert sum(s.refused_per_s for s in after) == 0
    assert result.inflight_max <= CONTROLLER.limit_cap
    assert all(CONTROLLER.limit_min <= s.limit <= CONTROLLER.limit_cap for s in result.samples)


def test_simulation_slow_disk_shrinks_the_limit_and_it_recovers() -> None:
    result = run(
        Scenario(
            duration_s=15,
            offered_per_s=lambda t: 0.6 * CAPACITY,
            fsync_s=lambda t: 10 * FAST_FSYNC_S if 5 <= t < 10 else FAST_FSYNC_S,
            batch_max=BATCH,
        )
    )
    before = window(result, 3, 5)
    slow = window(result, 8, 10)
    after = window(result, 13, 15)
    limit_before = min(s.limit for s in before)
    assert max(s.limit for s in slow) < limit_before
    assert sum(s.refused_per_s for s in slow) > sum(s.refused_per_s for s in before)
    assert min(s.limit for s in after) > max(s.limit for s in slow)
    assert sum(s.refused_per_s for s in after) == 0


def test_simulation_wal_age_settles_near_the_target_under_overload() -> None:
    result = run(
        Scenario(
            duration_s=8,
            offered_per_s=lambda t: 5 * CAPACITY,
            fsync_s=lambda t: FAST_FSYNC_S,
            batch_max=BATCH,
        )
    )
    settled = window(result, 5, 8)
    target_ms = CONTROLLER.target_wal_age_s * 1000
    assert max(s.wal_age_ms for s in settled) <= 2 * target_ms
    assert min(s.committed_per_s for s in settled) >= 0.8 * CAPACITY  # shedding keeps the disk busy


phases = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=8.0),  # offered load, multiples of capacity
        st.floats(min_value=1.0, max_value=30.0),  # fsync slowdown factor
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=12, deadline=None, derandomize=True)
@given(
    phases=phases,
    beta=st.floats(min_value=0.05, max_value=1.0),
    decline_ratio=st.floats(min_value=0.0, max_value=0.95),
)
def test_simulation_never_latches_after_any_disturbance(
    phases: list[tuple[float, float]], beta: float, decline_ratio: float
) -> None:
    settings_ = ControllerSettings(
        enabled=True,
        target_wal_age_s=0.05,
        beta=beta,
        decline_ratio=decline_ratio,
        decline_streak=2,
        limit_min=4,
        limit_cap=400,
        limit_initial=40,
        tick_ms=100,
    )
    phase_s = 1.5
    calm_s = 3.0
    disturbed_s = phase_s * len(phases)

    def load(t: float) -> float:
        index = int(t / phase_s)
        return phases[index][0] * CAPACITY if index < len(phases) else 0.5 * CAPACITY

    def fsync(t: float) -> float:
        index = int(t / phase_s)
        return phases[index][1] * FAST_FSYNC_S if index < len(phases) else FAST_FSYNC_S

    result = run(
        Scenario(
            duration_s=disturbed_s + calm_s,
            offered_per_s=load,
            fsync_s=fsync,
            batch_max=BATCH,
        ),
        settings_,
    )
    tail = window(result, disturbed_s + calm_s - 1.0, disturbed_s + calm_s)
    assert sum(s.refused_per_s for s in tail) == 0, tail
    assert not any(s.declining for s in tail)
    assert all(settings_.limit_min <= s.limit <= settings_.limit_cap for s in result.samples)
