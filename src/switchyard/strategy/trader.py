"""The auto-trader's decisions: one tick turns prices into signals and signals into orders.

Owns the per-symbol price history, the safety rails (kill switch, position cap, per-symbol
cooldown, orders per minute), the strategy's live-order tracking, its counters and the
bounded list of recent decisions. Pure and clock-free: time comes in as arguments, the
market, positions and order entry come through `TradingPort`. Must not do I/O, schedule
anything or mutate trading state except by calling `port.submit`.

One decision per configured symbol per tick, always recorded, with the signal values and
either the order it submitted or the reason it did not (decisions.py names the reasons).
The signal is level-based (the seed's rule), so the trader steps the position towards the
signal's side one order at a time: a BUY signal buys `order_qty` while the position plus
the strategy's open orders stays within `max_position`, a SELL signal sells likewise
towards `-max_position`; HOLD does nothing. Orders are IOC limits at the opposite best
price (marketable, bounded slippage, never resting). Rails count every submission,
accepted or denied, when it happens (synchronously: no result is ever pending).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Protocol

from switchyard.core.enums import Side

from . import decisions as R
from .config import HISTORY_SAMPLES_MAX, ORDERS_PER_MIN_MAX, StrategyConfig
from .decisions import Decision, DecisionLog
from .signal import Direction, Signal, evaluate

RATE_WINDOW_MS: Final = 60_000  # "orders per minute" is a sliding 60 s window
# Submission times kept for the rate window: a limit never exceeds ORDERS_PER_MIN_MAX, so
# older entries can never matter.
RATE_TIMES_MAX: Final = ORDERS_PER_MIN_MAX
LIVE_ORDERS_MAX: Final = 10_000  # tracked live strategy orders (IOC: a handful in practice)


@dataclass(frozen=True, slots=True)
class Submission:
    """What the order entry did: outcome accepted | denied | refused, the order id, why."""

    outcome: str
    order_id: str = ""
    reason: str = ""  # risk code when denied, the sequencer's outcome when refused


class TradingPort(Protocol):
    """The trader's view of the gateway (port.py implements it over the sequencer)."""

    def quote(self, symbol: str) -> tuple[int, int]:
        """Best bid and best ask in ticks (0 when that side is empty or unknown)."""
        ...

    def event_price(self, symbol: str) -> int:
        """Last price the `/events` feed sent for this key (0 if none)."""
        ...

    def position(self, symbol: str) -> int:
        """The strategy account's net filled quantity."""
        ...

    def open_qty(self, order_id: str) -> int:
        """Signed quantity still open on an order (+ buy, - sell); 0 once it is final."""
        ...

    def killed(self) -> bool:
        """Whether a kill switch covers the strategy account."""
        ...

    def refusal(self, symbol: str) -> str | None:
        """Why the gateway takes no order for `symbol` now (ownership, backpressure), or None."""
        ...

    def submit(self, symbol: str, side: Side, qty: int, price: int) -> Submission: ...


class Trader:
    """See the module docstring. One instance per strategy; single-threaded by design."""

    def __init__(self, config: StrategyConfig, port: TradingPort, *, decisions_max: int) -> None:
        # config and collaborators
        self.config = config
        self.port = port
        # state across ticks
        self._prices: dict[str, list[int]] = {}
        # live strategy orders by symbol (order ids, oldest first): a decision sums only its
        # symbol's, so a tick costs O(live orders), not O(symbols x live orders)
        self._live: dict[str, dict[str, None]] = {}
        self._live_count = 0
        self._submit_times: deque[int] = deque()  # mono ms of submissions, oldest first
        self._last_submit_ms: dict[str, int] = {}  # symbol -> mono ms of its last submission
        # observability (read by the API and the metrics collector)
        self.log = DecisionLog(decisions_max)
        self.ticks = 0
        self.reasons: dict[str, int] = dict.fromkeys(R.ALL_REASONS, 0)
        self.orders: dict[tuple[str, str], int] = {}  # (side, outcome) -> count
        self.last_signal: dict[str, Signal] = {}

    # --- configuration ---------------------------------------------------------------------

    def configure(self, config: StrategyConfig) -> None:
        """Take a new config; history of symbols no longer traded is dropped."""
        for symbol in set(self._prices) - set(config.symbols):
            del self._prices[symbol]
            self.last_signal.pop(symbol, None)
        self.config = config

    def reset_prices(self) -> None:
        """Forget price history (after a pause the old samples are not one tick apart)."""
        self._prices.clear()
        self.last_signal.clear()

    # --- the tick ----------------------------------------------------------------------------

    def tick(self, *, now_mono_ms: int, now_wall_ms: int) -> list[Decision]:
        """Sample each symbol, compute its signal, decide; every decision is recorded."""
        self.ticks += 1
        self._forget_final_orders()
        self._forget_old_submissions(now_mono_ms)
        killed = self.port.killed()
        made = [
            self._decide(symbol, killed, now_mono_ms, now_wall_ms) for symbol in self.config.symbols
        ]
        for decision in made:
            self.reasons[decision.reason] += 1
            self.log.append(decision)
        return made

    def _decide(self, symbol: str, killed: bool, now_mono_ms: int, now_wall_ms: int) -> Decision:
        config = self.config
        port = self.port
        bid, ask = port.quote(symbol)
        mid = (bid + ask) // 2 if bid and ask else port.event_price(symbol)
        decision = Decision(at_ms=now_wall_ms, symbol=symbol, config_version=config.version)
        if mid <= 0:
            decision.reason = R.NO_PRICE
            return decision
        signal = evaluate(self._sample(symbol, mid), config.signal_params)
        self.last_signal[symbol] = signal
        decision.take_signal(signal, mid)
        decision.position = exposure = port.position(symbol) + self._open_qty(symbol)
        if signal.direction is Direction.HOLD:
            decision.reason = signal.reason
            return decision
        side = Side.BUY if signal.direction is Direction.BUY else Side.SELL
        decision.reason = self._rail(symbol, side, exposure, killed, now_mono_ms)
        if decision.reason:
            return decision
        price = ask if side == Side.BUY else bid
        if price <= 0:
            decision.reason = R.NO_LIQUIDITY
            return decision
        self._submit(decision, side, price, now_mono_ms)
        return decision

    def _rail(self, symbol: str, side: Side, exposure: int, killed: bool, now_ms: int) -> str:
        """The first safety rail that stops an order now ("" if none)."""
        config = self.config
        if killed:
            return R.KILL_SWITCH
        refusal = self.port.refusal(symbol)
        if refusal is not None:
            return refusal
        after = exposure + config.order_qty if side == Side.BUY else exposure - config.order_qty
        if abs(after) > config.max_position and abs(after) > abs(exposure):
            return R.POSITION_LIMIT
        last = self._last_submit_ms.get(symbol)
        if config.cooldown_ms and last is not None and now_ms - last < config.cooldown_ms:
            return R.COOLDOWN
        limit = config.max_orders_per_min
        if limit and len(self._submit_times) >= limit:
            return R.RATE_LIMIT
        return ""

    def _submit(self, decision: Decision, side: Side, price: int, now_ms: int) -> None:
        symbol = decision.symbol
        qty = self.config.order_qty
        submission = self.port.submit(symbol, side, qty, price)
        times = self._submit_times
        times.append(now_ms)
        if len(times) > RATE_TIMES_MAX:
            times.popleft()
        self._last_submit_ms[symbol] = now_ms
        key = (side.name, submission.outcome)
        self.orders[key] = self.orders.get(key, 0) + 1
        decision.take_order(side.name, qty, price, submission)
        if submission.outcome == R.OUTCOME_ACCEPTED:
            decision.reason = R.ORDER_ACCEPTED
            self._track(submission.order_id, symbol)
        elif submission.outcome == R.OUTCOME_DENIED:
            decision.reason = R.ORDER_DENIED
        else:
            decision.reason = R.ORDER_REFUSED

    # --- helpers -------------------------------------------------------------------------------

    def _sample(self, symbol: str, price: int) -> list[int]:
        prices = self._prices.setdefault(symbol, [])
        prices.append(price)
        if len(prices) >= 2 * HISTORY_SAMPLES_MAX:  # trim now and then, not on every tick
            del prices[:-HISTORY_SAMPLES_MAX]
        assert len(prices) < 2 * HISTORY_SAMPLES_MAX
        return prices

    def _track(self, order_id: str, symbol: str) -> None:
        assert order_id, "an accepted order has an id"
        if self._live_count >= LIVE_ORDERS_MAX:
            # Never expected (IOC orders end within one venue round trip): forget one rather
            # than grow; its fills still count through the position.
            oldest = (
                self._live[symbol]
                if self._live.get(symbol)
                else next(orders for orders in self._live.values() if orders)
            )
            del oldest[next(iter(oldest))]
            self._live_count -= 1
        self._live.setdefault(symbol, {})[order_id] = None
        self._live_count += 1

    def track_existing(self, order_ids: Iterator[tuple[str, str]]) -> None:
        """Live orders of the strategy account found at start (order id, symbol)."""
        for order_id, symbol in order_ids:
            self._track(order_id, symbol)

    def _open_qty(self, symbol: str) -> int:
        orders = self._live.get(symbol)
        if not orders:
            return 0
        open_qty = self.port.open_qty
        return sum(open_qty(order_id) for order_id in orders)

    def _forget_final_orders(self) -> None:
        if not self._live_count:
            return
        open_qty = self.port.open_qty
        for orders in self._live.values():
            final = [order_id for order_id in orders if open_qty(order_id) == 0]
            for order_id in final:
                del orders[order_id]
            self._live_count -= len(final)
        assert self._live_count == sum(len(orders) for orders in self._live.values())

    def _forget_old_submissions(self, now_ms: int) -> None:
        times = self._submit_times
        while times and now_ms - times[0] >= RATE_WINDOW_MS:
            times.popleft()

    @property
    def live_order_count(self) -> int:
        return self._live_count

    def samples(self, symbol: str) -> int:
        return len(self._prices.get(symbol, ()))

    def submissions_in_window(self) -> int:
        return len(self._submit_times)
