"""Messages between the gateway and a venue (in-process or over TCP), and market data.

The gateway sends `VenueNewOrder`, `VenueCancel`, `VenueReplace`, `VenueStatusQuery` and
`VenueReference`; the venue answers with `ExecReport`s (each with the venue's own seq) and
publishes market data: `BookSnapshot`, `BookDelta` and `Trade`, all carrying the book's seq
so a client can detect gaps. Integers only: prices in ticks, quantities in lots, time in ns.
"""

from msgspec import Struct

from .codes import Reason
from .enums import LiquiditySide, OrderStatus, OrderType, ReportKind, Side, TimeInForce


class VenueNewOrder(Struct, frozen=True, gc=False):
    order_id: str
    account_id: str
    symbol: str
    side: Side
    order_type: OrderType
    qty: int
    price: int  # ticks; 0 for MARKET
    time_in_force: TimeInForce
    expire_at_ns: int = 0  # epoch ns for GTD
    post_only: bool = False


class VenueCancel(Struct, frozen=True, gc=False):
    order_id: str
    symbol: str


class VenueReplace(Struct, frozen=True, gc=False):
    """Cancel/replace: new total qty and/or price; a refused replace leaves the order as it was."""

    order_id: str
    symbol: str
    qty: int
    price: int


class VenueStatusQuery(Struct, frozen=True, gc=False):
    """Ask for the venue's view of an order (reconciliation after restart or reconnect)."""

    order_id: str
    symbol: str


class VenueReference(Struct, frozen=True, gc=False):
    """Move the simulated liquidity's reference price for a symbol (from `POST /events`)."""

    symbol: str
    price: int


class ExecReport(Struct, frozen=True, gc=False):
    """One venue report. `cum_qty` is the order's total filled quantity after this report."""

    kind: ReportKind
    order_id: str
    venue_seq: int
    symbol: str
    side: Side
    qty: int  # the order's current total quantity (after a replace: the new one)
    price: int  # the order's current limit price
    last_qty: int = 0  # FILL only
    last_price: int = 0  # FILL only
    cum_qty: int = 0
    leaves_qty: int = 0
    liquidity: LiquiditySide | None = None  # FILL only
    reason: Reason = Reason.NONE
    exec_id: str = ""  # FILL only: unique per trade at this venue
    ts_ns: int = 0  # venue time
    priority_kept: bool = False  # REPLACED only
    # STATUS only: the venue's view of the order (SENT = live and unfilled); None = unknown order
    order_status: OrderStatus | None = None


class BookLevel(Struct, frozen=True, gc=False, array_like=True):
    price: int
    qty: int


class BookSnapshot(Struct, frozen=True, gc=False):
    """L2 book, best first, at `seq` (the book's last applied update)."""

    symbol: str
    seq: int
    bids: list[BookLevel]
    asks: list[BookLevel]
    ts_ns: int = 0


class BookDelta(Struct, frozen=True, gc=False):
    """Changed levels (qty = new total at that price; 0 = level gone). seq = previous + 1."""

    symbol: str
    seq: int
    bids: list[BookLevel]
    asks: list[BookLevel]
    ts_ns: int = 0


class Trade(Struct, frozen=True, gc=False):
    symbol: str
    seq: int  # the book seq of the delta this trade produced
    price: int
    qty: int
    aggressor: Side
    ts_ns: int = 0


VenueRequest = VenueNewOrder | VenueCancel | VenueReplace | VenueStatusQuery | VenueReference
MarketData = BookSnapshot | BookDelta | Trade
