"""Plots of the adaptive inflight limit for docs/BACKPRESSURE.md (`make backpressure-plots`).

Runs the real controller (switchyard.backpressure) against the deterministic plant
(switchyard.backpressure.simulation: clients, admission, a group-commit WAL writer taking up
to 64 records per fdatasync) and draws, over time: offered / admitted / refused / committed
rates, the limit and the inflight count, and the WAL age against the target.

- step-load.png: 0.5x -> 5x -> 0.5x the disk's capacity;
- slow-disk.png: 0.6x load while every fdatasync takes 10x longer for 10 s;
- idle-gap-seed.png, idle-gap-ours.png: the seed's rules (reference §10.2: decline on R_new < d R_old, no probe,
  floor hysteresis) with BETA = 0.3 against ours, through an idle gap: the seed keeps
  refusing after the clients come back, ours does not.

    python -m bench.overload.plot_controller [--out docs/backpressure]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from switchyard.backpressure.controller import InflightController
from switchyard.backpressure.settings import ControllerSettings
from switchyard.backpressure.simulation import Run, Scenario, simulate
from switchyard.core.codes import Reason

BATCH = 64
FSYNC_S = 0.002
CAPACITY = BATCH / FSYNC_S  # 32,000 records/s
SETTINGS = ControllerSettings(
    enabled=True,
    target_wal_age_s=0.05,
    limit_min=16,
    limit_cap=4096,
    limit_initial=256,
    tick_ms=100,
)


class SeedController(InflightController):
    """The seed's controller as reference §10.2 describes it, bugs included (plots only)."""

    __slots__ = ()

    def admit(self, inflight: int) -> Reason:
        if self.declining:
            self.decline_refused += 1
            return Reason.BACKPRESSURE_DURABLE_RATE_DECLINE
        if self.rejecting:
            if inflight >= int(self.limit * self._hysteresis):
                self.soft_refused += 1
                return Reason.BACKPRESSURE_INFLIGHT_SOFT
            self.rejecting = False
        if inflight >= self.limit:
            self.rejecting = True
            self.soft_refused += 1
            return Reason.BACKPRESSURE_INFLIGHT_SOFT
        return Reason.NONE

    def _step_limit(self, *, saturated: bool, wal_age_s: float, may_grow: bool = True) -> None:
        del may_grow  # the seed had no loop budget
        desired = min(
            max(round(self._alpha * self.commit_rate * self._target_s), self._min), self._cap
        )
        step = max(1, int(self.limit * self._slew))
        if desired > self.limit + step:
            self.limit += step
        elif desired < self.limit - step:
            self.limit -= step
        else:
            self.limit = desired
        self.off_threshold = max(0, int(self.limit * self._hysteresis) - 1)

    def _step_decline(self, rate: float, before: float, *, behind: bool, inflight: int) -> None:
        if self.commit_rate < self._decline_ratio * before:
            self.decline_streak += 1
        else:
            self.decline_streak = 0
        self.declining = self.decline_streak >= self._decline_streak_max


def draw(run: Run, title: str, path: Path, *, target_s: float, events: list[float]) -> None:
    t = [s.t_s for s in run.samples]
    figure, (rates, limit, age) = plt.subplots(3, 1, figsize=(10, 8.5), sharex=True)
    rates.plot(t, [s.offered_per_s / 1000 for s in run.samples], label="offered", color="0.6")
    rates.plot(t, [s.admitted_per_s / 1000 for s in run.samples], label="admitted", color="C0")
    rates.plot(t, [s.refused_per_s / 1000 for s in run.samples], label="refused (429)", color="C3")
    rates.plot(
        t, [s.committed_per_s / 1000 for s in run.samples], label="durable", color="C2", ls="--"
    )
    rates.set_ylabel("orders/s (thousands)")
    rates.legend(loc="upper right", fontsize=8)
    limit.plot(t, [s.limit for s in run.samples], label="limit L", color="C1")
    limit.plot(t, [s.inflight for s in run.samples], label="inflight", color="C0", alpha=0.7)
    limit.plot(
        t,
        [s.commit_rate_ewma * target_s for s in run.samples],
        label="R x TARGET",
        color="0.5",
        ls=":",
    )
    limit.set_ylabel("orders")
    limit.set_yscale("symlog", linthresh=10)
    limit.legend(loc="upper right", fontsize=8)
    age.plot(
        t, [s.wal_age_ms for s in run.samples], label="WAL age (oldest not durable)", color="C4"
    )
    age.axhline(target_s * 1000, color="0.3", ls="--", lw=1, label="TARGET_WAL_AGE")
    age.set_ylabel("ms")
    age.set_xlabel("seconds")
    age.legend(loc="upper right", fontsize=8)
    for axis in (rates, limit, age):
        for event in events:
            axis.axvline(event, color="0.8", lw=1)
        axis.grid(alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def step_load(out: Path) -> None:
    scenario = Scenario(
        duration_s=25,
        offered_per_s=lambda t: 5 * CAPACITY if 5 <= t < 15 else 0.5 * CAPACITY,
        fsync_s=lambda t: FSYNC_S,
        batch_max=BATCH,
    )
    run = simulate(InflightController(SETTINGS), scenario)
    draw(
        run,
        "Step in load: 0.5x -> 5x -> 0.5x of the WAL's capacity (32k records/s)",
        out / "step-load.png",
        target_s=SETTINGS.target_wal_age_s,
        events=[5, 15],
    )


def slow_disk(out: Path) -> None:
    scenario = Scenario(
        duration_s=25,
        offered_per_s=lambda t: 0.6 * CAPACITY,
        fsync_s=lambda t: 10 * FSYNC_S if 5 <= t < 15 else FSYNC_S,
        batch_max=BATCH,
    )
    run = simulate(InflightController(SETTINGS), scenario)
    draw(
        run,
        "Slow disk: fdatasync 2 ms -> 20 ms for 10 s at 0.6x load",
        out / "slow-disk.png",
        target_s=SETTINGS.target_wal_age_s,
        events=[5, 15],
    )


def seed_latch(out: Path) -> None:
    def load(t: float) -> float:
        return 0.0 if 4 <= t < 6 else 0.5 * CAPACITY

    scenario = Scenario(
        duration_s=14, offered_per_s=load, fsync_s=lambda t: FSYNC_S, batch_max=BATCH
    )
    settings = ControllerSettings(
        enabled=True,
        target_wal_age_s=0.05,
        beta=0.3,
        limit_min=16,
        limit_cap=4096,
        limit_initial=256,
        tick_ms=250,
    )
    for name, label, controller in (
        ("seed", "the seed's rules", SeedController(settings)),
        ("ours", "this gateway's rules", InflightController(settings)),
    ):
        run = simulate(controller, scenario)
        draw(
            run,
            f"Idle gap with BETA=0.3, DECLINE_RATIO=0.8 ({label})",
            out / f"idle-gap-{name}.png",
            target_s=settings.target_wal_age_s,
            events=[4, 6],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/backpressure"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    step_load(args.out)
    slow_disk(args.out)
    seed_latch(args.out)
    print(f"plots written to {args.out}")


if __name__ == "__main__":
    main()
