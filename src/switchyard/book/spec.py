"""Per-symbol trading rules: reference price, tick size, lot size and price band.

Owns the `SymbolSpec` value and the `VENUE_SYMBOLS` entry syntax. Pure: no I/O, no clock.
Prices are integer ticks (the symbol's smallest price unit); `tick_size` is the multiple an
order price must be. Quantities are integer lots; `lot_size` is the multiple a qty must be.
"""

from dataclasses import dataclass

from switchyard.core.limits import ORDER_PRICE_MAX, SYMBOL_LEN_MAX

BPS_DENOMINATOR = 10_000  # basis points per unit


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """Trading rules of one symbol."""

    symbol: str
    reference_price: int  # ticks: where simulated liquidity starts quoting, and the band centre
    tick_size: int = 1  # an order price must be a multiple of this
    lot_size: int = 1  # an order qty must be a multiple of this
    band_bps: int = 0  # limit prices further than this from the reference are refused; 0 = off

    def __post_init__(self) -> None:
        assert 0 < len(self.symbol) <= SYMBOL_LEN_MAX, self.symbol
        assert self.tick_size > 0, self.tick_size
        assert self.lot_size > 0, self.lot_size
        assert self.band_bps >= 0, self.band_bps
        assert 0 < self.reference_price <= ORDER_PRICE_MAX, self.reference_price
        assert self.reference_price % self.tick_size == 0, self.reference_price


# Sensible defaults for the seed's symbols. Crypto prices are in whole USD, quantities in
# 0.001 coin; Tokyo equities are in yen with the exchange's 100-share trading unit.
DEFAULT_SPECS: dict[str, SymbolSpec] = {
    "BTC": SymbolSpec("BTC", reference_price=65_000, tick_size=1, lot_size=1, band_bps=1_000),
    "ETH": SymbolSpec("ETH", reference_price=3_500, tick_size=1, lot_size=1, band_bps=1_000),
    "7203": SymbolSpec("7203", reference_price=2_800, tick_size=1, lot_size=100, band_bps=1_000),
    "6758": SymbolSpec("6758", reference_price=3_400, tick_size=1, lot_size=100, band_bps=1_000),
    "9984": SymbolSpec("9984", reference_price=9_000, tick_size=1, lot_size=100, band_bps=1_000),
}
GENERIC_REFERENCE_PRICE = 10_000  # ticks, for a symbol named without a spec


def parse_symbol_spec(entry: str) -> SymbolSpec:
    """Parse `SYM` or `SYM:reference:tick:lot:band_bps` (trailing fields optional)."""
    parts = [part.strip() for part in entry.split(":")]
    symbol = parts[0]
    if not symbol or len(symbol) > SYMBOL_LEN_MAX or not symbol.isprintable():
        raise ValueError(f"symbol {symbol!r} must be 1..{SYMBOL_LEN_MAX} printable characters")
    if len(parts) > 5:
        raise ValueError(f"entry {entry!r} has more than SYM:reference:tick:lot:band_bps")
    base = DEFAULT_SPECS.get(symbol) or SymbolSpec(symbol, GENERIC_REFERENCE_PRICE)
    numbers = [base.reference_price, base.tick_size, base.lot_size, base.band_bps]
    for index, raw in enumerate(parts[1:]):
        if not raw.isdigit():
            raise ValueError(f"entry {entry!r}: {raw!r} is not a non-negative integer")
        numbers[index] = int(raw)
    reference, tick, lot, band = numbers
    if tick <= 0 or lot <= 0 or not 0 < reference <= ORDER_PRICE_MAX:
        raise ValueError(f"entry {entry!r}: reference, tick and lot must be > 0")
    if reference % tick:
        raise ValueError(f"entry {entry!r}: reference {reference} is not a multiple of tick {tick}")
    return SymbolSpec(symbol, reference, tick, lot, band)


def parse_symbol_specs(raw: str) -> tuple[SymbolSpec, ...]:
    """Parse a comma-separated `VENUE_SYMBOLS` value; duplicates and an empty list refused."""
    specs = tuple(parse_symbol_spec(item) for item in raw.split(",") if item.strip())
    if not specs:
        raise ValueError("at least one symbol is required")
    names = [spec.symbol for spec in specs]
    if len(set(names)) != len(names):
        raise ValueError("duplicate symbols")
    return specs
