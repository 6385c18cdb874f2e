"""`SequencerPort`: the trader's `TradingPort` over the gateway's sequencer state and venue.

Owns the translation between the trader and the order path: quotes from the venue's L2
book, `/events` prices and positions from the sequencer state, and order entry through the
sequencer's `submit_order` (the same call HTTP orders make, so risk, the WAL, SSE, the
outbox and the back office see strategy orders like any other, with origin "strategy").
Works with a `GatewayNode` (the runner) and with a bare `Sequencer` (the deterministic
simulation): both are passed in as callables. Must not mutate state any other way.

Idempotency keys and client order ids are `stg-<walId>-<seq>`: the seq the order's record
will get, so a key is never reused, across restarts too (the WAL id changes with the WAL).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from switchyard.core.enums import OrderType, Side, TimeInForce
from switchyard.core.messages import BookSnapshot
from switchyard.pipeline.sequencer import Outcome, Result
from switchyard.pipeline.state import GatewayState

from .decisions import OUTCOME_ACCEPTED, OUTCOME_DENIED, OUTCOME_REFUSED
from .trader import Submission

ORIGIN: Final = "strategy"
KEY_PREFIX: Final = "stg"

SubmitOrder = Callable[..., Result]  # keyword arguments of Sequencer.submit_order, minus now
BookReader = Callable[[str, int], BookSnapshot | None]
Refusal = Callable[[str], str | None]


def _no_refusal(symbol: str) -> str | None:
    return None


class SequencerPort:
    """See the module docstring."""

    __slots__ = ("_book", "_refusal", "_submit", "account_id", "state")

    def __init__(
        self,
        *,
        account_id: str,
        state: GatewayState,
        submit_order: SubmitOrder,
        book: BookReader,
        refusal: Refusal = _no_refusal,
    ) -> None:
        self.account_id = account_id
        self.state = state
        self._submit = submit_order
        self._book = book
        self._refusal = refusal

    def quote(self, symbol: str) -> tuple[int, int]:
        snapshot = self._book(symbol, 1)
        if snapshot is None:
            return 0, 0
        bid = snapshot.bids[0].price if snapshot.bids else 0
        ask = snapshot.asks[0].price if snapshot.asks else 0
        return bid, ask

    def event_price(self, symbol: str) -> int:
        market = self.state.market.get(symbol)
        return market.last_price if market is not None else 0

    def position(self, symbol: str) -> int:
        return self.state.positions.get((self.account_id, symbol), 0)

    def open_qty(self, order_id: str) -> int:
        order = self.state.orders.get(order_id)
        if order is None or order.is_terminal:
            return 0
        leaves = order.leaves_qty
        assert leaves >= 0, (order_id, leaves)
        return leaves if order.side == Side.BUY else -leaves

    def killed(self) -> bool:
        return self.state.is_killed(self.account_id)

    def refusal(self, symbol: str) -> str | None:
        return self._refusal(symbol)

    def submit(self, symbol: str, side: Side, qty: int, price: int) -> Submission:
        state = self.state
        key = f"{KEY_PREFIX}-{state.wal_id}-{state.last_seq + 1}"
        result = self._submit(
            account_id=self.account_id,
            idempotency_key=key,
            client_order_id=key,
            symbol=symbol,
            side=side,
            order_type=OrderType.LIMIT,
            qty=qty,
            price=price,
            time_in_force=TimeInForce.IOC,
            expire_at_ms=0,
            post_only=False,
            origin=ORIGIN,
        )
        return submission_of(result)

    def live_orders(self) -> list[tuple[str, str]]:
        """(order id, symbol) of the account's live orders (tracked again after a restart)."""
        orders = self.state.orders
        found = []
        for order_id in self.state.account_orders.get(self.account_id, ()):
            order = orders.get(order_id)
            if order is not None and not order.is_terminal:
                found.append((order_id, order.symbol))
        return found


def submission_of(result: Result) -> Submission:
    order: Any = result.order
    order_id = order.order_id if order is not None else ""
    if result.outcome == Outcome.ACCEPTED:
        return Submission(OUTCOME_ACCEPTED, order_id)
    if result.outcome == Outcome.DENIED:
        return Submission(OUTCOME_DENIED, order_id, result.reason.name)
    return Submission(OUTCOME_REFUSED, order_id, result.outcome.name)
