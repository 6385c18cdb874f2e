"""Which engine wrote each seq of a WAL: SessionStarted records name it, later records inherit.

The event source id is `<engine id>:<walId>`; a WAL reopened by a gateway with another
ENGINE_ID changes it from that SessionStarted on. Readers that resume mid-log (outbox, the
back office's WAL source) store the engine id in effect at their position and keep the
recent changes, so a rewind re-derives exactly the same event ids.
"""

from __future__ import annotations


class EngineHistory:
    """Engine ids by seq: `at(seq)` is the id of the last change at or before `seq`."""

    __slots__ = ("_changes",)

    def __init__(self, engine_id: str, *, since_seq: int = 0) -> None:
        self._changes: list[tuple[int, str]] = [(since_seq, engine_id)]

    def seen(self, seq: int, engine_id: str) -> None:
        """A SessionStarted at `seq` names `engine_id`."""
        assert seq >= self._changes[-1][0], "sessions are seen in seq order"
        if engine_id != self._changes[-1][1]:
            self._changes.append((seq, engine_id))

    def current(self) -> str:
        return self._changes[-1][1]

    def at(self, seq: int) -> str:
        engine_id = self._changes[0][1]
        for change_seq, changed_to in self._changes:
            if change_seq > seq:
                break
            engine_id = changed_to
        return engine_id

    def rewind(self, seq: int) -> None:
        """Forget changes after `seq` (records after it will be read again)."""
        kept = [c for c in self._changes if c[0] <= seq]
        self._changes = kept or [(seq, self.at(seq))]

    def forget_before(self, seq: int) -> None:
        """Drop changes no rewind can reach (rewinds never go below `seq`)."""
        current = self.at(seq)
        self._changes = [(seq, current)] + [c for c in self._changes if c[0] > seq]
