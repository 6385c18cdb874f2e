"""Position, average cost and realized PnL of one (account, symbol), in integers only.

A position is three integers: `qty` (lots, BUY positive, short negative), `cost_basis` (the
cost of the open quantity in cash units, same sign as `qty`) and `realized_pnl` (cash units,
gain positive). A cash unit is one tick times one lot (see docs/BACKOFFICE.md): a fill of `q`
lots at `p` ticks moves `q * p` cash units.

Average cost is `cost_basis / qty`, kept as the exact pair and never rounded here. Closing
part of a position removes `cost_basis * closed / |qty|`, truncated toward zero, from the
basis (longs and shorts alike); closing all of
it removes the whole basis, so once flat the realized PnL equals the exact sum of the cash
flows and no rounding residue survives. Pure: no I/O, no floats.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from switchyard.core.enums import Side


@dataclass(frozen=True, slots=True)
class Position:
    """The open quantity, its cost and the PnL realized so far."""

    qty: int = 0
    cost_basis: int = 0
    realized_pnl: int = 0

    def __post_init__(self) -> None:
        assert self.qty != 0 or self.cost_basis == 0, f"flat position keeps a basis: {self}"
        assert self.qty * self.cost_basis >= 0, f"basis has the wrong sign: {self}"


@dataclass(frozen=True, slots=True)
class FillEffect:
    """What one fill did: the new position and the changes it made."""

    position: Position
    realized_pnl: int  # realized by this fill
    cost_change: int  # change of cost_basis caused by this fill


@dataclass(frozen=True, slots=True)
class FillTerms:
    """The part of a fill that position math needs."""

    side: Side
    qty: int
    price: int


def signed_qty(side: Side, qty: int) -> int:
    """Lots with BUY positive and SELL negative."""
    assert qty >= 0, qty
    return qty if side == Side.BUY else -qty


def apply_fill(position: Position, *, side: Side, qty: int, price: int) -> FillEffect:
    """Apply one fill of `qty` lots at `price` ticks to `position`."""
    assert qty > 0, f"fill qty must be positive, got {qty}"
    assert price >= 0, f"fill price must not be negative, got {price}"
    delta = signed_qty(side, qty)
    held = position.qty
    if held == 0 or (held > 0) == (delta > 0):
        opened = Position(held + delta, position.cost_basis + delta * price, position.realized_pnl)
        return FillEffect(opened, 0, delta * price)
    closed = min(qty, abs(held))
    removed = position.cost_basis if closed == abs(held) else _cost_of(position, closed)
    direction = 1 if held > 0 else -1
    realized = direction * closed * price - removed
    qty_after = held + (-direction) * closed
    cost_after = position.cost_basis - removed
    remainder = qty - closed
    if remainder:
        assert qty_after == 0, "only a fully closed position can flip"
        qty_after = signed_qty(side, remainder)
        cost_after = qty_after * price
    result = Position(qty_after, cost_after, position.realized_pnl + realized)
    assert result.qty == held + delta
    return FillEffect(result, realized, cost_after - position.cost_basis)


def fold_fills(fills: Iterable[FillTerms], start: Position | None = None) -> list[FillEffect]:
    """Apply fills in the given order; one effect per fill (the last holds the position)."""
    position = start if start is not None else Position()
    effects: list[FillEffect] = []
    for fill in fills:
        effect = apply_fill(position, side=fill.side, qty=fill.qty, price=fill.price)
        effects.append(effect)
        position = effect.position
    return effects


def _cost_of(position: Position, closed: int) -> int:
    # Truncation toward zero treats longs and shorts alike; the remainder stays in the basis
    # until the position is closed completely, so nothing is lost, only realized later.
    assert 0 < closed < abs(position.qty), closed
    magnitude = abs(position.cost_basis) * closed // abs(position.qty)
    return magnitude if position.cost_basis >= 0 else -magnitude
