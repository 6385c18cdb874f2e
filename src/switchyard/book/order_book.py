"""One symbol's limit order book: price-time priority matching and its market data.

Owns the resting orders of one symbol, the matching of incoming orders against them, and the
incremental market data (one `BookDelta` per command, the trades it caused). It must not do
I/O, read a clock or draw random numbers: time arrives as `now_ns`, and every result is an
`ExecReport` appended to the list the caller passes in. `engine.MatchingEngine` routes
requests to books and owns what spans symbols (order registry, venue seq, GTD expiry).

Layout (measured hot path, see docs/VENUE.md): per side a dict price -> `_Level` and a sorted
list of keys with the best price last (bids: price; asks: -price), so the best level is
`keys[-1]` and removing it is `keys.pop()`. A level's FIFO is a dict order id -> order (insertion
ordered): an order that is canceled, filled or moved leaves it at once, so the match loop never
meets a dead entry and no level needs compacting. Plain `__slots__` classes, locals bound in
loops.

Report order for one command (the reference book in `testing/` follows the same rules):
ACK; then per match step either CANCELED (self-trade prevention) or FILL taker then FILL maker;
then EXPIRED for an IOC/FOK/MARKET remainder. Refused input gives one REJECTED and no ACK.
"""

from bisect import bisect_left, insort
from collections import deque
from heapq import heappush
from itertools import count

from msgspec import Struct

from switchyard.core.codes import Reason
from switchyard.core.enums import (
    LiquiditySide,
    OrderStatus,
    OrderType,
    ReportKind,
    SelfTradePolicy,
    Side,
    TimeInForce,
)
from switchyard.core.limits import (
    ORDER_PRICE_MAX,
    ORDER_QTY_MAX,
    VENUE_FINAL_ORDERS_RETAINED_MAX,
    VENUE_ORDERS_OPEN_MAX,
)
from switchyard.core.messages import (
    BookDelta,
    BookLevel,
    BookSnapshot,
    ExecReport,
    MarketData,
    Trade,
    VenueNewOrder,
    VenueReplace,
)

from .spec import BPS_DENOMINATOR, SymbolSpec

# Enum members bound once: `Reason.X` costs ~90 ns per lookup on Python 3.11 (measured).
_BUY = Side.BUY
_SELL = Side.SELL
_LIMIT = OrderType.LIMIT
_MARKET = OrderType.MARKET
_GTC = TimeInForce.GTC
_IOC = TimeInForce.IOC
_FOK = TimeInForce.FOK
_GTD = TimeInForce.GTD
_ACK = ReportKind.ACK
_FILL = ReportKind.FILL
_CANCELED_KIND = ReportKind.CANCELED
_REJECTED_KIND = ReportKind.REJECTED
_EXPIRED_KIND = ReportKind.EXPIRED
_REPLACED = ReportKind.REPLACED
_REPLACE_REJECTED = ReportKind.REPLACE_REJECTED
_MAKER = LiquiditySide.MAKER
_TAKER = LiquiditySide.TAKER
_NONE = Reason.NONE
_STP = Reason.SELF_TRADE_PREVENTED
_NO_LIQUIDITY = Reason.NO_LIQUIDITY
_IOC_REMAINDER = Reason.IOC_REMAINDER
_SENT = OrderStatus.SENT
_PARTIAL = OrderStatus.PARTIALLY_FILLED
_FILLED = OrderStatus.FILLED
_CANCELED = OrderStatus.CANCELED
_EXPIRED = OrderStatus.EXPIRED
_REJECTED = OrderStatus.REJECTED
_ALLOW = SelfTradePolicy.ALLOW
_CANCEL_RESTING = SelfTradePolicy.CANCEL_RESTING
_CANCEL_INCOMING = SelfTradePolicy.CANCEL_INCOMING
_CANCEL_BOTH = SelfTradePolicy.CANCEL_BOTH
_MARKET_THRESHOLD = -(ORDER_PRICE_MAX + 1)  # below every key: a market order crosses any level

LIVE_STATUSES = frozenset({_SENT, _PARTIAL})


class BookOrder(Struct, gc=False):
    """An order as the venue sees it; mutable. A msgspec Struct with `gc=False`: built once
    per order on the hot path (faster than a `__slots__` class's `__init__`), and never
    tracked by the cyclic GC, whose full collections over hundreds of thousands of retained
    orders otherwise cost milliseconds (measured: docs/VENUE.md). It refers only to str, int
    and enum values, so it can be in no reference cycle."""

    order_id: str
    account_id: str
    symbol: str
    side: Side
    order_type: OrderType
    tif: TimeInForce
    price: int
    qty: int
    leaves: int  # 0 once final; its queue entry is then dead (lazy delete)
    expire_at_ns: int
    post_only: bool
    serial: int  # arrival number; a GTD order gets a new one when it loses priority (expiry heap)
    cum: int = 0
    status: OrderStatus = OrderStatus.SENT
    reason: Reason = Reason.NONE

    def __repr__(self) -> str:
        return (
            f"BookOrder({self.order_id!r} {self.side.name} {self.qty}@{self.price} "
            f"cum={self.cum} leaves={self.leaves} {self.status.name})"
        )


class OrderRegistry:
    """What the books of one venue share: live and final orders, venue seq, GTD heap, output."""

    __slots__ = (
        "final",
        "final_ids",
        "final_max",
        "gtd",
        "live",
        "market_data",
        "market_data_enabled",
        "open_max",
        "seq",
        "serial",
    )

    def __init__(
        self,
        *,
        market_data_enabled: bool = True,
        open_max: int = VENUE_ORDERS_OPEN_MAX,
        final_max: int = VENUE_FINAL_ORDERS_RETAINED_MAX,
    ) -> None:
        assert open_max > 0, open_max
        assert final_max > 0, final_max
        self.live: dict[str, BookOrder] = {}  # resting orders of every book
        self.final: dict[str, BookOrder] = {}  # the last `final_max` final orders
        self.final_ids: deque[str] = deque()  # eviction order of `final`
        self.final_max = final_max
        self.open_max = open_max
        self.seq = count(1)  # venue seq: one per report, across symbols
        self.serial = count(1)  # order arrival number
        self.gtd: list[tuple[int, int, BookOrder]] = []  # (expire_at_ns, serial, order) heap
        self.market_data: list[MarketData] = []  # drained by the owner after each command
        self.market_data_enabled = market_data_enabled

    def finish(self, order: BookOrder) -> None:
        """Remember a final order (for dedupe and STATUS); forget the oldest beyond the bound."""
        order_id = order.order_id
        assert order.leaves == 0, order
        assert order_id not in self.live, order
        final = self.final
        assert order_id not in final, order_id
        final[order_id] = order
        ids = self.final_ids
        ids.append(order_id)
        if len(ids) > self.final_max:
            del final[ids.popleft()]


class _Level:
    __slots__ = ("dirty", "orders", "price", "qty")

    def __init__(self, price: int) -> None:
        self.price = price
        self.qty = 0  # sum of leaves
        self.dirty = False  # changed since the last publish (then in the book's dirty list)
        # order id -> order, in time priority (a dict keeps insertion order): append, remove
        # from anywhere and read the front are all O(1), so nothing dead is ever kept.
        self.orders: dict[str, BookOrder] = {}


class OrderBook:
    """Price-time priority book of one symbol. Commands append their reports to `out`."""

    __slots__ = (
        "_dirty_asks",
        "_dirty_bids",
        "_price_max",
        "_price_min",
        "_trades",
        "_unit_steps",
        "ask_keys",
        "ask_levels",
        "band_bps",
        "bid_keys",
        "bid_levels",
        "lot_size",
        "md_seq",
        "reference_price",
        "registry",
        "stp_policy",
        "symbol",
        "tick_size",
        "trade_count",
    )

    def __init__(
        self, spec: SymbolSpec, registry: OrderRegistry, stp_policy: SelfTradePolicy
    ) -> None:
        self.symbol = spec.symbol
        self.tick_size = spec.tick_size
        self.lot_size = spec.lot_size
        self.band_bps = spec.band_bps
        self.reference_price = spec.reference_price
        assert stp_policy.__class__ is SelfTradePolicy, stp_policy  # compared by identity
        self.stp_policy = stp_policy
        self.registry = registry
        self.bid_keys: list[int] = []  # bid prices ascending: best last
        self.bid_levels: dict[int, _Level] = {}
        self.ask_keys: list[int] = []  # negated ask prices ascending: best (lowest) last
        self.ask_levels: dict[int, _Level] = {}
        self.md_seq = 0  # seq of the last BookDelta
        self.trade_count = 0
        # Levels changed since the last publish, in first-change order, each level object
        # once (its `dirty` flag: a slot test is far cheaper than a dict store per change). A
        # level removed and re-created at the same price appears twice; publish dedupes prices.
        self._dirty_bids: list[_Level] = []
        self._dirty_asks: list[_Level] = []
        self._trades: list[Trade] = []
        # Precomputed for the hot paths' "certainly valid" test (the full checks, in their
        # documented order, run only when it fails): lot and tick of 1 need no modulo, and
        # the tick range and price band are one interval, recomputed by set_reference().
        self._unit_steps = self.lot_size == 1 and self.tick_size == 1
        self._price_min = 1
        self._price_max = ORDER_PRICE_MAX
        self._set_price_interval()

    # --- commands -------------------------------------------------------------------

    def new_order(self, msg: VenueNewOrder, now_ns: int, out: list[ExecReport]) -> None:  # noqa: C901
        """Validate, acknowledge, match and rest (or expire) a new order."""
        reg = self.registry
        order_id = msg.order_id
        order_type = msg.order_type
        side = msg.side
        qty = msg.qty
        tif = msg.time_in_force
        # Enum fields are compared by identity (`is`: an IntEnum `==` costs ~10x more); the
        # message types declare enum members, and the slow path below asserts it.
        checked = False  # certainly valid (a plain LIMIT order)? Else the full checks, in order.
        if order_type is _LIMIT:
            price = msg.price
            if (  # an `if`, not an assigned expression: its int compares get specialised
                0 < qty <= ORDER_QTY_MAX
                and self._price_min <= price <= self._price_max
                and (self._unit_steps or not (qty % self.lot_size or price % self.tick_size))
                and (tif is _GTC or tif is _IOC or tif is _FOK)
                and not msg.post_only
                and len(reg.live) < reg.open_max
            ):
                checked = True
        else:
            price = 0
        order = BookOrder(
            order_id, msg.account_id, self.symbol, side, order_type, tif, price, qty, qty,
            msg.expire_at_ns, msg.post_only, next(reg.serial),
        )  # fmt: skip
        if not checked:
            reason = self._validate_new(order, now_ns)
            if reason:
                self._reject(order, reason, msg.price, now_ns, out)
                return
        out.append(
            ExecReport(
                _ACK, order_id, next(reg.seq), self.symbol, side, qty, price,
                0, 0, 0, qty, None, _NONE, "", now_ns,
            )
        )  # fmt: skip
        if tif is _FOK and not self._fok_fillable(order):
            self._expire(order, Reason.FOK_NOT_FILLABLE, now_ns, out)
            return
        if side is _BUY:
            levels, keys, key, dirty = self.bid_levels, self.bid_keys, price, self._dirty_bids
            opposite = self.ask_keys
        else:
            assert side is _SELL, side
            levels, keys, key, dirty = self.ask_levels, self.ask_keys, -price, self._dirty_asks
            opposite = self.bid_keys
        # Crosses when the opposite best key reaches -key (asks are keyed -price, bids price).
        if opposite and (order_type is _MARKET or opposite[-1] >= -key):
            self._match(order, now_ns, out)
            if order.leaves:
                self._settle_incoming(order, now_ns, out)
            else:  # filled, or canceled by self-trade prevention
                reg.finish(order)
        elif order_type is _MARKET or tif is _IOC:
            self._settle_incoming(order, now_ns, out)
        else:
            # _rest(), inlined: resting a new order is the most common command.
            level = levels.get(price)
            if level is None:
                level = levels[price] = _Level(price)
                if not keys or key > keys[-1]:
                    keys.append(key)
                else:
                    insort(keys, key)
            if not level.dirty:
                level.dirty = True
                dirty.append(level)
            level.orders[order_id] = order
            level.qty += qty
            reg.live[order_id] = order
            if tif is _GTD:
                heappush(reg.gtd, (order.expire_at_ns, order.serial, order))

    def cancel(self, order: BookOrder, reason: Reason, now_ns: int, out: list[ExecReport]) -> None:
        """Cancel a resting order of this book."""
        assert order.symbol == self.symbol, order
        assert order.leaves > 0, order
        # _unrest() and finish(), inlined: cancels are a hot command.
        price = order.price
        if order.side is _BUY:
            levels, keys, key, dirty = self.bid_levels, self.bid_keys, price, self._dirty_bids
        else:
            levels, keys, key, dirty = self.ask_levels, self.ask_keys, -price, self._dirty_asks
        level = levels[price]
        if not level.dirty:
            level.dirty = True
            dirty.append(level)
        orders = level.orders
        del orders[order.order_id]
        level.qty -= order.leaves
        if not orders:
            del levels[price]
            if keys[-1] == key:
                keys.pop()
            else:
                del keys[bisect_left(keys, key)]
        reg = self.registry
        order_id = order.order_id
        del reg.live[order_id]
        order.leaves = 0
        order.status = _CANCELED
        order.reason = reason
        final = reg.final
        final[order_id] = order
        final_ids = reg.final_ids
        final_ids.append(order_id)
        if len(final_ids) > reg.final_max:
            del final[final_ids.popleft()]
        out.append(
            ExecReport(
                _CANCELED_KIND, order_id, next(reg.seq), self.symbol, order.side, order.qty,
                price, 0, 0, order.cum, 0, None, reason, "", now_ns,
            )
        )  # fmt: skip

    def expire_resting(self, order: BookOrder, now_ns: int, out: list[ExecReport]) -> None:
        """Expire a resting GTD order whose time has come."""
        assert order.tif is _GTD, order
        assert order.expire_at_ns <= now_ns, order
        self._unrest(order)
        self._expire(order, Reason.GTD_EXPIRED, now_ns, out)

    def replace(  # noqa: C901 (the most common command, kept in one frame: bench-venue)
        self, order: BookOrder, msg: VenueReplace, now_ns: int, out: list[ExecReport]
    ) -> None:
        """Cancel/replace a resting order; a refused replace leaves it exactly as it was."""
        qty = msg.qty
        price = msg.price
        cum = order.cum
        if not (
            cum < qty <= ORDER_QTY_MAX
            and self._price_min <= price <= self._price_max
            and (self._unit_steps or not (qty % self.lot_size or price % self.tick_size))
            and not order.post_only
        ):  # not certainly valid: full checks, in their documented order
            reason = self._validate_replace(order, qty, price)
            if reason:
                out.append(self._report(order, _REPLACE_REJECTED, reason, now_ns))
                return
        old_price = order.price
        if price == old_price and qty <= order.qty:
            self._shrink(order, qty, now_ns, out)
            return
        # Price change or size increase: a new priority. The order leaves its level and joins
        # the back of its new level (or matches first if it crosses). _unrest() and _rest()
        # are inlined: moving an order is the most common command.
        reg = self.registry
        side = order.side
        if side is _BUY:
            levels, keys, dirty = self.bid_levels, self.bid_keys, self._dirty_bids
            old_key, new_key = old_price, price
            opposite = self.ask_keys
        else:
            levels, keys, dirty = self.ask_levels, self.ask_keys, self._dirty_asks
            old_key, new_key = -old_price, -price
            opposite = self.bid_keys
        order_id = order.order_id
        leaves = order.leaves
        level = levels[old_price]
        orders = level.orders
        del orders[order_id]
        level.qty -= leaves
        if not orders:
            del levels[old_price]
            if keys[-1] == old_key:
                keys.pop()
            else:
                del keys[bisect_left(keys, old_key)]
        if not level.dirty:
            level.dirty = True
            dirty.append(level)
        # Attribute stores on a msgspec Struct are slow (~200 instructions each, no
        # specialisation): store only what changes (live: cum + leaves == qty).
        order.price = price
        if qty != order.qty:
            order.qty = qty
            order.leaves = leaves = qty - cum
        gtd = order.tif is _GTD
        if gtd:  # its old expiry-heap entry goes stale; the new one follows its new priority
            order.serial = next(reg.serial)
        out.append(
            ExecReport(
                _REPLACED, order_id, next(reg.seq), self.symbol, side, qty,
                price, 0, 0, cum, leaves, None, _NONE, "", now_ns,
            )
        )  # fmt: skip
        if opposite and opposite[-1] >= -new_key:  # crosses: trade first
            del reg.live[order_id]
            self._match(order, now_ns, out)
            self._settle_incoming(order, now_ns, out)
            return
        target = levels.get(price)
        if target is None:
            target = levels[price] = _Level(price)
            if not keys or new_key > keys[-1]:
                keys.append(new_key)
            else:
                insort(keys, new_key)
        target.orders[order_id] = order
        target.qty += leaves
        if not target.dirty:
            target.dirty = True
            dirty.append(target)
        if gtd:
            heappush(reg.gtd, (order.expire_at_ns, order.serial, order))

    def set_reference(self, price: int) -> None:
        """Move the price-band centre (the simulated liquidity's reference price)."""
        assert 0 < price <= ORDER_PRICE_MAX, price
        self.reference_price = price
        self._set_price_interval()

    def _set_price_interval(self) -> None:
        # |price - ref| * BPS > band * ref  <=>  |price - ref| > (band * ref) // BPS (integers),
        # so the prices _validate_price accepts (ignoring the tick) are exactly this interval.
        low, high = 1, ORDER_PRICE_MAX
        if self.band_bps:
            reference = self.reference_price
            width = self.band_bps * reference // BPS_DENOMINATOR
            low = max(low, reference - width)
            high = min(high, reference + width)
        self._price_min = low
        self._price_max = high

    # --- market data ----------------------------------------------------------------

    def publish(self, now_ns: int) -> None:
        """Emit one BookDelta (seq + 1) for the levels changed since the last one, then trades."""
        dirty_bids = self._dirty_bids
        dirty_asks = self._dirty_asks
        if not dirty_bids and not dirty_asks:
            return
        reg = self.registry
        if reg.market_data_enabled:
            bid_levels = self.bid_levels
            ask_levels = self.ask_levels
            bids = [
                BookLevel(p, level.qty if (level := bid_levels.get(p)) else 0)
                for p in dict.fromkeys([changed.price for changed in dirty_bids])
            ]
            asks = [
                BookLevel(p, level.qty if (level := ask_levels.get(p)) else 0)
                for p in dict.fromkeys([changed.price for changed in dirty_asks])
            ]
            self.md_seq += 1
            reg.market_data.append(BookDelta(self.symbol, self.md_seq, bids, asks, now_ns))
            if self._trades:
                reg.market_data.extend(self._trades)
                self._trades.clear()
        for changed in dirty_bids:
            changed.dirty = False
        for changed in dirty_asks:
            changed.dirty = False
        dirty_bids.clear()
        dirty_asks.clear()

    def has_changes(self) -> bool:
        """Levels changed since the last publish?"""
        return bool(self._dirty_bids or self._dirty_asks)

    def snapshot(self, depth: int, now_ns: int = 0) -> BookSnapshot:
        """L2 book, best first, at most `depth` levels a side, at the last delta's seq."""
        assert depth >= 0, depth
        bid_levels = self.bid_levels
        ask_levels = self.ask_levels
        bid_keys = self.bid_keys[-depth:] if depth else []
        ask_keys = self.ask_keys[-depth:] if depth else []
        bids = [BookLevel(k, bid_levels[k].qty) for k in reversed(bid_keys)]
        asks = [BookLevel(-k, ask_levels[-k].qty) for k in reversed(ask_keys)]
        return BookSnapshot(self.symbol, self.md_seq, bids, asks, now_ns)

    def best_bid(self) -> BookLevel | None:
        """Best bid price and its total quantity, or None."""
        if not self.bid_keys:
            return None
        price = self.bid_keys[-1]
        return BookLevel(price, self.bid_levels[price].qty)

    def best_ask(self) -> BookLevel | None:
        """Best ask price and its total quantity, or None."""
        if not self.ask_keys:
            return None
        price = -self.ask_keys[-1]
        return BookLevel(price, self.ask_levels[price].qty)

    # --- validation -----------------------------------------------------------------

    def _validate_new(self, order: BookOrder, now_ns: int) -> Reason:
        # The hot paths compare these by identity: they must be enum members.
        assert order.side is _BUY or order.side is _SELL, order.side
        assert order.order_type is _LIMIT or order.order_type is _MARKET, order.order_type
        assert order.tif.__class__ is TimeInForce, order.tif
        qty = order.qty
        if qty <= 0 or qty > ORDER_QTY_MAX or qty % self.lot_size:
            return Reason.INVALID_LOT
        if order.order_type is _LIMIT:
            reason = self._validate_price(order.price)
            if reason:
                return reason
        if order.tif is _GTD and order.expire_at_ns <= now_ns:
            return Reason.EXPIRE_AT_IN_PAST
        if order.post_only and (
            order.order_type is _MARKET or self._crosses(order.side, _LIMIT, order.price)
        ):
            return Reason.POST_ONLY_WOULD_TAKE
        if len(self.registry.live) >= self.registry.open_max:
            return Reason.VENUE_REJECTED
        return _NONE

    def _validate_price(self, price: int) -> Reason:
        if price <= 0 or price > ORDER_PRICE_MAX or price % self.tick_size:
            return Reason.INVALID_TICK
        band = self.band_bps
        if band:
            reference = self.reference_price
            if abs(price - reference) * BPS_DENOMINATOR > band * reference:
                return Reason.OUTSIDE_PRICE_BAND
        return _NONE

    def _validate_replace(self, order: BookOrder, qty: int, price: int) -> Reason:
        if qty <= 0 or qty > ORDER_QTY_MAX or qty % self.lot_size:
            return Reason.INVALID_LOT
        reason = self._validate_price(price)
        if reason:
            return reason
        if qty <= order.cum:
            return Reason.INVALID_REPLACE
        if order.post_only and self._crosses(order.side, _LIMIT, price):
            return Reason.POST_ONLY_WOULD_TAKE
        return _NONE

    def _crosses(self, side: Side, order_type: OrderType, price: int) -> bool:
        if side is _BUY:
            keys = self.ask_keys
            return bool(keys) and (order_type is _MARKET or -keys[-1] <= price)
        keys = self.bid_keys
        return bool(keys) and (order_type is _MARKET or keys[-1] >= price)

    def _fok_fillable(self, order: BookOrder) -> bool:
        """Would the whole qty trade now, self-trade prevention included?"""
        if order.side is _BUY:
            keys, levels, sign = self.ask_keys, self.ask_levels, -1
            threshold = -order.price
        else:
            keys, levels, sign = self.bid_keys, self.bid_levels, 1
            threshold = order.price
        if order.order_type is _MARKET:
            threshold = _MARKET_THRESHOLD
        need = order.qty
        policy = self.stp_policy
        account = order.account_id
        for key in reversed(keys):
            if key < threshold:
                return False
            level = levels[key * sign]
            if policy is _ALLOW:
                need -= level.qty
                if need <= 0:
                    return True
                continue
            for resting in level.orders.values():
                if resting.account_id == account:
                    if policy is _CANCEL_RESTING:
                        continue
                    return False  # the incoming order is canceled here
                need -= resting.leaves
                if need <= 0:
                    return True
        return False

    # --- matching -------------------------------------------------------------------

    def _match(self, order: BookOrder, now_ns: int, out: list[ExecReport]) -> None:  # noqa: C901
        """Trade `order` against the opposite side while it crosses (the hot loop)."""
        if order.side is _BUY:
            keys, levels, sign, dirty = self.ask_keys, self.ask_levels, -1, self._dirty_asks
            threshold = -order.price
        else:
            keys, levels, sign, dirty = self.bid_keys, self.bid_levels, 1, self._dirty_bids
            threshold = order.price
        if order.order_type is _MARKET:
            threshold = _MARKET_THRESHOLD
        reg = self.registry
        live = reg.live
        seq = reg.seq
        append = out.append
        trades = self._trades if reg.market_data_enabled else None
        policy = self.stp_policy
        stp = policy is not _ALLOW
        account = order.account_id
        symbol = self.symbol
        order_id = order.order_id
        side = order.side
        qty = order.qty
        limit_price = order.price
        leaves = order.leaves
        cum = order.cum
        trade_count = self.trade_count
        md_seq_next = self.md_seq + 1
        while leaves and keys:
            key = keys[-1]
            if key < threshold:
                break
            price = key * sign
            level = levels[price]
            orders = level.orders
            if not level.dirty:
                level.dirty = True
                dirty.append(level)
            while leaves and orders:
                for resting in orders.values():  # noqa: B007 (the front order, no next() call)
                    break
                resting_leaves = resting.leaves
                if stp and resting.account_id == account:
                    if policy is not _CANCEL_INCOMING:
                        del orders[resting.order_id]
                        level.qty -= resting_leaves
                        resting.leaves = 0
                        resting.status = _CANCELED
                        resting.reason = _STP
                        del live[resting.order_id]
                        reg.finish(resting)
                        append(self._report(resting, _CANCELED_KIND, _STP, now_ns))
                    if policy is not _CANCEL_RESTING:
                        order.cum = cum
                        order.leaves = leaves = 0
                        order.status = _CANCELED
                        order.reason = _STP
                        append(self._report(order, _CANCELED_KIND, _STP, now_ns))
                    continue
                fill = leaves if leaves < resting_leaves else resting_leaves
                leaves -= fill
                cum += fill
                resting_leaves -= fill
                resting.leaves = resting_leaves
                resting_cum = resting.cum + fill
                resting.cum = resting_cum
                level.qty -= fill
                trade_count += 1
                exec_id = f"{symbol}-{trade_count}"
                append(
                    ExecReport(
                        _FILL, order_id, next(seq), symbol, side, qty, limit_price,
                        fill, price, cum, leaves, _TAKER, _NONE, exec_id, now_ns,
                    )
                )  # fmt: skip
                append(
                    ExecReport(
                        _FILL, resting.order_id, next(seq), symbol, resting.side, resting.qty,
                        resting.price, fill, price, resting_cum, resting_leaves, _MAKER, _NONE,
                        exec_id, now_ns,
                    )
                )  # fmt: skip
                if trades is not None:
                    trades.append(Trade(symbol, md_seq_next, price, fill, side, now_ns))
                if resting_leaves:
                    if resting.status is not _PARTIAL:  # a store costs more than the test
                        resting.status = _PARTIAL
                else:
                    # finish(), inlined: remember the final order, forget beyond the bound.
                    resting_id = resting.order_id
                    del orders[resting_id]
                    resting.status = _FILLED
                    del live[resting_id]
                    final = reg.final
                    final[resting_id] = resting
                    final_ids = reg.final_ids
                    final_ids.append(resting_id)
                    if len(final_ids) > reg.final_max:
                        del final[final_ids.popleft()]
            if not orders:
                del levels[price]
                keys.pop()
        self.trade_count = trade_count
        if order.status is not _CANCELED:
            order.leaves = leaves
            order.cum = cum
            if cum:
                order.status = _PARTIAL if leaves else _FILLED

    def _settle_incoming(self, order: BookOrder, now_ns: int, out: list[ExecReport]) -> None:
        """After matching: rest a GTC/GTD remainder, expire an IOC/FOK/MARKET one, or finish."""
        if order.status is _CANCELED or not order.leaves:
            assert order.order_id not in self.registry.live, order
            self.registry.finish(order)
            return
        if order.order_type is _MARKET:
            self._expire(order, _NO_LIQUIDITY, now_ns, out)
        elif order.tif is _IOC:
            self._expire(order, _IOC_REMAINDER, now_ns, out)
        else:
            assert order.tif is not _FOK, order  # checked fillable before matching
            self._rest(order)

    def _expire(self, order: BookOrder, reason: Reason, now_ns: int, out: list[ExecReport]) -> None:
        order.leaves = 0
        order.status = _EXPIRED
        order.reason = reason
        self.registry.finish(order)
        out.append(self._report(order, _EXPIRED_KIND, reason, now_ns))

    def _reject(
        self, order: BookOrder, reason: Reason, price: int, now_ns: int, out: list[ExecReport]
    ) -> None:
        order.price = price  # echo what was asked, even for a MARKET order
        order.leaves = 0
        order.status = _REJECTED
        order.reason = reason
        self.registry.finish(order)
        out.append(self._report(order, _REJECTED_KIND, reason, now_ns))

    def _shrink(self, order: BookOrder, qty: int, now_ns: int, out: list[ExecReport]) -> None:
        """Same price, same or smaller size: keep time priority."""
        delta = order.qty - qty
        assert 0 <= delta < order.leaves, (order, qty)
        if delta:
            order.qty = qty
            order.leaves -= delta
            if order.side is _BUY:
                level, dirty = self.bid_levels[order.price], self._dirty_bids
            else:
                level, dirty = self.ask_levels[order.price], self._dirty_asks
            level.qty -= delta
            if not level.dirty:
                level.dirty = True
                dirty.append(level)
        out.append(self._report(order, _REPLACED, _NONE, now_ns, priority_kept=True))

    # --- resting orders -------------------------------------------------------------

    def _rest(self, order: BookOrder) -> None:
        price = order.price
        assert order.leaves > 0, order
        assert order.order_id not in self.registry.live, order
        if order.side is _BUY:
            levels, keys, key, dirty = self.bid_levels, self.bid_keys, price, self._dirty_bids
        else:
            levels, keys, key, dirty = self.ask_levels, self.ask_keys, -price, self._dirty_asks
        level = levels.get(price)
        if level is None:
            level = levels[price] = _Level(price)
            if not keys or key > keys[-1]:
                keys.append(key)
            else:
                insort(keys, key)
        if not level.dirty:
            level.dirty = True
            dirty.append(level)
        level.orders[order.order_id] = order
        level.qty += order.leaves
        reg = self.registry
        reg.live[order.order_id] = order
        if order.tif is _GTD:
            heappush(reg.gtd, (order.expire_at_ns, order.serial, order))

    def _unrest(self, order: BookOrder) -> None:
        """Take a resting order out of its level (lazily) and out of the live index."""
        price = order.price
        if order.side is _BUY:
            levels, keys, key, dirty = self.bid_levels, self.bid_keys, price, self._dirty_bids
        else:
            levels, keys, key, dirty = self.ask_levels, self.ask_keys, -price, self._dirty_asks
        level = levels[price]
        if not level.dirty:
            level.dirty = True
            dirty.append(level)
        assert order.leaves > 0, order
        orders = level.orders
        del orders[order.order_id]
        level.qty -= order.leaves
        order.leaves = 0
        del self.registry.live[order.order_id]
        if not orders:
            del levels[price]
            if keys[-1] == key:
                keys.pop()
            else:
                del keys[bisect_left(keys, key)]

    def _report(
        self,
        order: BookOrder,
        kind: ReportKind,
        reason: Reason,
        now_ns: int,
        *,
        priority_kept: bool = False,
    ) -> ExecReport:
        return ExecReport(
            kind, order.order_id, next(self.registry.seq), self.symbol, order.side, order.qty,
            order.price, 0, 0, order.cum, order.leaves, None, reason, "", now_ns, priority_kept,
        )  # fmt: skip

    # --- checks (tests call these after every command) ------------------------------

    def check_invariants(self) -> None:
        """Assert the book's internal consistency; O(orders), for tests and debugging."""
        live = self.registry.live
        for side, keys, levels, sign in (
            (_BUY, self.bid_keys, self.bid_levels, 1),
            (_SELL, self.ask_keys, self.ask_levels, -1),
        ):
            assert keys == sorted(set(keys)), keys
            assert sorted(k * sign for k in keys) == sorted(levels), (keys, list(levels))
            for price, level in levels.items():
                assert level.price == price
                alive = list(level.orders.values())
                assert alive, price  # an empty level is removed at once
                assert sum(o.leaves for o in alive) == level.qty, price
                assert len({id(o) for o in alive}) == len(alive), price
                for order_id, order in level.orders.items():
                    assert order.order_id == order_id, order
                    assert order.leaves > 0, order
                    assert order.side == side, order
                    assert order.price == price, order
                    assert live.get(order.order_id) is order, order
                    assert order.cum + order.leaves == order.qty, order
                    assert order.status in LIVE_STATUSES, order
                    assert order.order_type is _LIMIT, order
        if self.bid_keys and self.ask_keys:
            assert self.bid_keys[-1] < -self.ask_keys[-1], "crossed book at rest"
