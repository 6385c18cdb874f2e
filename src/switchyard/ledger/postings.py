"""Double-entry postings for trades: every entry sums to zero per asset.

An entry is a list of postings `(account_id, book, asset, amount)`; amounts are integers,
debit positive. Books of a trading account:

    cash            asset = quote currency   the account's cash
    fees            asset = quote currency   fees paid (expense)
    cost:<SYM>      asset = quote currency   cost basis of the open position (inventory at cost)
    pnl:<SYM>       asset = quote currency   realized PnL (income: a gain is a credit, negative)
    position:<SYM>  asset = lots:<SYM>       the position in lots

The lots side of a trade is balanced by the contra account `@market` (book `position:<SYM>`),
which is where the lots came from. For each fill: cash moves by the notional, cost basis by
the position math, the difference is realized PnL; the fee moves from cash to fees. Pure.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from switchyard.core.enums import Side

from .positions import FillEffect, signed_qty

MARKET_ACCOUNT = "@market"
BOOK_CASH = "cash"
BOOK_FEES = "fees"


@dataclass(frozen=True, slots=True)
class Posting:
    account_id: str
    book: str
    asset: str
    amount: int  # debit positive


@dataclass(frozen=True, slots=True)
class Entry:
    """One balanced journal entry. Construction refuses an unbalanced one."""

    kind: str
    postings: tuple[Posting, ...]

    def __post_init__(self) -> None:
        assert self.postings, "an entry needs postings"
        assert is_balanced(self.postings), f"unbalanced entry: {self}"


def book_cost(symbol: str) -> str:
    return f"cost:{symbol}"


def book_pnl(symbol: str) -> str:
    return f"pnl:{symbol}"


def book_position(symbol: str) -> str:
    return f"position:{symbol}"


def asset_lots(symbol: str) -> str:
    return f"lots:{symbol}"


def is_balanced(postings: Iterable[Posting]) -> bool:
    """True when the amounts of each asset sum to zero."""
    totals: dict[str, int] = {}
    for posting in postings:
        totals[posting.asset] = totals.get(posting.asset, 0) + posting.amount
    return all(total == 0 for total in totals.values())


def fill_entry(
    *,
    account_id: str,
    symbol: str,
    currency: str,
    side: Side,
    qty: int,
    price: int,
    fee: int,
    effect: FillEffect,
) -> Entry:
    """The entry for one fill: lots, cash, cost basis, realized PnL and fee."""
    assert fee >= 0, fee
    lots = signed_qty(side, qty)
    notional = lots * price
    postings = [
        Posting(account_id, book_position(symbol), asset_lots(symbol), lots),
        Posting(MARKET_ACCOUNT, book_position(symbol), asset_lots(symbol), -lots),
        Posting(account_id, BOOK_CASH, currency, -notional - fee),
        Posting(account_id, book_cost(symbol), currency, effect.cost_change),
        Posting(account_id, book_pnl(symbol), currency, -effect.realized_pnl),
    ]
    if fee:
        postings.append(Posting(account_id, BOOK_FEES, currency, fee))
    return Entry("fill", tuple(p for p in postings if p.amount != 0))


def adjustment_entry(
    *, account_id: str, symbol: str, currency: str, cost_change: int, realized_change: int
) -> Entry:
    """Move value between cost basis and realized PnL after fills were re-ordered.

    Cash and lots never depend on the order of fills; only how the cost is split between
    the open position and realized PnL does, and the two changes are always equal.
    """
    assert cost_change == realized_change, (cost_change, realized_change)
    postings = (
        Posting(account_id, book_cost(symbol), currency, cost_change),
        Posting(account_id, book_pnl(symbol), currency, -realized_change),
    )
    return Entry("reorder_adjustment", postings)


def fee_for(*, notional: int, fee_bps: int) -> int:
    """Fee in cash units: `notional * fee_bps / 10_000`, rounded up (never undercharge)."""
    assert notional >= 0, notional
    assert fee_bps >= 0, fee_bps
    return -((-notional * fee_bps) // 10_000)
