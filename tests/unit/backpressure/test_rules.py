"""Admission rules: each static limit off unless configured, strict thresholds, first rule
wins in the documented order, every refusal counted by reason."""

from __future__ import annotations

import pytest

from switchyard.backpressure import KINDS, Admission, BackpressureSettings
from switchyard.backpressure import rules as R
from switchyard.backpressure.controller import InflightController
from switchyard.backpressure.settings import WAL_BYTES_SAFETY_MAX, ControllerSettings
from switchyard.core.codes import Reason

MS = 1_000_000


class Signals:
    """Plain objects with the attributes admission reads (what the journal, the node and the
    venue would say). Like the node's, `order_outcomes` is one dict updated in place."""

    def __init__(
        self,
        *,
        inflight: int = 0,
        pending_bytes: int = 0,
        oldest_pending_ns: int = 0,
        disk_full: bool = False,
        venue_depth: int = 0,
    ) -> None:
        self.accepted_durable = 1_000
        self.order_outcomes = {"accepted": 1_000 + inflight}
        self.pending_bytes = pending_bytes
        self.oldest_pending_ns = oldest_pending_ns
        self.now_ns = 10_000 * MS
        self.disk_full = disk_full
        self.venue_depth = venue_depth

    @property
    def inflight(self) -> int:
        return self.order_outcomes["accepted"] - self.accepted_durable

    @inflight.setter
    def inflight(self, value: int) -> None:
        self.order_outcomes["accepted"] = self.accepted_durable + value

    def queue_depth(self) -> int:
        return self.venue_depth


def admission(signals: Signals, **environ: str) -> Admission[int]:
    settings = BackpressureSettings.from_env(environ)
    controller = InflightController(settings.controller) if settings.controller.enabled else None
    return Admission(
        settings,
        journal=signals,
        orders=signals,
        venue=signals,
        mono_ns=lambda: signals.now_ns,
        respond=lambda index: index,
        controller=controller,
    )


def reason_of(index: int) -> Reason:
    return KINDS[index].reason


def test_check_with_nothing_configured_admits_a_busy_gateway() -> None:
    signals = Signals(
        inflight=50_000, pending_bytes=10_000_000, oldest_pending_ns=1, venue_depth=100
    )
    subject = admission(signals)
    assert subject.check() is None
    assert subject.refused_total == 0


@pytest.mark.parametrize(
    ("environ", "below", "at_limit", "expected"),
    [
        ({"BACKPRESSURE_INFLIGHT_MAX": "8"}, {"inflight": 7}, {"inflight": 8}, R.INFLIGHT),
        (
            {"BACKPRESSURE_WAL_BYTES_MAX": "1000"},
            {"pending_bytes": 1000},
            {"pending_bytes": 1001},
            R.WAL_BYTES,
        ),
        (
            {"BACKPRESSURE_WAL_AGE_MS_MAX": "100"},
            {"oldest_pending_ns": 9_900 * MS},
            {"oldest_pending_ns": 9_900 * MS - 1},
            R.WAL_AGE,
        ),
        (
            {"BACKPRESSURE_SOFT_WAL_AGE_MS_MAX": "100"},
            {"oldest_pending_ns": 9_900 * MS},
            {"oldest_pending_ns": 9_900 * MS - 1},
            R.SOFT_WAL_AGE,
        ),
        (
            {"BACKPRESSURE_VENUE_QUEUE_MAX": "10"},
            {"venue_depth": 5, "inflight": 4},
            {"venue_depth": 5, "inflight": 5},
            R.QUEUE_REJECT,
        ),
    ],
)
def test_check_each_rule_refuses_only_past_its_limit(
    environ: dict[str, str], below: dict[str, int], at_limit: dict[str, int], expected: int
) -> None:
    assert admission(Signals(**below), **environ).check() is None
    subject = admission(Signals(**at_limit), **environ)
    assert subject.check() == expected
    assert subject.refused[expected] == 1


def test_check_wal_bytes_safety_bound_holds_when_unset() -> None:
    signals = Signals(pending_bytes=WAL_BYTES_SAFETY_MAX + 1)
    subject = admission(signals)
    subject.observe(50.0)  # the sampler checks the WAL's own bound
    assert subject.check() == R.WAL_BYTES
    signals.pending_bytes = WAL_BYTES_SAFETY_MAX
    subject.observe(50.0)
    assert subject.check() is None


def test_check_venue_queue_default_is_the_transport_bound() -> None:
    subject = admission(Signals(venue_depth=65_535, inflight=1))
    assert subject.check() == R.QUEUE_REJECT


def test_check_venue_queue_zero_turns_the_rule_off() -> None:
    subject = admission(Signals(venue_depth=10**6), BACKPRESSURE_VENUE_QUEUE_MAX="0")
    assert subject.check() is None


def test_check_no_pending_record_means_no_wal_age() -> None:
    subject = admission(Signals(oldest_pending_ns=0), BACKPRESSURE_WAL_AGE_MS_MAX="1")
    assert subject.check() is None


def test_check_disk_below_minimum_refuses_after_a_poll() -> None:
    signals = Signals()
    subject = admission(signals, BACKPRESSURE_DISK_FREE_PCT_MIN="20")
    subject.observe(19.9)
    assert subject.check() == R.DISK_FREE
    subject.observe(20.0)
    assert subject.check() is None


def test_check_unknown_free_space_skips_the_disk_rule() -> None:
    subject = admission(Signals(), BACKPRESSURE_DISK_FREE_PCT_MIN="20")
    subject.observe(None)
    assert subject.check() is None


def test_check_full_wal_disk_refuses_even_unconfigured() -> None:
    subject = admission(Signals(disk_full=True))
    assert subject.check() == R.DISK_FREE
    assert reason_of(R.DISK_FREE) == Reason.BACKPRESSURE_DISK_FREE


def test_check_hard_limits_answer_before_soft_ones() -> None:
    signals = Signals(inflight=100, oldest_pending_ns=1)
    subject = admission(
        signals,
        BACKPRESSURE_SOFT_WAL_AGE_MS_MAX="1",
        BACKPRESSURE_INFLIGHT_MAX="10",
        BACKPRESSURE_INFLIGHT_DYNAMIC="1",
        BACKPRESSURE_INFLIGHT_MIN="1",
        BACKPRESSURE_INFLIGHT_INITIAL="5",
    )
    assert subject.check() == R.INFLIGHT
    signals.inflight = 9
    assert subject.check() == R.SOFT_WAL_AGE
    signals.oldest_pending_ns = 0
    assert subject.check() == R.INFLIGHT_SOFT


def test_check_dynamic_limit_refuses_soft() -> None:
    subject = admission(
        Signals(inflight=300),
        BACKPRESSURE_INFLIGHT_DYNAMIC="1",
        BACKPRESSURE_INFLIGHT_INITIAL="300",
    )
    assert subject.check() == R.INFLIGHT_SOFT
    assert reason_of(R.INFLIGHT_SOFT) == Reason.BACKPRESSURE_INFLIGHT_SOFT


def test_check_dynamic_limit_is_not_asked_when_off() -> None:
    subject = admission(Signals(inflight=60_000))
    assert subject.controller is None
    assert subject.check() is None


def test_check_counts_refusals_by_reason() -> None:
    signals = Signals(inflight=8)
    subject = admission(signals, BACKPRESSURE_INFLIGHT_MAX="8")
    for _ in range(3):
        subject.check()
    signals.inflight = 0
    subject.check()
    assert subject.refused_total == 3
    assert subject.refused_by_reason()["BACKPRESSURE_INFLIGHT"] == 3
    assert sum(subject.refused_by_reason().values()) == 3


def test_check_tracks_the_inflight_high_water_of_admitted_orders() -> None:
    signals = Signals(inflight=4)
    subject = admission(signals, BACKPRESSURE_INFLIGHT_MAX="8")
    subject.check()
    signals.inflight = 8
    subject.check()  # refused: does not raise the mark
    assert subject.inflight_high_water == 5


def test_kinds_every_refusal_is_a_backpressure_code_with_a_retry_hint() -> None:
    for kind in KINDS[1:]:
        assert 500 <= kind.reason.value < 600, kind
        assert kind.retry_after_ms > 0, kind
        assert kind.counter, kind
    assert not any(kind.hard for kind in KINDS if "SOFT" in kind.reason.name)
    assert KINDS[R.RATE_DECLINE].hard is False


def test_admission_refuses_a_disabled_controller() -> None:
    signals = Signals()
    with pytest.raises(AssertionError):
        Admission(
            BackpressureSettings(),
            journal=signals,
            orders=signals,
            venue=signals,
            mono_ns=lambda: 0,
            respond=lambda index: index,
            controller=InflightController(ControllerSettings()),
        )


def test_check_last_refused_follows_the_last_answer() -> None:
    signals = Signals(inflight=7)
    subject = admission(signals, BACKPRESSURE_INFLIGHT_MAX="8")
    assert subject.last_refused is False

    assert subject.check() is None
    assert subject.last_refused is False
    signals.inflight = 8
    assert subject.check() == R.INFLIGHT
    assert subject.last_refused is True
    assert subject.check() == R.INFLIGHT
    assert subject.last_refused is True
    signals.inflight = 3
    assert subject.check() is None
    assert subject.last_refused is False


def test_check_tells_on_refusing_only_when_it_changes() -> None:
    signals = Signals(inflight=7)
    settings = BackpressureSettings.from_env({"BACKPRESSURE_INFLIGHT_MAX": "8"})
    told: list[bool] = []
    subject = Admission(
        settings,
        journal=signals,
        orders=signals,
        venue=signals,
        mono_ns=lambda: signals.now_ns,
        respond=lambda index: index,
        on_refusing=told.append,
    )

    subject.check()
    signals.inflight = 8
    subject.check()
    subject.check()
    signals.inflight = 0
    subject.check()
    subject.check()

    assert told == [True, False]
