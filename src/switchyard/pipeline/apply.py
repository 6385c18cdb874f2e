"""Apply one WAL record to the state: the only code that mutates GatewayState.

Called live by the sequencer right after it decides, and on replay for every recovered record,
so both paths build the same state. Pure: (state, seq, ts, record) -> state'. The invariants
of the order lifecycle are asserted here (terminal states absorb, filled qty never goes down,
an order never fills past its quantity), once for live and replay alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from switchyard.core.codes import Reason
from switchyard.core.enums import TERMINAL_STATUSES, OrderStatus, Side
from switchyard.core.events import (
    KillSwitchSet,
    MarketEvent,
    OrderAccepted,
    OrderDenied,
    OrderFilled,
    OrderReplaced,
    Record,
    RecordType,
    ReplaceRejected,
    ReplaceRequested,
    SessionStarted,
)
from switchyard.risk.engine import RiskEngine

from .state import (
    GatewayState,
    IdempotencyEntry,
    MarketKeyState,
    Order,
    ttl_ns,
)

# Denials that happen before the rate rule takes a token (everything later takes one,
# as the seed did: a denied order still counts against the account's rate).
_NO_TOKEN_REASONS: Final = frozenset({Reason.KILL_SWITCH, Reason.RATE_LIMITED})


def apply_record(
    state: GatewayState, risk: RiskEngine, seq: int, ts_ns: int, record: Record
) -> Order | None:
    """Apply `record` as number `seq`; returns the order it touched, if any."""
    assert seq == state.last_seq + 1, (seq, state.last_seq)
    assert ts_ns >= state.last_ts_ns, (seq, ts_ns, state.last_ts_ns)
    handler = _HANDLERS[record.record_type]
    order = handler(state, risk, seq, ts_ns, record)
    state.last_seq = seq
    state.last_ts_ns = ts_ns
    return order


# --- new orders -----------------------------------------------------------------------------


def _new_order(
    state: GatewayState,
    seq: int,
    ts_ns: int,
    record: OrderAccepted | OrderDenied,
    status: OrderStatus,
) -> Order:
    assert record.order_id not in state.orders, record.order_id
    assert record.order_id == state.order_id_for(seq) or state.wal_id == "", record.order_id
    order = Order(
        record.order_id,
        record.account_id,
        record.client_order_id,
        record.idempotency_key,
        record.symbol,
        record.side,
        record.order_type,
        record.qty,
        record.price,
        record.time_in_force,
        record.expire_at_ms,
        record.post_only,
        record.origin,
        status,
        seq,
        ts_ns,
        ts_ns,
    )
    state.orders[order.order_id] = order
    account_orders = state.account_orders.get(order.account_id)
    if account_orders is None:
        account_orders = state.account_orders[order.account_id] = {}
    account_orders[order.order_id] = None
    if order.client_order_id:
        state.client_index[(order.account_id, order.client_order_id)] = order.order_id
    _remember_key(state, record, ts_ns)
    return order


def _remember_key(state: GatewayState, record: OrderAccepted | OrderDenied, ts_ns: int) -> None:
    table = state.idempotency
    limits = state.limits
    # Entries are inserted in time order with one TTL, so the expired ones are at the front.
    if limits.idempotency_ttl_s:
        while table:
            first_key = next(iter(table))
            first = table[first_key]
            if first.expires_ns > ts_ns:
                break
            del table[first_key]
            state.idempotency_expired += 1
    key = (record.account_id, record.idempotency_key)
    table.pop(key, None)  # an expired entry of the same key is replaced, moving to the back
    expires = ts_ns + ttl_ns(limits.idempotency_ttl_s) if limits.idempotency_ttl_s else 0
    table[key] = IdempotencyEntry(record, expires)
    while len(table) > limits.idempotency_max:
        del table[next(iter(table))]
        state.idempotency_evicted += 1


def _accepted(state: GatewayState, risk: RiskEngine, seq: int, ts_ns: int, record: Record) -> Order:
    assert isinstance(record, OrderAccepted)
    order = _new_order(state, seq, ts_ns, record, OrderStatus.ACCEPTED)
    state.open_count += 1
    state.open_by_account[order.account_id] = state.open_by_account.get(order.account_id, 0) + 1
    risk.consume_token(order.account_id, ts_ns)
    return order


def _denied(state: GatewayState, risk: RiskEngine, seq: int, ts_ns: int, record: Record) -> Order:
    assert isinstance(record, OrderDenied)
    order = _new_order(state, seq, ts_ns, record, OrderStatus.DENIED)
    order.reason = int(record.reason)
    if record.reason not in _NO_TOKEN_REASONS:
        risk.consume_token(order.account_id, ts_ns)
    _retire(state, order)
    return order


# --- lifecycle of a live order --------------------------------------------------------------


def _lifecycle(
    state: GatewayState, risk: RiskEngine, seq: int, ts_ns: int, record: Record
) -> Order:
    order = state.orders.get(record.order_id)  # type: ignore[union-attr]
    assert order is not None, (seq, record)  # live orders are never evicted
    assert order.status not in TERMINAL_STATUSES, (seq, order.order_id, order.status)
    new_status: OrderStatus = record.status  # type: ignore[union-attr]
    filled: int = record.filled_qty  # type: ignore[union-attr]
    assert filled >= order.filled_qty, (seq, order.order_id, filled, order.filled_qty)
    _LIFECYCLE_DETAIL[record.record_type](state, order, record)
    assert filled <= order.qty, (seq, order.order_id, filled, order.qty)
    order.status = new_status
    order.filled_qty = filled
    order.updated_ns = ts_ns
    if new_status in TERMINAL_STATUSES:
        order.pending_replace = None
        _close(state, order)
    return order


def _filled(state: GatewayState, order: Order, record: Record) -> None:
    assert isinstance(record, OrderFilled)
    assert record.last_qty > 0, record
    assert record.filled_qty == order.filled_qty + record.last_qty, (record, order.filled_qty)
    order.cum_notional = record.cum_notional
    key = (order.account_id, order.symbol)
    signed = record.last_qty if order.side == Side.BUY else -record.last_qty
    state.positions[key] = state.positions.get(key, 0) + signed


def _acked(state: GatewayState, order: Order, record: Record) -> None:
    order.venue_acked = True


def _with_reason(state: GatewayState, order: Order, record: Record) -> None:
    order.reason = int(record.reason)  # type: ignore[union-attr]


def _replace_requested(state: GatewayState, order: Order, record: Record) -> None:
    assert isinstance(record, ReplaceRequested)
    assert order.pending_replace is None, order.order_id
    order.pending_replace = (record.new_qty, record.new_price)


def _replaced(state: GatewayState, order: Order, record: Record) -> None:
    assert isinstance(record, OrderReplaced)
    assert record.qty > order.filled_qty or record.qty == record.filled_qty, record
    order.qty = record.qty
    order.price = record.price
    order.pending_replace = None


def _replace_rejected(state: GatewayState, order: Order, record: Record) -> None:
    assert isinstance(record, ReplaceRejected)
    order.pending_replace = None
    order.reason = int(record.reason)


def _nothing(state: GatewayState, order: Order, record: Record) -> None:
    return None


_LIFECYCLE_DETAIL: Final[dict[RecordType, Callable[[GatewayState, Order, Record], None]]] = {
    RecordType.ORDER_SENT: _nothing,
    RecordType.ORDER_ACKED: _acked,
    RecordType.ORDER_FILLED: _filled,
    RecordType.CANCEL_REQUESTED: _with_reason,
    RecordType.ORDER_CANCELED: _with_reason,
    RecordType.CANCEL_REJECTED: _with_reason,
    RecordType.ORDER_REJECTED: _with_reason,
    RecordType.ORDER_EXPIRED: _with_reason,
    RecordType.REPLACE_REQUESTED: _replace_requested,
    RecordType.ORDER_REPLACED: _replaced,
    RecordType.REPLACE_REJECTED: _replace_rejected,
}


def _close(state: GatewayState, order: Order) -> None:
    """A live order became terminal: it stops counting as open and may later be forgotten."""
    state.open_count -= 1
    remaining = state.open_by_account[order.account_id] - 1
    if remaining:
        state.open_by_account[order.account_id] = remaining
    else:
        del state.open_by_account[order.account_id]
    assert state.open_count >= 0
    _retire(state, order)


def _retire(state: GatewayState, order: Order) -> None:
    """Queue a terminal order for forgetting; forget the oldest beyond the retention bound."""
    fifo = state.terminal_fifo
    fifo.append(order.order_id)
    while len(fifo) > state.limits.orders_retained_max:
        old = state.orders.pop(fifo.popleft())
        assert old.status in TERMINAL_STATUSES, old.order_id
        account_orders = state.account_orders[old.account_id]
        del account_orders[old.order_id]
        if not account_orders:
            del state.account_orders[old.account_id]
        client_key = (old.account_id, old.client_order_id)
        if state.client_index.get(client_key) == old.order_id:
            del state.client_index[client_key]
        state.evicted_orders += 1


# --- other records ----------------------------------------------------------------------------


def _kill_switch(
    state: GatewayState, risk: RiskEngine, seq: int, ts_ns: int, record: Record
) -> None:
    assert isinstance(record, KillSwitchSet)
    if record.scope == "*":
        state.killed_global = record.active
    elif record.active:
        state.killed_accounts.add(record.scope)
    else:
        state.killed_accounts.discard(record.scope)


def _market_event(
    state: GatewayState, risk: RiskEngine, seq: int, ts_ns: int, record: Record
) -> None:
    assert isinstance(record, MarketEvent)
    entry = state.market.get(record.key)
    if entry is None:
        entry = state.market[record.key] = MarketKeyState()
    entry.count += 1
    entry.last_price = record.price
    entry.volume += record.volume
    entry.notional += record.price * record.volume
    entry.last_seq = seq


def _session_started(
    state: GatewayState, risk: RiskEngine, seq: int, ts_ns: int, record: Record
) -> None:
    assert isinstance(record, SessionStarted)
    state.session_seq = seq  # the orders this session accepts carry it in their ids
    state.session_engine_id = record.engine_id


def _ignored(state: GatewayState, risk: RiskEngine, seq: int, ts_ns: int, record: Record) -> None:
    return None  # ownership records are audit facts, not trading state


_Handler = Callable[[GatewayState, RiskEngine, int, int, Record], Order | None]

_HANDLERS: Final[dict[RecordType, _Handler]] = {
    RecordType.SESSION_STARTED: _session_started,
    RecordType.ORDER_ACCEPTED: _accepted,
    RecordType.ORDER_DENIED: _denied,
    RecordType.KILL_SWITCH_SET: _kill_switch,
    RecordType.MARKET_EVENT: _market_event,
    RecordType.OWNERSHIP_CHANGED: _ignored,
    **dict.fromkeys(_LIFECYCLE_DETAIL, _lifecycle),
}

assert set(_HANDLERS) == set(RecordType)
