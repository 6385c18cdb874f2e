"""Admission: may one more order in? The static limits, the adaptive limit, refusal counts.

Owns the order in which the rules are asked, what each rule reads, which reason code, hard or
soft level and retry hint a refusal carries, and the per-reason refusal counts. The signals
are read from objects passed in, typed by Protocols (the journal's counters, the node's order
counters, the venue's queue depth, a monotonic clock function), so the rules are pure: no
clock of their own, no I/O, no HTTP. Slow signals are *observed* from a timer (`observe`:
free space is a statvfs call, never made per order).

Hot path: `check()` runs for every POST /orders before the body is decoded, reading plain
attributes (no probe calls); a refusal is a small int index into `KINDS`, turned into the
caller's answer by `respond(index)`. Rules that are off cost one attribute test each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Generic, Protocol, TypeVar

from switchyard.core.codes import Reason

from .controller import InflightController
from .settings import WAL_BYTES_SAFETY_MAX, BackpressureSettings

T = TypeVar("T")

_NS_PER_MS: Final = 1_000_000
_OFF: Final = 1 << 62  # a limit no signal reaches: the rule never refuses


@dataclass(frozen=True, slots=True)
class RefusalKind:
    """One way admission says no: its code, level and how soon to retry."""

    index: int
    reason: Reason
    hard: bool  # hard -> 503 (the system is in trouble), soft -> 429 (retry soon)
    retry_after_ms: int
    counter: str  # the seed's counter name, gateway_backpressure_<counter>_total
    message: str


ADMIT: Final = 0
DISK_FREE: Final = 1
WAL_AGE: Final = 2
WAL_BYTES: Final = 3
INFLIGHT: Final = 4
QUEUE_REJECT: Final = 5
SOFT_WAL_AGE: Final = 6
INFLIGHT_SOFT: Final = 7
RATE_DECLINE: Final = 8

# In the order the rules are asked: hard limits first (they say more about what is wrong),
# then the soft ones. The first rule that refuses answers.
KINDS: Final[tuple[RefusalKind, ...]] = (
    RefusalKind(ADMIT, Reason.NONE, False, 0, "", ""),
    RefusalKind(
        DISK_FREE,
        Reason.BACKPRESSURE_DISK_FREE,
        True,
        5_000,
        "disk_free",
        "free space on the WAL's disk is below the limit; new orders are refused until it returns",
    ),
    RefusalKind(
        WAL_AGE,
        Reason.BACKPRESSURE_WAL_AGE,
        True,
        1_000,
        "wal_age",
        "the oldest record not yet durable is older than the limit; the disk is falling behind",
    ),
    RefusalKind(
        WAL_BYTES,
        Reason.BACKPRESSURE_WAL_BYTES,
        True,
        1_000,
        "wal_bytes",
        "too many WAL bytes are waiting to become durable",
    ),
    RefusalKind(
        INFLIGHT,
        Reason.BACKPRESSURE_INFLIGHT,
        True,
        1_000,
        "inflight",
        "too many accepted orders are waiting to become durable",
    ),
    RefusalKind(
        QUEUE_REJECT,
        Reason.QUEUE_REJECT,
        True,
        1_000,
        "queue_reject",
        "the venue's send queue is full",
    ),
    RefusalKind(
        SOFT_WAL_AGE,
        Reason.BACKPRESSURE_SOFT_WAL_AGE,
        False,
        100,
        "soft_wal_age",
        "the WAL is behind its soft age limit; retry shortly",
    ),
    RefusalKind(
        INFLIGHT_SOFT,
        Reason.BACKPRESSURE_INFLIGHT_SOFT,
        False,
        100,
        "inflight",  # the seed counts static and adaptive inflight refusals together
        "the adaptive inflight limit is reached; retry shortly",
    ),
    RefusalKind(
        RATE_DECLINE,
        Reason.BACKPRESSURE_DURABLE_RATE_DECLINE,
        False,
        100,
        "soft_rate_decline",
        "the durable commit rate is falling; retry shortly",
    ),
)
_BY_REASON: Final = {kind.reason: kind.index for kind in KINDS}
assert all(kind.index == position for position, kind in enumerate(KINDS))


class JournalSignals(Protocol):
    """What admission reads from the WAL journal (switchyard.wal.Journal has these)."""

    @property
    def disk_full(self) -> bool: ...  # the writer cannot get space for its next segment
    @property
    def pending_bytes(self) -> int: ...  # appended, not yet durable
    @property
    def oldest_pending_ns(self) -> int: ...  # monotonic ns of the oldest such record, 0: none


class OrderCounters(Protocol):
    """Accepted orders and accept records made durable (switchyard.runtime's GatewayNode)."""

    @property
    def order_outcomes(self) -> dict[str, int]: ...
    @property
    def accepted_durable(self) -> int: ...


class VenueQueue(Protocol):
    def queue_depth(self) -> int: ...


class Admission(Generic[T]):
    """See the module docstring. One instance per gateway, used on the event loop.

    `respond(index)` turns a refusal into what the caller answers (the gateway: an HTTP
    Response; a test: the index itself); `check()` returns None to admit.
    """

    __slots__ = (
        "_controller",
        "_inflight_max",
        "_journal",
        "_mono_ns",
        "_on_refusing",
        "_orders",
        "_outcomes",
        "_respond",
        "_soft_age_ns",
        "_venue",
        "_venue_max",
        "_wal_age_ns",
        "_wal_ages",
        "_wal_bytes_max",
        "blocked",
        "disk_free_pct",
        "disk_low",
        "inflight_high_water",
        "last_refused",
        "refused",
        "settings",
    )

    def __init__(
        self,
        settings: BackpressureSettings,
        *,
        journal: JournalSignals,
        orders: OrderCounters,
        venue: VenueQueue,
        mono_ns: Callable[[], int],
        respond: Callable[[int], T],
        controller: InflightController | None = None,
        on_refusing: Callable[[bool], None] | None = None,
    ) -> None:
        assert controller is None or controller.enabled
        # config
        self.settings = settings
        self._controller = controller
        self._respond = respond
        self._on_refusing = on_refusing  # told when `last_refused` changes
        self._inflight_max = settings.inflight_max if settings.inflight_max is not None else _OFF
        # Unset, the WAL-bytes bound is the journal's safety bound, checked by the sampler.
        self._wal_bytes_max = settings.wal_bytes_max if settings.wal_bytes_max is not None else _OFF
        hard_age = settings.wal_age_ms_max
        soft_age = settings.soft_wal_age_ms_max
        self._wal_age_ns = hard_age * _NS_PER_MS if hard_age is not None else _OFF
        self._soft_age_ns = soft_age * _NS_PER_MS if soft_age is not None else _OFF
        self._wal_ages = hard_age is not None or soft_age is not None
        self._venue_max = settings.venue_queue_max or _OFF
        # what the checks read
        self._journal = journal
        self._orders = orders
        self._outcomes = orders.order_outcomes
        self._venue = venue if settings.venue_queue_max else None
        self._mono_ns = mono_ns
        # state
        self.blocked = ADMIT  # a refusal the sampler found (low disk, WAL safety bound)
        self.disk_free_pct: float | None = None  # last polled value
        self.disk_low = False  # last poll was below BACKPRESSURE_DISK_FREE_PCT_MIN
        self.inflight_high_water = 0  # most orders inflight at once (admission's bound)
        self.refused = [0] * len(KINDS)  # refusals by KINDS index
        # The last check refused: while shedding, the caller may ask before doing any other
        # work for an order (the gateway's HTTP layer does, to keep refusals cheap); each
        # change is passed to `on_refusing`, so the caller can arm that only while shedding.
        self.last_refused = False

    @property
    def controller(self) -> InflightController | None:
        return self._controller

    # --- per order (hot path) ---------------------------------------------------------------

    def check(self) -> T | None:
        """None to admit; else count the first refusal and return `respond(its index)`."""
        if self.blocked:
            return self._refuse(self.blocked)
        journal = self._journal
        if journal.disk_full:
            return self._refuse(DISK_FREE)
        age_ns = self._wal_age_now() if self._wal_ages else 0
        if age_ns > self._wal_age_ns:
            return self._refuse(WAL_AGE)
        if self._wal_bytes_max != _OFF and journal.pending_bytes > self._wal_bytes_max:
            return self._refuse(WAL_BYTES)
        inflight = self._outcomes["accepted"] - self._orders.accepted_durable
        if inflight >= self._inflight_max:
            return self._refuse(INFLIGHT)
        venue = self._venue
        if venue is not None and venue.queue_depth() + inflight >= self._venue_max:
            return self._refuse(QUEUE_REJECT)
        if age_ns > self._soft_age_ns:
            return self._refuse(SOFT_WAL_AGE)
        controller = self._controller
        if controller is not None:
            reason = controller.admit(inflight)
            if reason:
                return self._refuse(_BY_REASON[reason])
        if inflight >= self.inflight_high_water:
            self.inflight_high_water = inflight + 1  # this order is about to be accepted
        if self.last_refused:
            self._refusing_changed(False)
        return None

    def _wal_age_now(self) -> int:
        oldest = self._journal.oldest_pending_ns
        return self._mono_ns() - oldest if oldest else 0

    def _refuse(self, index: int) -> T:
        self.refused[index] += 1
        if not self.last_refused:
            self._refusing_changed(True)
        return self._respond(index)

    def _refusing_changed(self, refusing: bool) -> None:
        self.last_refused = refusing
        if self._on_refusing is not None:
            self._on_refusing(refusing)

    # --- from the timer --------------------------------------------------------------------

    def observe(self, free_pct: float | None) -> None:
        """Sampler input: the WAL filesystem's free space (a statvfs, never per order; None:
        unknown, rule skipped) and, when BACKPRESSURE_WAL_BYTES_MAX is unset, the WAL's own
        safety bound on pending bytes (far from reachable within one sampling period)."""
        self.disk_free_pct = free_pct
        minimum = self.settings.disk_free_pct_min
        self.disk_low = minimum is not None and free_pct is not None and free_pct < minimum
        if self.disk_low:
            self.blocked = DISK_FREE
        elif (
            self.settings.wal_bytes_max is None
            and self._journal.pending_bytes > WAL_BYTES_SAFETY_MAX
        ):
            self.blocked = WAL_BYTES
        else:
            self.blocked = ADMIT

    # --- reads ----------------------------------------------------------------------------------

    @property
    def inflight(self) -> int:
        return self._outcomes["accepted"] - self._orders.accepted_durable

    @property
    def refused_total(self) -> int:
        return sum(self.refused)

    def refused_by_reason(self) -> dict[str, int]:
        """Refusals by reason code (the two inflight kinds keep their own codes)."""
        return {KINDS[i].reason.name: count for i, count in enumerate(self.refused) if i}
