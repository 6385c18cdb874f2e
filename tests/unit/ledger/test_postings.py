import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchyard.core.enums import Side
from switchyard.ledger import (
    BOOK_CASH,
    BOOK_FEES,
    MARKET_ACCOUNT,
    Entry,
    Position,
    Posting,
    adjustment_entry,
    apply_fill,
    asset_lots,
    fee_for,
    fill_entry,
    is_balanced,
)


def _fill(position: Position, side: Side, qty: int, price: int, fee: int = 0) -> Entry:
    effect = apply_fill(position, side=side, qty=qty, price=price)
    return fill_entry(
        account_id="a1",
        symbol="XYZ",
        currency="JPY",
        side=side,
        qty=qty,
        price=price,
        fee=fee,
        effect=effect,
    )


def _amount(entry: Entry, account_id: str, book: str) -> int:
    return sum(p.amount for p in entry.postings if p.account_id == account_id and p.book == book)


def test_fill_entry_buy_moves_cash_into_cost_and_lots_from_market() -> None:
    entry = _fill(Position(), Side.BUY, 10, 100)
    assert _amount(entry, "a1", BOOK_CASH) == -1000
    assert _amount(entry, "a1", "cost:XYZ") == 1000
    assert _amount(entry, "a1", "position:XYZ") == 10
    assert _amount(entry, MARKET_ACCOUNT, "position:XYZ") == -10


def test_fill_entry_closing_sell_credits_realized_pnl() -> None:
    entry = _fill(Position(qty=10, cost_basis=1000), Side.SELL, 10, 130)
    assert _amount(entry, "a1", BOOK_CASH) == 1300
    assert _amount(entry, "a1", "cost:XYZ") == -1000
    assert _amount(entry, "a1", "pnl:XYZ") == -300  # income is a credit


def test_fill_entry_fee_moves_cash_to_fees() -> None:
    entry = _fill(Position(), Side.BUY, 10, 100, fee=3)
    assert _amount(entry, "a1", BOOK_CASH) == -1003
    assert _amount(entry, "a1", BOOK_FEES) == 3


def test_entry_refuses_unbalanced_postings() -> None:
    with pytest.raises(AssertionError, match="unbalanced"):
        Entry("fill", (Posting("a1", BOOK_CASH, "JPY", 1),))


def test_is_balanced_checks_each_asset_separately() -> None:
    postings = [
        Posting("a1", BOOK_CASH, "JPY", 5),
        Posting("a1", "position:X", asset_lots("X"), -5),
    ]
    assert not is_balanced(postings)


def test_adjustment_entry_refuses_unequal_changes() -> None:
    with pytest.raises(AssertionError):
        adjustment_entry(
            account_id="a1", symbol="X", currency="JPY", cost_change=5, realized_change=4
        )


@pytest.mark.parametrize(
    ("notional", "bps", "fee"), [(1000, 10, 1), (1001, 10, 2), (999_999, 0, 0), (0, 10, 0)]
)
def test_fee_for_rounds_up(notional: int, bps: int, fee: int) -> None:
    assert fee_for(notional=notional, fee_bps=bps) == fee


@given(
    st.integers(-500, 500),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.integers(1, 500),
    st.integers(0, 10_000),
    st.integers(0, 50),
)
def test_fill_entry_always_balanced(held: int, side: Side, qty: int, price: int, fee: int) -> None:
    position = Position(qty=held, cost_basis=held * 100)
    entry = _fill(position, side, qty, price, fee)
    assert is_balanced(entry.postings)
