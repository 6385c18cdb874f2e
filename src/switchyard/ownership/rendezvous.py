"""Rendezvous (highest-random-weight) hashing: which live engine owns a key.

Every engine scores every key with a hash of (engine, key); the highest score owns it. When
an engine joins, it takes exactly the keys it now scores highest on; when one leaves, only
its keys move, each to its own runner-up. No coordination, no ring, no virtual nodes; the
same inputs give the same answer on every machine (blake2b, not Python's salted hash()).
Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping


def weight(engine_id: str, key: str) -> int:
    """The score of `engine_id` for `key`: 64 bits of blake2b over both, NUL-separated."""
    digest = hashlib.blake2b(f"{engine_id}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner_of(key: str, engines: Iterable[str]) -> str | None:
    """The highest-weight engine for `key` (ties, astronomically rare, go to the larger id)."""
    best: tuple[int, str] | None = None
    for engine_id in engines:
        candidate = (weight(engine_id, key), engine_id)
        if best is None or candidate > best:
            best = candidate
    return None if best is None else best[1]


def place(keys: Iterable[str], engines: Iterable[str], pins: Mapping[str, str]) -> dict[str, str]:
    """key -> engine for every key: a pin to a live engine wins, else the hash decides.

    A pin naming an engine that is not live is ignored (the key falls back to hashing), so
    an operator's override can never strand a key on a dead engine.
    """
    live = sorted(set(engines))
    if not live:
        return {}
    live_set = frozenset(live)
    placement: dict[str, str] = {}
    for key in sorted(set(keys)):
        pinned = pins.get(key)
        owner = pinned if pinned in live_set else owner_of(key, live)
        assert owner is not None
        placement[key] = owner
    return placement
