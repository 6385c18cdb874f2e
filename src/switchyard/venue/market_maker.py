"""Simulated liquidity: one seeded market maker per symbol.

Owns a reference price that follows a random walk (Gaussian steps of `volatility_bps` per
tick, snapped to the tick size, kept inside the symbol's band around its spec reference) or
jumps to a price it is told to follow (`VenueReference`, e.g. from `POST /events`), and the
requests that keep `depth` quotes a side around it: bid i at reference - spread/2 - i*step,
ask i at reference + spread/2 + i*step, sizes 50-150 % of `quote_lots` lots. Each quote is
one order kept alive with cancel/replace (so quoting does not churn order ids); a filled
quote is replaced by a new order. It must not touch the engine: it only produces requests.
Its randomness comes from the `random.Random` passed in, so a seed replays the same quotes.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from switchyard.book.order_book import BookOrder
from switchyard.book.spec import BPS_DENOMINATOR, SymbolSpec
from switchyard.core.enums import OrderType, Side, TimeInForce
from switchyard.core.messages import VenueNewOrder, VenueReplace, VenueRequest

from .settings import LiquidityConfig

MM_PREFIX = "~mm"  # order ids and accounts of simulated liquidity; clients may not use "~"


class MarketMaker:
    """Quotes one symbol around a random-walk reference price."""

    __slots__ = (
        "_config",
        "_count",
        "_quoted_reference",
        "_rng",
        "_slots",
        "account_id",
        "reference_price",
        "spec",
    )

    def __init__(self, spec: SymbolSpec, config: LiquidityConfig, rng: random.Random) -> None:
        self.spec = spec
        self._config = config
        self._rng = rng
        self.reference_price = spec.reference_price
        self.account_id = f"{MM_PREFIX}:{spec.symbol}"
        self._count = 0
        self._quoted_reference = spec.reference_price
        # (side, level index) -> order id of the quote kept there
        self._slots: dict[tuple[Side, int], str] = {}

    def walk(self) -> None:
        """One random-walk step of the reference price."""
        volatility = self._config.volatility_bps
        if volatility <= 0:
            return
        reference = self.reference_price
        move = self._rng.gauss(0.0, reference * volatility / BPS_DENOMINATOR)
        self.reference_price = self._clamp(reference + round(move))

    def follow(self, price: int) -> None:
        """Jump to a price seen elsewhere (kept on the tick grid and inside the band)."""
        assert price > 0, price
        self.reference_price = self._clamp(price)

    def quotes(self) -> list[tuple[Side, int, int, int]]:
        """Wanted quotes: (side, level index, price, qty); prices stay positive."""
        spec = self.spec
        tick = spec.tick_size
        config = self._config
        reference = self.reference_price
        half = max(tick, _to_ticks(reference * config.spread_bps / 2 / BPS_DENOMINATOR, tick))
        step = max(tick, _to_ticks(reference * config.level_step_bps / BPS_DENOMINATOR, tick))
        wanted = []
        for index in range(config.depth):
            for side, price in (
                (Side.BUY, reference - half - index * step),
                (Side.SELL, reference + half + index * step),
            ):
                if price <= 0:
                    continue
                lots = max(1, round(config.quote_lots * self._rng.uniform(0.5, 1.5)))
                wanted.append((side, index, price, lots * spec.lot_size))
        return wanted

    def requests(self, lookup: Callable[[str], BookOrder | None]) -> list[VenueRequest]:
        """Requests that move the quotes to `quotes()`: replace live ones, place missing ones.

        `lookup(order_id)` is the engine's view of a quote; cancels go first so the maker
        never crosses itself.
        """
        wanted_requests: list[VenueRequest] = []
        for side, index, price, qty in self.quotes():
            order_id = self._slots.get((side, index))
            order = lookup(order_id) if order_id else None
            if order is not None and order.leaves > 0:
                if order.price != price or order.qty - order.cum < qty // 2:
                    wanted_requests.append(
                        VenueReplace(order.order_id, self.spec.symbol, qty, price)
                    )
                continue
            self._count += 1
            order_id = f"{MM_PREFIX}-{self.spec.symbol}-{self._count}"
            self._slots[(side, index)] = order_id
            wanted_requests.append(
                VenueNewOrder(
                    order_id,
                    self.account_id,
                    self.spec.symbol,
                    side,
                    OrderType.LIMIT,
                    qty,
                    price,
                    TimeInForce.GTC,
                )
            )
        # Move the quotes in the direction of the price move first (up: highest first; down:
        # lowest first), so no replaced quote crosses one of the maker's not-yet-moved ones;
        # then place new quotes. (Were one to cross, self-trade prevention cancels the stale
        # quote: the maker never trades with itself.)
        rising = self.reference_price >= self._quoted_reference
        self._quoted_reference = self.reference_price
        sign = -1 if rising else 1
        return sorted(wanted_requests, key=lambda r: _priority(r, sign))

    def _clamp(self, price: int) -> int:
        spec = self.spec
        tick = spec.tick_size
        price = max(tick, price - price % tick)
        if spec.band_bps:
            # Stay well inside the band so quotes are never refused.
            room = spec.reference_price * spec.band_bps // (2 * BPS_DENOMINATOR)
            low = max(tick, spec.reference_price - room)
            high = spec.reference_price + room
            price = min(max(price, low), high)
            price -= price % tick
        return max(tick, price)


def _to_ticks(value: float, tick: int) -> int:
    return max(0, round(value / tick)) * tick


def _priority(request: VenueRequest, sign: int) -> tuple[int, int]:
    if isinstance(request, VenueReplace):
        return (0, sign * request.price)
    assert isinstance(request, VenueNewOrder)
    return (1, sign * request.price)
