"""A deterministic plant for the adaptive limit: clients, admission and a group-commit WAL.

Owns a millisecond-step model used by the plots in docs/BACKPRESSURE.md and by the tests
that prove the controller cannot latch: clients offer `offered_per_s(t)` orders per second
(deterministic, fractional arrivals carried over), each admitted order appends one record,
and a writer takes up to `batch_max` pending records per fdatasync that lasts
`fsync_s(t)`. The controller is the real one, stepped with the simulated time. It must not
read a clock, draw random numbers or do I/O: the same scenario always gives the same run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from .controller import InflightController

_NS_PER_MS = 1_000_000


@dataclass(frozen=True, slots=True)
class Scenario:
    """What the world does: offered load and fdatasync time as functions of time (seconds)."""

    duration_s: float
    offered_per_s: Callable[[float], float]
    fsync_s: Callable[[float], float]
    batch_max: int = 64  # AUDIT_FDATASYNC_MAX_BATCH
    sample_every_ms: int = 50


@dataclass(slots=True)
class Sample:
    """One point of a run, averaged over the sampling interval where it is a rate."""

    t_s: float
    limit: int
    commit_rate_ewma: float
    inflight: int
    wal_age_ms: float
    offered_per_s: float
    admitted_per_s: float
    refused_per_s: float
    committed_per_s: float
    declining: bool


@dataclass(slots=True)
class Run:
    samples: list[Sample] = field(default_factory=list)
    admitted: int = 0
    refused: int = 0
    committed: int = 0
    inflight_max: int = 0
    wal_age_ms_max: float = 0.0


@dataclass(slots=True)
class _Writer:
    pending: deque[int] = field(default_factory=deque)  # append time (ns) per record
    batch: int = 0  # records in the fdatasync under way
    done_ns: int = 0  # when it completes


def simulate(controller: InflightController, scenario: Scenario) -> Run:
    """Run the scenario against the controller (admission = its `admit`; no static rules)."""
    run = Run()
    writer = _Writer()
    carry = 0.0
    inflight = 0
    interval = _Interval()
    steps = int(scenario.duration_s * 1000)
    for step in range(steps):
        now_ns = step * _NS_PER_MS
        t_s = step / 1000
        carry += scenario.offered_per_s(t_s) / 1000
        arrivals = int(carry)
        carry -= arrivals
        for _ in range(arrivals):
            if controller.admit(inflight):
                interval.refused += 1
                continue
            inflight += 1
            interval.admitted += 1
            writer.pending.append(now_ns)
        interval.offered += arrivals
        committed = _write(writer, now_ns, scenario.fsync_s(t_s), scenario.batch_max)
        inflight -= committed
        run.committed += committed
        interval.committed += committed
        assert inflight == len(writer.pending), (inflight, len(writer.pending))
        age_ns = now_ns - writer.pending[0] if writer.pending else 0
        controller.step(
            now_ns=now_ns, committed_total=run.committed, inflight=inflight, wal_age_ns=age_ns
        )
        age_ms = age_ns / _NS_PER_MS
        run.inflight_max = max(run.inflight_max, inflight)
        run.wal_age_ms_max = max(run.wal_age_ms_max, age_ms)
        if (step + 1) % scenario.sample_every_ms == 0:
            run.samples.append(interval.sample(t_s, controller, inflight, age_ms, scenario))
            run.admitted += interval.admitted
            run.refused += interval.refused
            interval = _Interval()
    run.admitted += interval.admitted
    run.refused += interval.refused
    return run


def _write(writer: _Writer, now_ns: int, fsync_s: float, batch_max: int) -> int:
    """Advance the writer to `now_ns`; the number of records made durable in this step."""
    durable = 0
    if writer.batch and now_ns >= writer.done_ns:
        for _ in range(writer.batch):
            writer.pending.popleft()
        durable = writer.batch
        writer.batch = 0
    if not writer.batch and writer.pending:
        # Records appended while the previous sync ran wait for the next one (group commit).
        writer.batch = min(len(writer.pending), batch_max)
        writer.done_ns = now_ns + max(_NS_PER_MS, int(fsync_s * 1e9))
    return durable


@dataclass(slots=True)
class _Interval:
    offered: int = 0
    admitted: int = 0
    refused: int = 0
    committed: int = 0

    def sample(
        self,
        t_s: float,
        controller: InflightController,
        inflight: int,
        age_ms: float,
        scenario: Scenario,
    ) -> Sample:
        per_s = 1000 / scenario.sample_every_ms
        return Sample(
            t_s=round(t_s, 3),
            limit=controller.limit,
            commit_rate_ewma=controller.commit_rate,
            inflight=inflight,
            wal_age_ms=age_ms,
            offered_per_s=self.offered * per_s,
            admitted_per_s=self.admitted * per_s,
            refused_per_s=self.refused * per_s,
            committed_per_s=self.committed * per_s,
            declining=controller.declining,
        )
