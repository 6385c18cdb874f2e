"""What each bench request is: order or cancel, account, symbol, side, type, qty and price.

Owns request rendering for the load generator: every request is pre-rendered bytes with a
unique Idempotency-Key (= clientOrderId), the account's Bearer token, and a body in the
gateway's camelCase JSON (DESIGN.md §3). Prices are integer ticks around a reference price
per symbol. Cancels target orders this run placed for the same account (another account's
order would answer 404). All random choices come from the `Rng` passed in.
"""

import bisect
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from switchyard.book.spec import DEFAULT_SPECS, GENERIC_REFERENCE_PRICE
from switchyard.sre.profiles import Profile

# Reference prices (ticks), tick and lot sizes of the venue's default symbols: the venue's own
# table (book/spec.py), used when the book cannot tell us the price. A quantity that is not a
# multiple of the lot size, or a price off the tick grid, is REJECTED by the venue.
DEFAULT_REFERENCE_TICKS: dict[str, int] = {
    s: spec.reference_price for s, spec in DEFAULT_SPECS.items()
}
FALLBACK_REFERENCE_TICKS = GENERIC_REFERENCE_PRICE
CANCELABLE_ORDERS_PER_ACCOUNT_MAX = 1_024  # recent order ids kept per account for cancels

KIND_ORDER = 0
KIND_CANCEL = 1
KIND_EVENT = 2
KIND_NAMES = ("order", "cancel", "event")


class Rng(Protocol):
    """The part of `random.Random` we use; the CLI passes a seeded instance."""

    def random(self) -> float: ...


@dataclass(frozen=True, slots=True)
class PlannedRequest:
    kind: int
    account_index: int
    data: bytes


class RequestFactory:
    """Renders the next request of a run and remembers accepted orders for later cancels."""

    def __init__(
        self,
        profile: Profile,
        tokens: Mapping[str, str],
        host_header: bytes,
        run_id: str,
        rng: Rng,
        reference_ticks: Mapping[str, int] | None = None,
        base_path: str = "",
    ) -> None:
        assert tokens, "at least one account token"
        assert run_id.isascii()
        assert " " not in run_id
        self._profile = profile
        self._rng = rng
        self._run_id = run_id.encode()
        self._counter = 0
        self._accounts = list(tokens)
        ack = "?ack=durable" if profile.ack_mode == "durable" else ""
        self._order_heads = [
            self._head(f"{base_path}/orders{ack}", host_header, tokens[a]) for a in self._accounts
        ]
        self._auth_lines = [
            f"Authorization: Bearer {tokens[a]}\r\n".encode() for a in self._accounts
        ]
        self._host_header = host_header
        self._base_path = base_path.encode()
        self._symbols = list(profile.symbol_weights)
        self._symbol_cdf = _cdf(list(profile.symbol_weights.values()))
        self._kinds = list(profile.order_mix)
        self._kind_cdf = _cdf(list(profile.order_mix.values()))
        refs = reference_ticks or {}
        self._reference = {
            s: refs.get(s, DEFAULT_REFERENCE_TICKS.get(s, FALLBACK_REFERENCE_TICKS))
            for s in self._symbols
        }
        self._lot = {s: lot_size(s) for s in self._symbols}
        self._tick = {s: tick_size(s) for s in self._symbols}
        self._open_orders: list[deque[bytes]] = [
            deque(maxlen=CANCELABLE_ORDERS_PER_ACCOUNT_MAX) for _ in self._accounts
        ]

    @staticmethod
    def _head(path: str, host_header: bytes, token: str) -> bytes:
        return (
            f"POST {path} HTTP/1.1\r\nHost: ".encode()
            + host_header
            + f"\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n".encode()
        )

    @property
    def issued_count(self) -> int:
        return self._counter

    def next_request(self) -> PlannedRequest:
        """The next request: a cancel with probability cancel_ratio when one is possible."""
        self._counter += 1
        account = int(self._rng.random() * len(self._accounts))
        if self._profile.endpoint == "events":
            return PlannedRequest(KIND_EVENT, account, self._event(account))
        if self._profile.cancel_ratio > 0 and self._rng.random() < self._profile.cancel_ratio:
            open_orders = self._open_orders[account]
            if open_orders:
                order_id = open_orders.popleft()
                return PlannedRequest(KIND_CANCEL, account, self._cancel(account, order_id))
        return PlannedRequest(KIND_ORDER, account, self._order(account))

    def _key(self) -> bytes:
        return self._run_id + b"-" + str(self._counter).encode()

    def _pick(self, items: list[str], cdf: list[float]) -> str:
        return items[min(bisect.bisect_right(cdf, self._rng.random()), len(items) - 1)]

    def order_body(self, symbol: str, side: str, kind: str, qty: int, key: bytes) -> bytes:
        """The JSON body of one order; LIMIT and IOC carry a price around the reference."""
        head = f'{{"symbol":"{symbol}","side":"{side}","qty":{qty},'
        if kind == "market":
            tail = '"type":"MARKET","timeInForce":"IOC",'
        else:
            price = self._price(symbol, side, aggressive=kind == "ioc")
            tif = "IOC" if kind == "ioc" else "GTC"
            tail = f'"type":"LIMIT","price":{price},"timeInForce":"{tif}",'
        return (head + tail + '"clientOrderId":"').encode() + key + b'"}'

    def _price(self, symbol: str, side: str, aggressive: bool) -> int:
        profile = self._profile
        span = profile.price_offset_ticks_max - profile.price_offset_ticks_min + 1
        offset = profile.price_offset_ticks_min + int(self._rng.random() * span)
        if aggressive:
            offset = -abs(offset) - 1  # IOC crosses the reference so it can fill
        tick = self._tick[symbol]
        reference = self._reference[symbol] // tick * tick
        price = reference - offset * tick if side == "BUY" else reference + offset * tick
        return max(price, tick)

    def _order(self, account: int) -> bytes:
        profile = self._profile
        symbol = self._pick(self._symbols, self._symbol_cdf)
        kind = self._pick(self._kinds, self._kind_cdf)
        side = "BUY" if self._rng.random() < 0.5 else "SELL"
        lots = profile.qty_min + int(self._rng.random() * (profile.qty_max - profile.qty_min + 1))
        qty = lots * self._lot[symbol]
        key = self._key()
        body = self.order_body(symbol, side, kind, qty, key)
        return (
            self._order_heads[account]
            + b"Idempotency-Key: "
            + key
            + b"\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )

    def _cancel(self, account: int, order_id: bytes) -> bytes:
        return (
            b"POST "
            + self._base_path
            + b"/orders/"
            + order_id
            + b"/cancel HTTP/1.1\r\nHost: "
            + self._host_header
            + b"\r\n"
            + self._auth_lines[account]
            + b"Idempotency-Key: "
            + self._key()
            + b"\r\nContent-Length: 0\r\n\r\n"
        )

    def _event(self, account: int) -> bytes:
        symbol = self._pick(self._symbols, self._symbol_cdf)
        price = self._price(symbol, "BUY", aggressive=False)
        volume = 1 + int(self._rng.random() * 100)
        body = f'{{"price":{price},"volume":{volume}}}'.encode()
        return (
            b"POST "
            + self._base_path
            + b"/events?key="
            + symbol.encode()
            + b" HTTP/1.1\r\nHost: "
            + self._host_header
            + b"\r\n"
            + self._auth_lines[account]
            + b"Content-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )

    def on_accepted(self, account_index: int, body: bytes) -> None:
        """Remember the orderId of an accepted order so a later cancel can target it."""
        if self._profile.cancel_ratio <= 0:
            return
        start = body.find(b'"orderId":"')
        if start < 0:
            return
        start += len(b'"orderId":"')
        end = body.find(b'"', start)
        if end > start:
            self._open_orders[account_index].append(body[start:end])


def lot_size(symbol: str) -> int:
    """The venue's trading unit for a symbol (quantities are multiples of it)."""
    spec = DEFAULT_SPECS.get(symbol)
    return spec.lot_size if spec is not None else 1


def tick_size(symbol: str) -> int:
    spec = DEFAULT_SPECS.get(symbol)
    return spec.tick_size if spec is not None else 1


def _cdf(weights: list[float]) -> list[float]:
    total = sum(weights)
    assert total > 0
    running = 0.0
    cdf = []
    for weight in weights:
        running += weight / total
        cdf.append(running)
    cdf[-1] = 1.0
    return cdf
