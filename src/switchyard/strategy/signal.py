"""The strategy's signal: short/long simple moving averages with an RSI filter (pure math).

Owns the arithmetic only: given the last prices of one symbol (integer ticks, oldest first)
and the parameters, say BUY, SELL or HOLD, why, and the values behind it. Must not do I/O,
read clocks, keep state between calls or know about orders, positions or limits: the trader
(trader.py) decides what a signal leads to.

The rule is the seed's `SMA_RSI_Cross`, made exact:
- BUY while the short average is above the long one and RSI is below the overbought level;
- SELL while the short average is below the long one and RSI is above the oversold level;
- HOLD otherwise (no trend, or the trend is already overbought / oversold).
RSI is Cutler's: simple sums of the gains and losses over the last `rsi_period` price
changes, the most recent change included (the seed left it out), RSI = 100 * G / (G + L),
and 50 when the price did not move. Every comparison is made on integers (cross-multiplied
sums), so a decision never depends on float rounding; the float values are for people.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from operator import sub
from typing import Final


class Direction(StrEnum):
    BUY = "BUY"
    SELL = "SELL"
    HOLD = "HOLD"


# Why a signal is what it is (also metric label values: a closed, small set).
WARMING_UP: Final = "warming_up"  # fewer prices than the windows need
TREND_UP: Final = "trend_up"  # BUY
TREND_DOWN: Final = "trend_down"  # SELL
HOLD_NO_TREND: Final = "hold_no_trend"  # the two averages are equal
HOLD_OVERBOUGHT: Final = "hold_overbought"  # trend up, but RSI >= overbought
HOLD_OVERSOLD: Final = "hold_oversold"  # trend down, but RSI <= oversold
SIGNAL_REASONS: Final = (
    WARMING_UP,
    TREND_UP,
    TREND_DOWN,
    HOLD_NO_TREND,
    HOLD_OVERBOUGHT,
    HOLD_OVERSOLD,
)


@dataclass(frozen=True, slots=True)
class SignalParams:
    """Windows in samples (one price sample per strategy tick); RSI levels in percent."""

    short_window: int
    long_window: int
    rsi_period: int
    rsi_overbought: int
    rsi_oversold: int

    def __post_init__(self) -> None:
        assert 0 < self.short_window < self.long_window, (self.short_window, self.long_window)
        assert self.rsi_period > 0, self.rsi_period
        assert 0 <= self.rsi_oversold < self.rsi_overbought <= 100, (
            self.rsi_oversold,
            self.rsi_overbought,
        )


@dataclass(frozen=True, slots=True)
class Signal:
    direction: Direction
    reason: str
    samples: int  # prices available
    needed: int  # prices the windows need
    short_ma: float | None = None  # None while warming up
    long_ma: float | None = None
    rsi: float | None = None


def required_samples(params: SignalParams) -> int:
    """Prices needed before the first signal: the long window, and one more than RSI's period."""
    return max(params.long_window, params.rsi_period + 1)


def sma(prices: Sequence[int], window: int) -> float:
    """Simple moving average of the last `window` prices."""
    assert 0 < window <= len(prices), (window, len(prices))
    return sum(prices[len(prices) - window :]) / window


def gains_losses(prices: Sequence[int], period: int) -> tuple[int, int]:
    """Sums of the rises and of the falls (as a positive number) over the last `period` changes."""
    count = len(prices)
    assert 0 < period < count, (period, count)
    start = count - period - 1
    # gains - losses = the net move; gains + losses = the sum of |change| (C-level loops:
    # ~1.4x faster than a Python loop at 100 changes; a tick does this for up to 50 symbols)
    net = prices[-1] - prices[start]
    moved = sum(map(abs, map(sub, prices[start + 1 :], prices[start : count - 1])))
    gains, losses = (moved + net) // 2, (moved - net) // 2
    assert gains >= 0
    assert losses >= 0
    assert gains + losses == moved
    return gains, losses


def rsi(prices: Sequence[int], period: int) -> float:
    """Cutler's RSI over the last `period` changes, in percent (50 when nothing moved)."""
    gains, losses = gains_losses(prices, period)
    moved = gains + losses
    return 100.0 * gains / moved if moved else 50.0


def evaluate(prices: Sequence[int], params: SignalParams) -> Signal:
    """The signal for the latest price of `prices` (oldest first)."""
    count = len(prices)
    needed = required_samples(params)
    if count < needed:
        return Signal(Direction.HOLD, WARMING_UP, count, needed)
    short_window, long_window = params.short_window, params.long_window
    short_sum = sum(prices[count - short_window :])
    long_sum = sum(prices[count - long_window :])
    gains, losses = gains_losses(prices, params.rsi_period)
    moved = gains + losses
    # short_sum / short_window vs long_sum / long_window, without division
    trend = short_sum * long_window - long_sum * short_window
    # RSI = 100 * gains / moved (50 when moved == 0), compared as 100 * gains vs level * moved
    rsi_scaled, scale = (100 * gains, moved) if moved else (50, 1)
    if trend > 0:
        if rsi_scaled < params.rsi_overbought * scale:
            direction, reason = Direction.BUY, TREND_UP
        else:
            direction, reason = Direction.HOLD, HOLD_OVERBOUGHT
    elif trend < 0:
        if rsi_scaled > params.rsi_oversold * scale:
            direction, reason = Direction.SELL, TREND_DOWN
        else:
            direction, reason = Direction.HOLD, HOLD_OVERSOLD
    else:
        direction, reason = Direction.HOLD, HOLD_NO_TREND
    return Signal(
        direction,
        reason,
        count,
        needed,
        short_ma=short_sum / short_window,
        long_ma=long_sum / long_window,
        rsi=rsi_scaled * 1.0 / scale if moved else 50.0,
    )
