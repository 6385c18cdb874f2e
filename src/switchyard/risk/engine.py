"""Pre-trade risk: pure checks that return a Reason (NONE = pass) and the rate-limit state.

Rules run in a fixed order and the first failure wins: kill switch, rate, quantity, symbol,
side, type, price floor/ceiling, notional, price band (fat finger), open orders. A denial is
an expected outcome, never an exception. The token buckets are deterministic: integer
micro-tokens refilled from the timestamps passed in, so replaying the WAL rebuilds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from switchyard.core.codes import Reason
from switchyard.core.enums import OrderType, Side

from .config import RiskConfig

_MICRO: Final = 1_000_000  # micro-tokens per token
_ALL_SIDES: Final = frozenset(side.name for side in Side)
_ALL_TYPES: Final = frozenset(kind.name for kind in OrderType)


class TokenBucket:
    """Per-account rate limiter state (integer micro-tokens)."""

    __slots__ = ("last_ns", "micro_tokens")

    def __init__(self, micro_tokens: int, last_ns: int) -> None:
        self.micro_tokens = micro_tokens
        self.last_ns = last_ns


class RiskEngine:
    """Checks an order against RiskConfig. Owned by the sequencer; no I/O."""

    __slots__ = ("_buckets", "_lists_active", "config", "reference_prices")

    def __init__(self, config: RiskConfig) -> None:
        self.config = config
        self._buckets: dict[str, TokenBucket] = {}
        # Most deployments restrict nothing: skip the list rules entirely then (hot path).
        self._lists_active = bool(
            config.allowed_symbols
            or config.allowed_symbols_by_account
            or config.allowed_sides
            or config.allowed_sides_by_account
            or config.allowed_sides_by_symbol
            or config.allowed_types
            or not config.allow_market
            or config.allowed_types_by_account
            or config.allowed_types_by_symbol
        )
        # Latest reference price per symbol (from market data). An input to decisions only:
        # decisions are recorded in the WAL, so replay does not need these.
        self.reference_prices: dict[str, int] = {}

    # --- the check -----------------------------------------------------------------------

    def check(
        self,
        *,
        account_id: str,
        symbol: str,
        side: Side,
        order_type: OrderType,
        qty: int,
        price: int,
        open_orders: int,
        killed: bool,
        now_ns: int,
    ) -> tuple[Reason, str]:
        """(Reason.NONE, "") when the order passes, else the first rule it breaks and why."""
        config = self.config
        if killed:
            return Reason.KILL_SWITCH, "trading is halted by the kill switch"
        if config.rate_per_sec and not self._has_token(account_id, now_ns):
            return Reason.RATE_LIMITED, f"over {config.rate_per_sec} orders/s for this account"
        max_qty = self._limit(
            config.max_qty,
            config.max_qty_by_account,
            config.max_qty_by_account_symbol,
            account_id,
            symbol,
        )
        if max_qty and qty > max_qty:
            return Reason.QTY_LIMIT_EXCEEDED, f"qty {qty} is over the limit of {max_qty}"
        if self._lists_active:
            reason = self._check_lists(account_id, symbol, side, order_type)
            if reason is not None:
                return reason
        if order_type == OrderType.LIMIT and (
            config.min_price
            or config.max_price
            or config.price_band_pct
            or config.min_price_by_symbol
            or config.max_price_by_symbol
        ):
            reason = self._check_price(symbol, price)
            if reason is not None:
                return reason
        if (
            config.max_notional
            or config.max_notional_by_account
            or config.max_notional_by_account_symbol
        ):
            reason = self._check_notional(account_id, symbol, order_type, qty, price)
            if reason is not None:
                return reason
        max_open = config.max_open_orders_by_account.get(account_id, config.max_open_orders)
        if max_open and open_orders >= max_open:
            return Reason.MAX_OPEN_ORDERS, f"{open_orders} live orders; the limit is {max_open}"
        return Reason.NONE, ""

    def _check_lists(
        self, account_id: str, symbol: str, side: Side, order_type: OrderType
    ) -> tuple[Reason, str] | None:
        config = self.config
        symbols = config.allowed_symbols_by_account.get(account_id, config.allowed_symbols)
        if symbols and symbol not in symbols:
            return Reason.SYMBOL_NOT_ALLOWED, f"symbol {symbol} is not allowed for this account"
        sides = config.allowed_sides or _ALL_SIDES
        sides = sides & config.allowed_sides_by_account.get(account_id, _ALL_SIDES)
        sides = sides & config.allowed_sides_by_symbol.get(symbol, _ALL_SIDES)
        if side.name not in sides:
            return Reason.SIDE_NOT_ALLOWED, f"side {side.name} is not allowed here"
        types = config.allowed_types or _ALL_TYPES
        if not config.allow_market:
            types = types - {"MARKET"}
        types = types & config.allowed_types_by_account.get(account_id, _ALL_TYPES)
        types = types & config.allowed_types_by_symbol.get(symbol, _ALL_TYPES)
        if order_type.name not in types:
            return Reason.TYPE_NOT_ALLOWED, f"type {order_type.name} is not allowed here"
        return None

    def _check_price(self, symbol: str, price: int) -> tuple[Reason, str] | None:
        config = self.config
        floor = config.min_price_by_symbol.get(symbol, config.min_price)
        if floor and price < floor:
            return Reason.PRICE_TOO_LOW, f"price {price} is below the floor of {floor}"
        ceiling = config.max_price_by_symbol.get(symbol, config.max_price)
        if ceiling and price > ceiling:
            return Reason.PRICE_TOO_HIGH, f"price {price} is above the ceiling of {ceiling}"
        band = config.price_band_pct
        if band:
            reference = self.reference_prices.get(symbol)
            if reference is None:
                return Reason.NO_REFERENCE_PRICE, f"no reference price for {symbol} yet"
            # |price - ref| / ref > band%  <=>  100 * |price - ref| > band * ref
            if 100 * abs(price - reference) > band * reference:
                return (
                    Reason.PRICE_BAND_EXCEEDED,
                    f"price {price} is more than {band}% from the reference {reference}",
                )
        return None

    def _check_notional(
        self, account_id: str, symbol: str, order_type: OrderType, qty: int, price: int
    ) -> tuple[Reason, str] | None:
        config = self.config
        limit = self._limit(
            config.max_notional,
            config.max_notional_by_account,
            config.max_notional_by_account_symbol,
            account_id,
            symbol,
        )
        if not limit:
            return None
        if order_type == OrderType.MARKET:
            reference = self.reference_prices.get(symbol)
            if reference is None:
                return Reason.NO_REFERENCE_PRICE, f"no reference price to value a MARKET {symbol}"
            price = reference
        notional = qty * price
        if notional > limit:
            return (
                Reason.NOTIONAL_LIMIT_EXCEEDED,
                f"notional {notional} is over the limit of {limit}",
            )
        return None

    @staticmethod
    def _limit(
        default: int,
        by_account: Mapping[str, int],
        by_account_symbol: Mapping[str, int],
        account_id: str,
        symbol: str,
    ) -> int:
        """min(account-by-symbol, account-or-global); 0 means no limit."""
        if not by_account and not by_account_symbol:
            return default
        limit: int = by_account.get(account_id, default)
        specific = by_account_symbol.get(f"{account_id}|{symbol}")
        if specific is not None:
            limit = specific if not limit else min(limit, specific)
        return limit

    # --- rate limiter state ----------------------------------------------------------------
    # Deciding only peeks; recording (apply) is the only mutation, so live decisions and WAL
    # replay build exactly the same buckets.

    def _tokens_at(self, account_id: str, now_ns: int) -> tuple[int, int]:
        """(micro-tokens, as-of ns) the account's bucket holds at `now_ns`, without changing it."""
        config = self.config
        capacity = config.rate_burst * _MICRO
        bucket = self._buckets.get(account_id)
        if bucket is None:
            return capacity, now_ns
        elapsed = now_ns - bucket.last_ns
        if elapsed <= 0:
            return bucket.micro_tokens, bucket.last_ns
        # rate tokens/s = rate * 1e6 micro-tokens per 1e9 ns
        refill = elapsed * config.rate_per_sec // 1000
        return min(capacity, bucket.micro_tokens + refill), now_ns

    def _has_token(self, account_id: str, now_ns: int) -> bool:
        return self._tokens_at(account_id, now_ns)[0] >= _MICRO

    def consume_token(self, account_id: str, now_ns: int) -> None:
        """Take one token for an order that passed the rate rule (called when it is recorded)."""
        if not self.config.rate_per_sec:
            return
        tokens, as_of = self._tokens_at(account_id, now_ns)
        # Live, the rule guaranteed a token. On replay under a changed RISK_RATE_* the bucket
        # may be short: clamp rather than refuse to start (limits are settings, not history).
        remaining = max(0, tokens - _MICRO)
        bucket = self._buckets.get(account_id)
        if bucket is None:
            self._buckets[account_id] = TokenBucket(remaining, as_of)
        else:
            bucket.micro_tokens = remaining
            bucket.last_ns = as_of

    def bucket_state(self) -> list[tuple[str, int, int]]:
        """(account, micro-tokens, last_ns) sorted: part of the state hash."""
        return sorted((a, b.micro_tokens, b.last_ns) for a, b in self._buckets.items())
