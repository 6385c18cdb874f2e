"""Stream tickets: one use, short life, never beyond the token, bounded."""

from switchyard.adapters.auth import Principal
from switchyard.ops import tickets as tickets_module
from switchyard.ops.tickets import TICKET_TTL_S, StreamTickets

WALL_NOW_S = 1_800_000_000.0
ALICE = Principal("alice", "", expires_at_s=int(WALL_NOW_S) + 3600, not_before_s=0)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_tickets_redeem_gives_the_principal_once() -> None:
    store = StreamTickets(FakeMonotonic())
    issued = store.issue(ALICE, wall_now_s=WALL_NOW_S)
    assert issued is not None
    ticket, ttl_s = issued
    assert ttl_s == TICKET_TTL_S
    assert store.redeem(ticket) == ALICE
    assert store.redeem(ticket) is None
    assert (store.redeemed_total, store.refused_total) == (1, 1)


def test_tickets_expire_after_their_ttl() -> None:
    clock = FakeMonotonic()
    store = StreamTickets(clock)
    issued = store.issue(ALICE, wall_now_s=WALL_NOW_S)
    assert issued is not None
    clock.now += TICKET_TTL_S + 0.001
    assert store.redeem(issued[0]) is None


def test_tickets_never_outlive_the_token() -> None:
    clock = FakeMonotonic()
    store = StreamTickets(clock)
    soon = Principal("alice", "", expires_at_s=int(WALL_NOW_S) + 5, not_before_s=0)
    issued = store.issue(soon, wall_now_s=WALL_NOW_S)
    assert issued is not None
    assert issued[1] == 5
    clock.now += 6
    assert store.redeem(issued[0]) is None
    expired = Principal("alice", "", expires_at_s=int(WALL_NOW_S) - 1, not_before_s=0)
    assert store.issue(expired, wall_now_s=WALL_NOW_S) is None


def test_tickets_unknown_or_oversized_are_refused() -> None:
    store = StreamTickets(FakeMonotonic())
    assert store.redeem("made-up") is None
    assert store.redeem("x" * 10_000) is None
    assert store.refused_total == 2


def test_tickets_are_bounded_and_expired_ones_make_room(monkeypatch) -> None:
    monkeypatch.setattr(tickets_module, "TICKETS_MAX", 3)
    clock = FakeMonotonic()
    store = StreamTickets(clock)
    for _ in range(3):
        assert store.issue(ALICE, wall_now_s=WALL_NOW_S) is not None
    assert store.issue(ALICE, wall_now_s=WALL_NOW_S) is None
    assert len(store) == 3
    clock.now += TICKET_TTL_S + 1
    assert store.issue(ALICE, wall_now_s=WALL_NOW_S) is not None
    assert len(store) == 1


def test_tickets_are_unguessable_and_distinct() -> None:
    store = StreamTickets(FakeMonotonic())
    seen = set()
    for _ in range(100):
        issued = store.issue(ALICE, wall_now_s=WALL_NOW_S)
        assert issued is not None
        seen.add(issued[0])
        assert len(issued[0]) >= 43  # 256 random bits, base64url
    assert len(seen) == 100
