"""The cluster view: parsing a range read of the prefix, the hand-over barrier, the placement."""

from __future__ import annotations

from switchyard.ownership.cluster import (
    Ack,
    Assignment,
    Layout,
    Registration,
    encode,
    parse_view,
    same_placement,
)
from switchyard.ownership.etcd import KeyValue

LAYOUT = Layout("/sy")


def kv(key: str, value: bytes, *, create: int = 1, mod: int = 1, lease: int = 0) -> KeyValue:
    return KeyValue(key, value, create, mod, lease)


def registration(engine_id: str) -> KeyValue:
    body = encode(Registration(id=engine_id, url=f"http://{engine_id}:8080", wal_id="w"))
    return kv(LAYOUT.engine(engine_id), body, lease=7)


def test_layout_names() -> None:
    assert LAYOUT.engine("e1") == "/sy/state/engines/e1"
    assert LAYOUT.ack("e1") == "/sy/state/acks/e1"
    assert LAYOUT.assignment == "/sy/state/assignment"
    assert LAYOUT.election == "/sy/state/election"
    assert LAYOUT.key("BTC") == "/sy/config/keys/BTC"
    assert LAYOUT.pin("BTC") == "/sy/config/pins/BTC"
    assert LAYOUT.root == "/sy/"
    assert LAYOUT.state == "/sy/state/"
    assert all(name.startswith(LAYOUT.state) for name in (LAYOUT.engine("x"), LAYOUT.ack("x")))


def test_parse_view_reads_every_kind_of_entry() -> None:
    doc = Assignment(leader="e1", term=3, engines={"e1": "u1"}, keys={"BTC": "e1"})
    view = parse_view(
        LAYOUT,
        [
            registration("e1"),
            registration("e2"),
            kv(LAYOUT.ack("e1"), encode(Ack(12))),
            kv(LAYOUT.key("BTC"), b""),
            kv(LAYOUT.key("ETH"), b""),
            kv(LAYOUT.pin("ETH"), b"e2"),
            kv("/sy/state/election/abc", b"e2", create=9),
            kv("/sy/state/election/abd", b"e1", create=5),
            kv("/sy/state/other/x", b"ignored"),
            kv("/sy/config/engines/e7", b"ignored: engines live under state/"),
            kv(LAYOUT.assignment, encode(doc), mod=12),
            kv("/other/engines/e9", b"{}"),
        ],
        20,
    )
    assert view.revision == 20
    assert sorted(view.engines) == ["e1", "e2"]
    assert view.engine_leases["e1"] == 7
    assert view.acks == {"e1": 12}
    assert view.keys == {"BTC", "ETH"}
    assert view.pins == {"ETH": "e2"}
    assert (view.leader, view.leader_key) == ("e1", "/sy/state/election/abd")  # lowest create
    assert view.assignment == doc
    assert view.assignment_revision == 12
    assert view.problems == ()


def test_parse_view_skips_and_reports_undecodable_entries() -> None:
    view = parse_view(LAYOUT, [kv(LAYOUT.engine("e1"), b"not json"), registration("e2")], 3)
    assert sorted(view.engines) == ["e2"]
    assert len(view.problems) == 1
    assert "/sy/state/engines/e1" in view.problems[0]


def test_barrier_waits_for_registered_engines_behind_the_revision() -> None:
    view = parse_view(
        LAYOUT,
        [
            registration("e1"),
            registration("e2"),
            registration("e3"),
            kv(LAYOUT.ack("e2"), encode(Ack(10))),
            kv(LAYOUT.ack("e3"), encode(Ack(12))),
        ],
        13,
    )
    assert view.barrier_waits("e1", 12) == ["e2"]
    assert view.barrier_waits("e1", 10) == []


def test_barrier_ignores_engines_without_ack_and_unregistered_ones() -> None:
    # e2 has no ack (it serves nothing yet); e4 acked but its registration is gone (its
    # lease expired: it fenced itself).
    view = parse_view(
        LAYOUT,
        [registration("e1"), registration("e2"), kv(LAYOUT.ack("e4"), encode(Ack(1)))],
        5,
    )
    assert view.barrier_waits("e1", 4) == []


def test_barrier_never_waits_for_itself() -> None:
    view = parse_view(LAYOUT, [registration("e1"), kv(LAYOUT.ack("e1"), encode(Ack(1)))], 5)
    assert view.barrier_waits("e1", 4) == []


def test_desired_places_the_universe_on_registered_engines() -> None:
    view = parse_view(
        LAYOUT,
        [
            registration("e1"),
            registration("e2"),
            kv(LAYOUT.key("BTC"), b""),
            kv(LAYOUT.pin("BTC"), b"e2"),
        ],
        5,
    )
    desired = view.desired(leader="e1", term=4)
    assert desired.keys == {"BTC": "e2"}
    assert desired.engines == {"e1": "http://e1:8080", "e2": "http://e2:8080"}
    assert (desired.leader, desired.term) == ("e1", 4)


def test_same_placement_ignores_leader_and_term() -> None:
    a = Assignment(leader="e1", term=1, engines={"e1": "u"}, keys={"K": "e1"})
    b = Assignment(leader="e2", term=7, engines={"e1": "u"}, keys={"K": "e1"})
    assert same_placement(a, b)
    assert not same_placement(None, b)
    assert not same_placement(a, Assignment(engines={"e1": "u"}, keys={"K": "e2"}))


def test_assignment_owned_by() -> None:
    doc = Assignment(keys={"A": "e1", "B": "e2", "C": "e1"})
    assert doc.owned_by("e1") == {"A", "C"}
    assert doc.owned_by("e3") == frozenset()


def test_parse_view_reuses_the_decoded_assignment_of_the_same_revision() -> None:
    doc = encode(Assignment(leader="e1", keys={"BTC": "e1"}))
    first = parse_view(LAYOUT, [kv(LAYOUT.assignment, doc, mod=12)], 20)
    again = parse_view(LAYOUT, [kv(LAYOUT.assignment, doc, mod=12)], 21, first)
    changed = parse_view(LAYOUT, [kv(LAYOUT.assignment, doc, mod=13)], 22, first)
    assert again.assignment is first.assignment
    assert changed.assignment is not first.assignment
    assert changed.assignment == first.assignment
