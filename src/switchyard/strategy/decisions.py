"""What the auto-trader decided and why: the reason codes, one decision, the recent list.

Owns the closed set of reasons (also the `reason` label of the decision counters), the
`Decision` record (signal values, exposure, the order submitted or why none was) and
`DecisionLog`, a fixed-capacity list of the most recent decisions, oldest dropped first and
counted. Pure: no I/O, no clocks. Must not decide anything itself.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from .signal import SIGNAL_REASONS, Signal

if TYPE_CHECKING:
    from .trader import Submission

# Why no order, when the signal said BUY or SELL (the seed's `strategy_order_filtered_total`)
NO_PRICE: Final = "no_price"  # neither a two-sided book nor an /events price
KILL_SWITCH: Final = "kill_switch"
NOT_OWNER: Final = "not_owner"  # another engine owns the symbol (or a hand-over is running)
BACKPRESSURE: Final = "backpressure"  # the gateway sheds new orders
SHUTTING_DOWN: Final = "shutting_down"
POSITION_LIMIT: Final = "position_limit"
COOLDOWN: Final = "cooldown"
RATE_LIMIT: Final = "rate_limit"
NO_LIQUIDITY: Final = "no_liquidity"  # nothing on the side the order would take
FILTERS: Final = (
    NO_PRICE,
    KILL_SWITCH,
    NOT_OWNER,
    BACKPRESSURE,
    SHUTTING_DOWN,
    POSITION_LIMIT,
    COOLDOWN,
    RATE_LIMIT,
    NO_LIQUIDITY,
)
# An order was submitted: what the sequencer made of it
ORDER_ACCEPTED: Final = "order_accepted"
ORDER_DENIED: Final = "order_denied"  # our pre-trade risk said no (recorded in the WAL)
ORDER_REFUSED: Final = "order_refused"  # not sequenced (capacity); nothing recorded
ORDERS: Final = (ORDER_ACCEPTED, ORDER_DENIED, ORDER_REFUSED)
ALL_REASONS: Final = SIGNAL_REASONS + FILTERS + ORDERS
assert len(set(ALL_REASONS)) == len(ALL_REASONS)

OUTCOME_ACCEPTED: Final = "accepted"
OUTCOME_DENIED: Final = "denied"
OUTCOME_REFUSED: Final = "refused"


class Decision:
    """One symbol at one tick. Plain slots class: several are made per tick."""

    __slots__ = (
        "at_ms",
        "config_version",
        "detail",
        "limit_price",
        "long_ma",
        "mid",
        "needed",
        "order_id",
        "position",
        "qty",
        "reason",
        "rsi",
        "samples",
        "short_ma",
        "side",
        "signal",
        "symbol",
    )

    def __init__(self, *, at_ms: int, symbol: str, config_version: int) -> None:
        self.at_ms = at_ms
        self.symbol = symbol
        self.config_version = config_version
        self.signal = "HOLD"
        self.reason = ""
        self.order_id = ""
        self.short_ma: float | None = None
        self.long_ma: float | None = None
        self.rsi: float | None = None
        self.mid = 0
        self.samples = 0
        self.needed = 0
        self.position = 0  # filled position + open strategy orders, before this decision
        self.side = ""
        self.qty = 0
        self.limit_price = 0
        self.detail = ""

    def take_signal(self, signal: Signal, mid: int) -> None:
        self.signal = signal.direction.value
        self.short_ma = signal.short_ma
        self.long_ma = signal.long_ma
        self.rsi = signal.rsi
        self.samples = signal.samples
        self.needed = signal.needed
        self.mid = mid

    def take_order(self, side: str, qty: int, price: int, submission: Submission) -> None:
        self.side = side
        self.qty = qty
        self.limit_price = price
        self.order_id = submission.order_id
        self.detail = submission.reason

    def to_json(self) -> dict[str, Any]:
        """camelCase, the most useful columns first (the UI shows the first nine)."""
        return {
            "atMs": self.at_ms,
            "symbol": self.symbol,
            "signal": self.signal,
            "reason": self.reason,
            "shortMa": _rounded(self.short_ma),
            "longMa": _rounded(self.long_ma),
            "rsi": _rounded(self.rsi),
            "position": self.position,
            "orderId": self.order_id or None,
            "side": self.side or None,
            "qty": self.qty or None,
            "limitPrice": self.limit_price or None,
            "mid": self.mid or None,
            "samples": self.samples,
            "samplesNeeded": self.needed,
            "detail": self.detail or None,
            "configVersion": self.config_version,
        }


class DecisionLog:
    """The most recent decisions, at most `capacity`; the oldest are dropped and counted."""

    __slots__ = ("_items", "capacity", "dropped")

    def __init__(self, capacity: int) -> None:
        assert capacity > 0, capacity
        self.capacity = capacity
        self._items: deque[Decision] = deque()
        self.dropped = 0

    def append(self, decision: Decision) -> None:
        items = self._items
        if len(items) >= self.capacity:
            items.popleft()
            self.dropped += 1
        items.append(decision)
        assert len(items) <= self.capacity

    def newest(self, limit: int, symbol: str | None = None) -> list[Decision]:
        """Up to `limit` decisions, newest first, optionally of one symbol."""
        out: list[Decision] = []
        for decision in reversed(self._items):
            if symbol is None or decision.symbol == symbol:
                out.append(decision)
                if len(out) >= limit:
                    break
        return out

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Decision]:
        return iter(self._items)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
