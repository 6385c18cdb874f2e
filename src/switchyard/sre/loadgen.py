"""The load generator's engine: open-loop (scheduled) or closed-loop requests over keep-alive
connections, with latency measured so that coordinated omission is corrected.

Open loop: request k has an intended send time from the profile's schedule. A dispatcher
hands each request, at its time, to an idle connection (at once if it is late, or as soon as
a connection frees up), which sends it and waits for the answer. Latency is measured from
the intended time, so when the server stalls, the requests that should have been sent
meanwhile are charged the time they waited (wrk2's method). Two more histograms keep the
tool honest: service time (from the actual send) and send lag (actual minus intended: how
late the generator itself was).

Closed loop: each connection sends its next request as soon as the previous one is answered,
for the run's duration; latency is then service time.
"""

import asyncio
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from switchyard.sre.histogram import LatencyHistogram
from switchyard.sre.httpclient import Connection, RequestFailed, Response, Target
from switchyard.sre.workload import KIND_CANCEL, KIND_NAMES, KIND_ORDER, RequestFactory

# Event-loop timers have millisecond resolution (libuv's clock and epoll's timeout are in ms),
# so a sleep can end up to ~1 ms late, and that lateness would be charged to the server. We
# sleep until SPIN_WINDOW_NS before the due time, then yield to the loop until it is due:
# precise to tens of µs, at the price of a busy generator core while requests are close.
SPIN_WINDOW_NS = 1_500_000
RECONNECT_BACKOFF_S = 0.01  # pause after a failed reconnect, so a dead server is not spun on
DRAIN_GRACE_S = 1.0  # after the last send, wait at most timeout + this for answers
INTERVAL_SEC_MIN = 0.1


def _now_ns() -> int:
    # perf_counter_ns: monotonic, highest resolution; used for durations only.
    return time.perf_counter_ns()


async def _wait_until(due_ns: int) -> None:
    """Return at `due_ns`: sleep most of the way, then spin (see SPIN_WINDOW_NS)."""
    wait_ns = due_ns - _now_ns()
    if wait_ns > SPIN_WINDOW_NS:
        await asyncio.sleep((wait_ns - SPIN_WINDOW_NS) / 1e9)
    while True:
        if _now_ns() >= due_ns:
            return
        await asyncio.sleep(0)  # yield: other connections send and receive meanwhile


@dataclass(slots=True)
class IntervalSample:
    """One timeline point: what completed in [t_start, t_start + length)."""

    t_sec: float
    completed: int = 0
    errors: int = 0
    histogram: LatencyHistogram = field(default_factory=LatencyHistogram)

    def describe(self) -> dict[str, Any]:
        summary = self.histogram.summary_us()
        return {
            "tSec": round(self.t_sec, 3),
            "completed": self.completed,
            "errors": self.errors,
            "p50Us": summary["p50"],
            "p99Us": summary["p99"],
            "maxUs": summary["max"],
        }


@dataclass(slots=True)
class LoadStats:
    """Everything measured by one run of the engine."""

    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    service: LatencyHistogram = field(default_factory=LatencyHistogram)
    send_lag: LatencyHistogram = field(default_factory=LatencyHistogram)
    by_status: dict[int, int] = field(default_factory=dict)
    by_error: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    completed: int = 0  # got an HTTP answer (any status)
    ok: int = 0  # the answer is the expected one (2xx, or a cancel that lost a race)
    errors: int = 0  # an unexpected answer, or no answer
    dropped: int = 0  # no HTTP answer at all (timeout, connection lost)
    warmup: int = 0  # sent during warm-up, not in any of the numbers above
    cancel_races: int = 0  # cancels answered 404/409 because the order was already final
    first_send_ns: int = 0
    last_done_ns: int = 0
    timeline: list[IntervalSample] = field(default_factory=list)

    @property
    def elapsed_sec(self) -> float:
        if self.last_done_ns <= self.first_send_ns:
            return 0.0
        return (self.last_done_ns - self.first_send_ns) / 1e9

    @property
    def achieved_per_sec(self) -> float:
        elapsed = self.elapsed_sec
        return self.completed / elapsed if elapsed > 0 else 0.0


@dataclass(frozen=True, slots=True)
class EngineConfig:
    mode: str  # "open" | "closed"
    connections: int
    duration_sec: float
    timeout_sec: float
    warmup_sec: float = 0.0
    interval_sec: float | None = None


def error_code_of(response: Response) -> str:
    """The `error` field of a JSON error body, else HTTP_<status>."""
    body = response.body
    start = body.find(b'"error":"')
    if start >= 0:
        start += len(b'"error":"')
        end = body.find(b'"', start)
        if 0 < end - start <= 64:
            return body[start:end].decode("ascii", "replace")
    return f"HTTP_{response.status}"


class Engine:
    """Drives one run; `run()` returns the LoadStats."""

    def __init__(
        self,
        target: Target,
        factory: RequestFactory,
        config: EngineConfig,
        schedule: Iterator[int] | None,
    ) -> None:
        assert config.mode in ("open", "closed")
        assert (schedule is None) == (config.mode == "closed")
        assert config.connections >= 1
        self._target = target
        self._factory = factory
        self._config = config
        self._schedule = schedule
        self._stats = LoadStats()
        self._connections: set[Connection] = set()  # every connection still to be closed
        # Open loop: idle connections wait on these futures for their next intended time.
        self._idle: deque[asyncio.Future[int | None]] = deque()
        self._idle_waiter: asyncio.Future[None] | None = None
        self._start_ns = 0
        self._stop_ns = 0
        self._warmup_end_ns = 0
        self._interval_ns = (
            int(max(config.interval_sec, INTERVAL_SEC_MIN) * 1e9) if config.interval_sec else 0
        )

    async def run(self) -> LoadStats:
        connections = [await self._open() for _ in range(self._config.connections)]
        self._start_ns = _now_ns()
        self._warmup_end_ns = self._start_ns + int(self._config.warmup_sec * 1e9)
        self._stop_ns = self._start_ns + int(self._config.duration_sec * 1e9)
        self._stats.first_send_ns = self._warmup_end_ns
        try:
            async with asyncio.timeout(self._deadline_s()):
                async with asyncio.TaskGroup() as group:
                    for connection in connections:
                        group.create_task(self._worker(connection))
                    if self._schedule is not None:
                        group.create_task(self._dispatch(len(connections)))
        finally:
            for connection in list(self._connections):
                connection.close()
            # Let the transports' connection_lost callbacks run before the loop closes.
            await asyncio.sleep(0)
        assert self._stats.completed + self._stats.dropped == self._stats.sent
        return self._stats

    async def _open(self) -> Connection:
        connection = await Connection.open(self._target)
        self._connections.add(connection)
        return connection

    def _deadline_s(self) -> float:
        return self._config.duration_sec + self._config.timeout_sec * 2 + DRAIN_GRACE_S + 5.0

    async def _dispatch(self, workers: int) -> None:
        """Open loop: hand each request to an idle connection at its intended time.

        Only this task spins near a due time (SPIN_WINDOW_NS); the connections wait on a
        future, so the loop's work per iteration stays small at high rates.
        """
        assert self._schedule is not None
        for offset in self._schedule:
            intended_ns = self._start_ns + offset
            await _wait_until(intended_ns)
            while not self._idle:  # every connection busy: this request waits (and is charged)
                self._idle_waiter = asyncio.get_running_loop().create_future()
                await self._idle_waiter
            self._idle.popleft().set_result(intended_ns)
        for _ in range(workers):
            while not self._idle:
                self._idle_waiter = asyncio.get_running_loop().create_future()
                await self._idle_waiter
            self._idle.popleft().set_result(None)

    async def _next_intended_ns(self) -> int | None:
        """The intended send time of this connection's next request; None ends the run."""
        if self._schedule is None:
            now = _now_ns()
            return now if now < self._stop_ns else None
        assignment: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._idle.append(assignment)
        waiter, self._idle_waiter = self._idle_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return await assignment

    async def _worker(self, connection: Connection) -> None:
        factory = self._factory
        timeout_s = self._config.timeout_sec
        while True:
            intended_ns = await self._next_intended_ns()
            if intended_ns is None:
                return
            planned = factory.next_request()
            if not connection.usable:
                connection = await self._reconnect(connection)
            sent_ns = _now_ns()
            try:
                response: Response | None = await connection.request(planned.data, timeout_s)
                failure = None
            except RequestFailed as error:
                response, failure = None, error.code
            done_ns = _now_ns()
            self._record(
                planned.kind,
                planned.account_index,
                intended_ns,
                sent_ns,
                done_ns,
                response,
                failure,
            )

    async def _reconnect(self, old: Connection) -> Connection:
        old.close()
        self._connections.discard(old)
        try:
            return await self._open()
        except RequestFailed:
            await asyncio.sleep(RECONNECT_BACKOFF_S)
            return old  # still unusable: the request fails fast and is counted

    def _record(
        self,
        kind: int,
        account_index: int,
        intended_ns: int,
        sent_ns: int,
        done_ns: int,
        response: Response | None,
        failure: str | None,
    ) -> None:
        stats = self._stats
        if intended_ns < self._warmup_end_ns:
            stats.warmup += 1
            if response is not None and kind == KIND_ORDER and 200 <= response.status < 300:
                self._factory.on_accepted(account_index, response.body)
            return
        stats.sent += 1
        kind_name = KIND_NAMES[kind]
        stats.by_kind[kind_name] = stats.by_kind.get(kind_name, 0) + 1
        stats.last_done_ns = max(stats.last_done_ns, done_ns)
        # Sent early (timer rounding) means the real client saw done - sent.
        basis_ns = intended_ns if intended_ns < sent_ns else sent_ns
        ok = self._classify(kind, account_index, response, failure)
        if response is not None:
            stats.latency.record_ns(done_ns - basis_ns)
            stats.service.record_ns(done_ns - sent_ns)
            stats.send_lag.record_ns(max(sent_ns - intended_ns, 0))
        if self._interval_ns:
            self._record_interval(done_ns, done_ns - basis_ns, ok, response is not None)

    def _classify(
        self, kind: int, account_index: int, response: Response | None, failure: str | None
    ) -> bool:
        stats = self._stats
        if response is None:
            assert failure is not None
            stats.dropped += 1
            stats.errors += 1
            stats.by_error[failure] = stats.by_error.get(failure, 0) + 1
            return False
        stats.completed += 1
        status = response.status
        stats.by_status[status] = stats.by_status.get(status, 0) + 1
        if 200 <= status < 300:
            stats.ok += 1
            if kind == KIND_ORDER:
                self._factory.on_accepted(account_index, response.body)
            return True
        code = error_code_of(response)
        stats.by_error[code] = stats.by_error.get(code, 0) + 1
        if kind == KIND_CANCEL and (status == 404 or code == "ORDER_FINAL"):
            # The order filled or expired before our cancel arrived: a correct answer.
            stats.ok += 1
            stats.cancel_races += 1
            return True
        stats.errors += 1
        return False

    def _record_interval(self, done_ns: int, latency_ns: int, ok: bool, answered: bool) -> None:
        timeline = self._stats.timeline
        index = max(done_ns - self._warmup_end_ns, 0) // self._interval_ns
        while len(timeline) <= index:
            timeline.append(IntervalSample(len(timeline) * self._interval_ns / 1e9))
        sample = timeline[index]
        if answered:
            sample.completed += 1
            sample.histogram.record_ns(latency_ns)
        if not ok:
            sample.errors += 1


def run_engine(
    target: Target, factory: RequestFactory, config: EngineConfig, schedule: Iterator[int] | None
) -> LoadStats:
    """Run the engine on a fresh uvloop event loop (the CLI's entry point)."""
    import uvloop

    engine = Engine(target, factory, config, schedule)
    result: LoadStats = uvloop.run(engine.run())
    return result
