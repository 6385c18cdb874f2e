"""The ownership table: what the request path serves and what it answers otherwise."""

from __future__ import annotations

from switchyard.ownership.table import NO_DEADLINE, OwnershipTable, Verdict


def etcd_table() -> OwnershipTable:
    table = OwnershipTable("e1", "etcd")
    table.serving = frozenset({"BTC"})
    table.owners = {"BTC": "e1", "ETH": "e2", "SOL": "e1"}
    table.urls = {"e1": "http://h1:8080", "e2": "http://h2:8080"}
    table.deadline_ns = 1_000
    return table


def test_serves_owned_key_before_the_deadline() -> None:
    assert etcd_table().serves("BTC", 1_000)


def test_serves_nothing_after_the_deadline() -> None:
    table = etcd_table()
    assert not table.serves("BTC", 1_001)
    assert table.refusal("BTC", 1_001).verdict is Verdict.UNCERTAIN


def test_static_table_has_no_deadline() -> None:
    table = OwnershipTable("e1", "static")
    table.serving = frozenset({"BTC"})
    assert table.deadline_ns == NO_DEADLINE
    assert table.serves("BTC", 10**18)


def test_refusal_names_the_owner_and_its_url() -> None:
    refusal = etcd_table().refusal("ETH", 0)
    assert refusal.verdict is Verdict.NOT_OWNER
    assert (refusal.owner, refusal.owner_url) == ("e2", "http://h2:8080")


def test_refusal_for_a_key_assigned_here_but_not_released_yet_is_handover() -> None:
    table = etcd_table()
    table.pending = frozenset({"SOL"})
    refusal = table.refusal("SOL", 0)
    assert refusal.verdict is Verdict.HANDOVER
    assert refusal.owner == "e1"


def test_refusal_for_a_key_assigned_here_while_fenced_is_handover() -> None:
    table = etcd_table()
    table.serving = frozenset()
    assert table.refusal("BTC", 0).verdict is Verdict.HANDOVER


def test_refusal_for_an_unknown_key_in_etcd_mode_is_unassigned() -> None:
    refusal = etcd_table().refusal("NEW", 0)
    assert refusal.verdict is Verdict.UNASSIGNED
    assert refusal.owner is None


def test_refusal_in_static_mode_is_not_owner_without_an_owner() -> None:
    table = OwnershipTable("e1", "static")
    table.serving = frozenset({"BTC"})
    refusal = table.refusal("ETH", 0)
    assert refusal.verdict is Verdict.NOT_OWNER
    assert (refusal.owner, refusal.owner_url) == (None, None)


def test_refusals_are_counted_by_verdict() -> None:
    table = etcd_table()
    table.refusal("ETH", 0)
    table.refusal("ETH", 0)
    table.refusal("NEW", 0)
    assert table.refusals[Verdict.NOT_OWNER] == 2
    assert table.refusals[Verdict.UNASSIGNED] == 1
