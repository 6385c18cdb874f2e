"""Small integer enums of the trading vocabulary.

Names are exactly the strings of the public API (DESIGN §3); values are what the WAL stores.
Values are part of the WAL format: never renumber, only append.
"""

from enum import IntEnum


class Side(IntEnum):
    BUY = 1
    SELL = 2


class OrderType(IntEnum):
    LIMIT = 1
    MARKET = 2


class TimeInForce(IntEnum):
    GTC = 1
    IOC = 2
    FOK = 3
    GTD = 4


class OrderStatus(IntEnum):
    """Gateway order states. Terminal states absorb every later event."""

    ACCEPTED = 1  # sequenced by us (fast ACK); not yet handed to the venue
    SENT = 2  # handed to the venue after the accept record was durable
    PARTIALLY_FILLED = 3
    FILLED = 4  # terminal
    CANCEL_REQUESTED = 5
    CANCELED = 6  # terminal
    REJECTED = 7  # terminal: refused by the venue
    DENIED = 8  # terminal: refused by our pre-trade risk
    EXPIRED = 9  # terminal: IOC/FOK remainder, GTD expiry


TERMINAL_STATUSES = frozenset(
    {
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.REJECTED,
        OrderStatus.DENIED,
        OrderStatus.EXPIRED,
    }
)


class LiquiditySide(IntEnum):
    MAKER = 1
    TAKER = 2


class SelfTradePolicy(IntEnum):
    """What the venue does when an incoming order would trade with the same account."""

    CANCEL_RESTING = 1  # default: cancel the resting order, keep matching the incoming one
    CANCEL_INCOMING = 2  # cancel the remainder of the incoming order
    CANCEL_BOTH = 3
    ALLOW = 4  # no prevention


class ReportKind(IntEnum):
    """Execution report kinds sent by a venue to the gateway."""

    ACK = 1  # order accepted by the venue (resting or about to match)
    FILL = 2  # a trade; cum_qty/leaves_qty tell whether it was partial
    CANCELED = 3  # canceled (by request, by self-trade prevention, ...)
    REJECTED = 4  # new order refused by the venue
    EXPIRED = 5  # IOC/FOK remainder or GTD expiry
    REPLACED = 6  # cancel/replace applied
    REPLACE_REJECTED = 7  # cancel/replace refused; the order is untouched
    CANCEL_REJECTED = 8  # cancel refused (unknown or already final)
    STATUS = 9  # answer to a status query (reconciliation)
