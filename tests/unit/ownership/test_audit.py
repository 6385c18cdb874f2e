"""The WAL audit: one owner per key at any instant, checked from facts of several engines."""

from __future__ import annotations

from switchyard.ownership.audit import Fact, audit


def session(seq: int, ts: int) -> Fact:
    return Fact(seq, ts, "session", ())


def owns(seq: int, ts: int, *keys: str, revision: int = 1) -> Fact:
    return Fact(seq, ts, "ownership", keys, revision)


def write(seq: int, ts: int, key: str) -> Fact:
    return Fact(seq, ts, "write", (key,))


def test_clean_handover_passes() -> None:
    report = audit(
        {
            "e1": [session(1, 0), owns(2, 10, "BTC"), write(3, 20, "BTC"), owns(4, 30)],
            "e2": [session(1, 0), owns(2, 31, "BTC"), write(3, 40, "BTC")],
        }
    )
    assert report.ok, report
    assert report.writes == 2


def test_write_while_another_engine_serves_the_key_is_reported() -> None:
    report = audit(
        {
            "e1": [session(1, 0), owns(2, 10, "BTC"), write(3, 35, "BTC"), owns(4, 50)],
            "e2": [session(1, 0), owns(2, 30, "BTC"), write(3, 40, "BTC")],
        }
    )
    assert any("concurrent write: e1 seq 3" in p for p in report.problems)
    assert any("concurrent write: e2 seq 3" in p for p in report.problems)
    assert report.overlaps


def test_write_without_ownership_is_reported() -> None:
    report = audit({"e1": [session(1, 0), owns(2, 10, "ETH"), write(3, 20, "BTC")]})
    assert report.problems == ["unowned write: e1 seq 3 key BTC at 20 (not in its served set)"]


def test_overlapping_ownership_without_writes_is_still_reported() -> None:
    report = audit(
        {
            "e1": [session(1, 0), owns(2, 10, "BTC"), owns(3, 50)],
            "e2": [session(1, 0), owns(2, 40, "BTC")],
        }
    )
    assert not report.problems
    assert len(report.overlaps) == 1


def test_a_killed_session_ends_at_its_last_record() -> None:
    # e1 is SIGKILLed after seq 3 (ts 20); its new session at ts 100 owns nothing until it
    # says so. e2 took BTC at 60: no overlap.
    report = audit(
        {
            "e1": [
                session(1, 0),
                owns(2, 10, "BTC"),
                write(3, 20, "BTC"),
                session(4, 100),
                owns(5, 120, "ETH"),
            ],
            "e2": [session(1, 0), owns(2, 60, "BTC"), write(3, 70, "BTC")],
        }
    )
    assert report.ok, report


def test_a_new_session_owns_nothing_until_it_says_so() -> None:
    report = audit({"e1": [session(1, 0), owns(2, 10, "BTC"), session(3, 50), write(4, 60, "BTC")]})
    assert len(report.problems) == 1
    assert "unowned write" in report.problems[0]


def test_all_keys_marker_covers_every_key_and_conflicts_with_any_owner() -> None:
    report = audit(
        {
            "e1": [session(1, 0), owns(2, 10, "*"), write(3, 20, "BTC"), write(4, 30, "ETH")],
            "e2": [session(1, 0), owns(2, 5, "BTC"), write(3, 25, "BTC")],
        }
    )
    assert any("concurrent write: e2" in p for p in report.problems)
    assert any("concurrent write: e1" in p for p in report.problems)


def test_tolerance_absorbs_small_clock_differences() -> None:
    facts = {
        "e1": [session(1, 0), owns(2, 10, "BTC"), owns(3, 30)],
        "e2": [session(1, 0), owns(2, 28, "BTC")],
    }
    assert not audit(facts).ok
    assert audit(facts, tolerance_ns=5).ok
