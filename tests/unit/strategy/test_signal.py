"""The signal on known price series, checked against hand computations (in each docstring)."""

from __future__ import annotations

import pytest

from switchyard.strategy.signal import (
    HOLD_NO_TREND,
    HOLD_OVERBOUGHT,
    HOLD_OVERSOLD,
    TREND_DOWN,
    TREND_UP,
    WARMING_UP,
    Direction,
    SignalParams,
    evaluate,
    gains_losses,
    required_samples,
    rsi,
    sma,
)

RISING = [10, 11, 12, 11, 13, 14]
FALLING = [20, 19, 18, 19, 17, 16]


def params(short: int = 2, long: int = 4, period: int = 3, high: int = 80, low: int = 20):
    return SignalParams(
        short_window=short,
        long_window=long,
        rsi_period=period,
        rsi_overbought=high,
        rsi_oversold=low,
    )


def test_sma_of_the_last_window_prices() -> None:
    """(13 + 14) / 2 = 13.5; (12 + 11 + 13 + 14) / 4 = 12.5."""
    assert sma(RISING, 2) == 13.5
    assert sma(RISING, 4) == 12.5


def test_rsi_uses_the_last_period_changes_including_the_latest() -> None:
    """Changes 12->11 (-1), 11->13 (+2), 13->14 (+1): gains 3, losses 1, RSI = 300/4 = 75."""
    assert gains_losses(RISING, 3) == (3, 1)
    assert rsi(RISING, 3) == 75.0


def test_rsi_counts_the_most_recent_change_the_seed_left_out() -> None:
    """Changes 0, 0, +10: gains 10, losses 0, RSI 100 (the seed's window gave 50)."""
    assert rsi([10, 10, 10, 10, 20], 3) == 100.0


def test_rsi_is_50_when_the_price_did_not_move() -> None:
    assert rsi([7, 7, 7, 7], 3) == 50.0


def test_rsi_is_0_when_the_price_only_fell() -> None:
    assert rsi([9, 8, 7, 6], 3) == 0.0


def test_evaluate_rising_series_below_overbought_buys() -> None:
    signal = evaluate(RISING, params(high=80))
    assert (signal.direction, signal.reason) == (Direction.BUY, TREND_UP)
    assert (signal.short_ma, signal.long_ma, signal.rsi) == (13.5, 12.5, 75.0)
    assert (signal.samples, signal.needed) == (6, 4)


def test_evaluate_rising_series_at_overbought_holds() -> None:
    """RSI exactly 75 with overbought 75: "below overbought" is strict, so HOLD."""
    signal = evaluate(RISING, params(high=75))
    assert (signal.direction, signal.reason) == (Direction.HOLD, HOLD_OVERBOUGHT)


def test_evaluate_falling_series_above_oversold_sells() -> None:
    """short (17 + 16) / 2 = 16.5 < long (18 + 19 + 17 + 16) / 4 = 17.5; changes +1, -2,
    -1: gains 1, losses 3, RSI 25 > 20."""
    signal = evaluate(FALLING, params(low=20))
    assert (signal.direction, signal.reason) == (Direction.SELL, TREND_DOWN)
    assert (signal.short_ma, signal.long_ma, signal.rsi) == (16.5, 17.5, 25.0)


def test_evaluate_falling_series_at_oversold_holds() -> None:
    signal = evaluate(FALLING, params(low=25))
    assert (signal.direction, signal.reason) == (Direction.HOLD, HOLD_OVERSOLD)


def test_evaluate_flat_series_has_no_trend() -> None:
    signal = evaluate([5, 5, 5, 5, 5], params())
    assert (signal.direction, signal.reason) == (Direction.HOLD, HOLD_NO_TREND)
    assert signal.rsi == 50.0


def test_evaluate_longer_series() -> None:
    """short(3) = (49 + 51 + 52) / 3 = 50.667 > long(6) = (47 + 49 + 50 + 49 + 51 + 52) / 6
    = 49.667; last five changes +2, +1, -1, +2, +1: gains 6, losses 1, RSI = 600/7 = 85.71."""
    prices = [44, 45, 46, 45, 47, 48, 47, 49, 50, 49, 51, 52]
    overbought = evaluate(prices, params(short=3, long=6, period=5, high=70))
    assert (overbought.direction, overbought.reason) == (Direction.HOLD, HOLD_OVERBOUGHT)
    assert overbought.short_ma == pytest.approx(152 / 3)
    assert overbought.long_ma == pytest.approx(298 / 6)
    assert overbought.rsi == pytest.approx(600 / 7)
    buy = evaluate(prices, params(short=3, long=6, period=5, high=90))
    assert buy.direction is Direction.BUY


def test_evaluate_warms_up_until_the_long_window_and_rsi_have_data() -> None:
    """needed = max(long window 4, rsi period 5 + 1) = 6."""
    p = params(period=5)
    assert required_samples(p) == 6
    early = evaluate(RISING[:5], p)
    assert (early.direction, early.reason, early.samples, early.needed) == (
        Direction.HOLD,
        WARMING_UP,
        5,
        6,
    )
    assert early.short_ma is None
    assert evaluate(RISING, p).reason != WARMING_UP


def test_evaluate_compares_exactly_not_in_floats() -> None:
    """Averages equal as fractions (short 3 of [1, 2, 3] = 2, long 6 of [3, 1, 2, 1, 2, 3]
    = 2) are equal: no trend, whatever float division would round to."""
    signal = evaluate([3, 1, 2, 1, 2, 3], params(short=3, long=6, period=2))
    assert signal.reason == HOLD_NO_TREND


def test_signal_params_refuse_inverted_windows() -> None:
    with pytest.raises(AssertionError):
        params(short=5, long=5)
