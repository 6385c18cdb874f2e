from hypothesis import given
from hypothesis import strategies as st

from switchyard.core.enums import Side
from switchyard.ledger import FillTerms, Position, apply_fill, fold_fills, signed_qty


def test_apply_fill_same_side_averages_cost() -> None:
    effects = fold_fills([FillTerms(Side.BUY, 10, 100), FillTerms(Side.BUY, 10, 110)])
    assert effects[-1].position == Position(qty=20, cost_basis=2100, realized_pnl=0)


def test_apply_fill_partial_close_realizes_against_average_cost() -> None:
    start = Position(qty=20, cost_basis=2100)
    effect = apply_fill(start, side=Side.SELL, qty=5, price=120)
    assert effect.realized_pnl == 5 * 120 - 525
    assert effect.position == Position(qty=15, cost_basis=1575, realized_pnl=75)


def test_apply_fill_flip_opens_remainder_at_fill_price() -> None:
    effect = apply_fill(Position(qty=10, cost_basis=1000), side=Side.SELL, qty=15, price=90)
    assert effect.realized_pnl == -100
    assert effect.position == Position(qty=-5, cost_basis=-450, realized_pnl=-100)


def test_apply_fill_short_cover_realizes_gain() -> None:
    effect = apply_fill(Position(qty=-3, cost_basis=-30), side=Side.BUY, qty=1, price=8)
    assert effect.realized_pnl == 2
    assert effect.position == Position(qty=-2, cost_basis=-20, realized_pnl=2)


def test_apply_fill_rounding_residue_realized_when_flat() -> None:
    position = Position(qty=3, cost_basis=10)
    first = apply_fill(position, side=Side.SELL, qty=1, price=4)
    assert first.position.cost_basis == 7  # 10 * 1 / 3 truncated to 3 removed
    last = apply_fill(first.position, side=Side.SELL, qty=2, price=4)
    assert last.position == Position(qty=0, cost_basis=0, realized_pnl=12 - 10)


def test_apply_fill_short_partial_truncates_toward_zero() -> None:
    effect = apply_fill(Position(qty=-3, cost_basis=-10), side=Side.BUY, qty=1, price=3)
    assert effect.position.cost_basis == -7


fills = st.lists(
    st.builds(
        FillTerms,
        side=st.sampled_from([Side.BUY, Side.SELL]),
        qty=st.integers(1, 1_000),
        price=st.integers(0, 100_000),
    ),
    max_size=40,
)


@given(fills)
def test_fold_fills_cash_basis_and_pnl_always_tie_out(terms: list[FillTerms]) -> None:
    effects = fold_fills(terms)
    position = effects[-1].position if effects else Position()
    cash = -sum(signed_qty(t.side, t.qty) * t.price for t in terms)
    assert position.qty == sum(signed_qty(t.side, t.qty) for t in terms)
    assert cash + position.cost_basis - position.realized_pnl == 0
    assert sum(e.realized_pnl for e in effects) == position.realized_pnl
    if position.qty == 0:
        assert position.realized_pnl == cash


@given(fills)
def test_fold_fills_basis_never_exceeds_open_cost_bounds(terms: list[FillTerms]) -> None:
    for effect in fold_fills(terms):
        position = effect.position
        assert position.qty * position.cost_basis >= 0
        if position.qty:
            prices = [t.price for t in terms]
            assert abs(position.cost_basis) <= abs(position.qty) * max(prices)
