"""Adapters that replay the venue workload on each engine under test (ours and PyPI peers).

Each adapter turns the engine-neutral `Op` list into prebuilt inputs (untimed) and returns
one callable per operation, so the timed loop is the same `for step in steps: step()` for
every engine. Peers without replace or IOC get the closest equivalent, said in `notes`:
move = cancel + new order, IOC = limit order then cancel of any resting remainder.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from switchyard.book import MatchingEngine

from .workload import CANCEL, IOC, MOVE, Op, spec, to_request

# One operation: a bound method and its arguments (no closure per step, so the harness costs
# every engine the same: one tuple unpack and one call).
Step = tuple[Callable[..., object], tuple[object, ...]]


@dataclass
class Prepared:
    name: str
    version: str
    notes: str
    steps: list[Step]
    drain: Callable[[], object] | None = None  # called every 1,024 steps (market data)


def ours(ops: list[Op], *, market_data: bool = True, dispatch: bool = False) -> Prepared:
    """switchyard.book.MatchingEngine through its public per-command methods.

    Each step calls `new_order`, `cancel` or `replace` directly, as each peer step calls
    `add_limit_order` or `cancel_order` directly: `MatchingEngine.handle` (the venue
    service's entry point) adds a dispatch on the request type and one Python call, a cost
    the peers have no counterpart of.
    """
    engine = MatchingEngine([spec()], market_data=market_data)
    methods: dict[str, Callable[..., object]] = {
        CANCEL: engine.cancel,
        MOVE: engine.replace,
    }
    steps: list[Step] = [
        (engine.handle if dispatch else methods.get(op.kind, engine.new_order), (to_request(op), 0))
        for op in ops
    ]
    notes = "reports for every event; L2 deltas + trades drained every 1,024 ops"
    if not market_data:
        notes = "reports for every event; market data off"
    suffix = " (no market data)" if not market_data else " (via handle)" if dispatch else ""
    return Prepared(
        "switchyard.book" + suffix,
        importlib.metadata.version("switchyard"),
        notes,
        steps,
        (lambda: engine.take_market_data(0)) if market_data else None,
    )


def _peer(ops: list[Op], module: Any, dist: str) -> Prepared:
    """Both peers share one API (`OrderBook`, `Order`, `OrderSide`, add/cancel)."""
    book = module.OrderBook()
    bid, ask = module.OrderSide.BID, module.OrderSide.ASK
    make = _order_factory(module)
    current: dict[str, Any] = {}  # our order id -> the peer's latest Order object
    steps: list[Step] = []
    for op in ops:
        if op.kind == CANCEL:
            target = current.get(op.order_id)
            steps.append(_cancel(book, target.order_id if target else "missing"))
        elif op.kind == MOVE:
            old = current.get(op.order_id)
            fresh = make(bid if op.side == 1 else ask, op.price, op.qty)
            current[op.order_id] = fresh
            steps.append(_move(book, old.order_id if old else "missing", fresh))
        else:
            order = make(bid if op.side == 1 else ask, op.price, op.qty)
            current[op.order_id] = order
            steps.append(_ioc(book, order) if op.kind == IOC else _add(book, order))
    return Prepared(
        dist,
        importlib.metadata.version(dist),
        "no reports or market data; move = cancel + add; IOC = add + cancel remainder",
        steps,
    )


def _order_factory(module: Any) -> Callable[[Any, int, int], Any]:
    if module.__name__.startswith("cython_orderbook"):
        return lambda side, price, qty: module.Order(side, qty, price)
    return lambda side, price, qty: module.Order(side=side, price=price, original_quantity=qty)


def _add(book: Any, order: Any) -> Step:
    return (book.add_limit_order, (order,))


def _cancel(book: Any, order_id: str) -> Step:
    return (book.cancel_order, (order_id,))


def _move(book: Any, old_id: str, fresh: Any) -> Step:
    return (_cancel_then_add, (book, old_id, fresh))


def _cancel_then_add(book: Any, old_id: str, fresh: Any) -> None:
    book.cancel_order(old_id)
    book.add_limit_order(fresh)


def _ioc(book: Any, order: Any) -> Step:
    return (_add_then_cancel_rest, (book, order))


def _add_then_cancel_rest(book: Any, order: Any) -> None:
    book.add_limit_order(order)
    if order.remaining_quantity:
        book.cancel_order(order.order_id)


def akhil4n(ops: list[Op]) -> Prepared:
    module = importlib.import_module("orderbook")
    return _peer(ops, module, "akhil4n-orderbook")


def cython_orderbook(ops: list[Op]) -> Prepared:
    module = importlib.import_module("cython_orderbook")
    return _peer(ops, module, "cython-orderbook")


ENGINES: dict[str, Callable[[list[Op]], Prepared]] = {
    "ours": ours,
    "ours-nomd": lambda ops: ours(ops, market_data=False),
    "ours-handle": lambda ops: ours(ops, dispatch=True),
    "akhil4n-orderbook": akhil4n,
    "cython-orderbook": cython_orderbook,
}
