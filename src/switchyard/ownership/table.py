"""What this engine accepts writes for, right now: the ownership table the request path reads.

The request path asks one question per write (`key in table.serving` and, in etcd mode, "is
the lease deadline still ahead"); everything else here is for the refusal answer and for
status pages. The control plane (coordinator, or the static set-up) replaces `serving` as a
whole, on the event loop thread, and says why in the WAL. Pure: the clock value is passed in.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final


class Verdict(enum.IntEnum):
    """What to answer for a key this engine does not serve right now."""

    SERVE = 0
    NOT_OWNER = 1  # another engine owns it (409, with its id and URL when known)
    HANDOVER = 2  # it is coming to this engine; the previous owner has not released yet (503)
    UNASSIGNED = 3  # no engine has it yet (503; it is being registered)
    UNCERTAIN = 4  # this engine cannot confirm its lease in time: serving paused (503)


@dataclass(frozen=True, slots=True)
class Refusal:
    verdict: Verdict
    owner: str | None
    owner_url: str | None


NO_DEADLINE: Final = 0


class OwnershipTable:
    """Mutated only by the control plane, on the loop; read by every write request."""

    __slots__ = (
        "deadline_ns",
        "engine_id",
        "mode",
        "owners",
        "pending",
        "refusals",
        "revision",
        "serving",
        "serving_since_ns",
        "urls",
    )

    def __init__(self, engine_id: str, mode: str) -> None:
        self.engine_id = engine_id
        self.mode = mode
        self.serving: frozenset[str] = frozenset()  # keys accepted now
        self.deadline_ns = NO_DEADLINE  # monotonic ns after which `serving` is not trusted
        self.revision = 0  # assignment revision `serving` follows (0: static or none yet)
        self.owners: dict[str, str] = {}  # key -> engine id, per the latest assignment
        self.urls: dict[str, str] = {}  # engine id -> url, per the latest assignment
        self.pending: frozenset[str] = frozenset()  # assigned here, waiting for a release
        self.serving_since_ns = 0
        self.refusals: dict[Verdict, int] = dict.fromkeys(Verdict, 0)

    def serves(self, key: str, now_ns: int) -> bool:
        """The request-path check (the extension's hook inlines the same two tests)."""
        if key not in self.serving:
            return False
        deadline = self.deadline_ns
        return deadline == NO_DEADLINE or now_ns <= deadline

    def refusal(self, key: str, now_ns: int) -> Refusal:
        """Why `key` is refused now (counted); never SERVE."""
        verdict = self._verdict(key, now_ns)
        assert verdict is not Verdict.SERVE
        self.refusals[verdict] += 1
        owner = self.owners.get(key) if verdict is Verdict.NOT_OWNER else self.engine_id
        if verdict is Verdict.UNASSIGNED:
            owner = None
        return Refusal(verdict, owner, self.urls.get(owner) if owner is not None else None)

    def _verdict(self, key: str, now_ns: int) -> Verdict:
        if key in self.serving:
            return Verdict.SERVE if self.serves(key, now_ns) else Verdict.UNCERTAIN
        if key in self.pending:
            return Verdict.HANDOVER
        owner = self.owners.get(key)
        if owner == self.engine_id:
            return Verdict.HANDOVER  # ours by the assignment; not serving yet (fenced, starting)
        if owner is None and self.mode == "etcd":
            return Verdict.UNASSIGNED
        return Verdict.NOT_OWNER
