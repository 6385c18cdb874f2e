"""Rendezvous placement: deterministic, balanced, and a join or leave moves only what it must."""

from __future__ import annotations

from switchyard.ownership.rendezvous import owner_of, place, weight

KEYS = [f"K{i}" for i in range(3000)]


def test_weight_is_stable_across_processes() -> None:
    # blake2b, not Python's salted hash(): the same number on every machine, every run.
    assert weight("e1", "BTC") == int.from_bytes(
        __import__("hashlib").blake2b(b"e1\x00BTC", digest_size=8).digest(), "big"
    )


def test_owner_of_no_engines_is_none() -> None:
    assert owner_of("BTC", []) is None


def test_owner_of_ignores_engine_order() -> None:
    assert owner_of("BTC", ["e1", "e2", "e3"]) == owner_of("BTC", ["e3", "e1", "e2"])


def test_place_spreads_keys_evenly_over_three_engines() -> None:
    placement = place(KEYS, ["e1", "e2", "e3"], {})
    counts = {e: sum(1 for owner in placement.values() if owner == e) for e in ("e1", "e2", "e3")}
    assert all(800 < count < 1200 for count in counts.values()), counts


def test_place_join_moves_only_keys_to_the_newcomer() -> None:
    before = place(KEYS, ["e1", "e2"], {})
    after = place(KEYS, ["e1", "e2", "e3"], {})
    moved = {k for k in KEYS if before[k] != after[k]}
    assert moved
    assert all(after[k] == "e3" for k in moved)
    assert 800 < len(moved) < 1200  # about a third, not a reshuffle


def test_place_leave_moves_only_the_leavers_keys() -> None:
    before = place(KEYS, ["e1", "e2", "e3"], {})
    after = place(KEYS, ["e1", "e3"], {})
    moved = {k for k in KEYS if before[k] != after[k]}
    assert moved == {k for k in KEYS if before[k] == "e2"}


def test_place_pin_to_live_engine_wins() -> None:
    natural = place(["BTC"], ["e1", "e2", "e3"], {})["BTC"]
    other = next(e for e in ("e1", "e2", "e3") if e != natural)
    assert place(["BTC"], ["e1", "e2", "e3"], {"BTC": other})["BTC"] == other


def test_place_pin_to_dead_engine_falls_back_to_hashing() -> None:
    natural = place(["BTC"], ["e1", "e2"], {})["BTC"]
    assert place(["BTC"], ["e1", "e2"], {"BTC": "e9"})["BTC"] == natural


def test_place_without_engines_places_nothing() -> None:
    assert place(KEYS, [], {}) == {}
