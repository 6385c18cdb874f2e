"""The request-path hook and its answers (extensions/ownership.py), with a manual clock."""

from __future__ import annotations

from types import SimpleNamespace

import orjson

from switchyard.extensions.ownership import Ownership
from switchyard.ownership import OwnershipSettings


class ManualClock:
    def __init__(self) -> None:
        self.now_ns = 1_000

    def mono_ns(self) -> int:
        return self.now_ns

    def wall_ns(self) -> int:
        return self.now_ns


def ownership(mode: str = "etcd") -> tuple[Ownership, ManualClock]:
    environ = {"ETCD_ENDPOINTS": "http://127.0.0.1:2379"} if mode == "etcd" else {"OWNED_KEYS": "A"}
    settings = OwnershipSettings.from_env(environ, engine_id="e1")
    clock = ManualClock()
    gateway = SimpleNamespace(node=SimpleNamespace(clock=clock))
    own = Ownership(gateway, settings)  # type: ignore[arg-type]
    table = own.table
    table.serving = frozenset({"A"})
    if mode == "etcd":  # as the coordinator fills it from the assignment
        table.owners = {"A": "e1", "B": "e2", "C": "e1"}
        table.urls = {"e1": "http://h1:1", "e2": "http://h2:2"}
        table.revision = 42
        table.deadline_ns = 2_000
    return own, clock


def test_served_key_passes_until_the_lease_deadline() -> None:
    own, clock = ownership()
    check = own.hook()
    assert check("A") is None
    clock.now_ns = 2_001  # paused past the deadline (SIGSTOP, GC, VM): refuse
    answer = check("A")
    assert answer is not None
    assert answer.status == 503
    assert orjson.loads(answer.body)["error"] == "OWNERSHIP_UNCERTAIN"
    assert (b"retry-after", b"1") in answer.headers


def test_key_of_another_engine_is_409_with_owner_and_url() -> None:
    own, _ = ownership()
    answer = own.hook()("B")
    assert answer is not None
    assert answer.status == 409
    body = orjson.loads(answer.body)
    assert (body["error"], body["owner"], body["ownerUrl"]) == ("NOT_OWNER", "e2", "http://h2:2")
    assert (body["key"], body["revision"]) == ("B", 42)


def test_key_assigned_here_but_not_released_yet_is_503_handover() -> None:
    own, _ = ownership()
    answer = own.hook()("C")
    assert answer is not None
    assert (answer.status, orjson.loads(answer.body)["error"]) == (503, "KEY_IN_HANDOVER")


def test_unknown_key_in_etcd_mode_is_503_unassigned() -> None:
    own, _ = ownership()
    answer = own.hook()("Z")
    assert answer is not None
    assert (answer.status, orjson.loads(answer.body)["error"]) == (503, "KEY_UNASSIGNED")


def test_static_mode_has_no_deadline_and_no_owner_to_name() -> None:
    own, clock = ownership("static")
    check = own.hook()
    clock.now_ns = 10**18
    assert check("A") is None
    answer = check("B")
    assert answer is not None
    body = orjson.loads(answer.body)
    assert answer.status == 409
    assert (body["owner"], body["ownerUrl"]) == (None, None)
