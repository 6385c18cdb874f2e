"""The rules of the books: what one event does to orders, fills, positions and the ledger.

Pure decisions over a working set. State comes in through a `StateReader` (the store, inside
the batch's transaction); everything an event changes is collected in memory and written by
the store in the same transaction as the events' dedupe keys. Rules:

- An event id seen before is a duplicate: no effect (the dedupe key is its eventId).
- OrderAccepted / OrderDenied create the order. Any other order event for an order not
  known yet is parked (reason ORDER) and applied when the order arrives, never dropped.
- Fills apply by cumulative quantity: a fill whose `filledQty - lastQty` is above what was
  applied waits for the missing earlier fill (parked, reason FILL_GAP); one that overlaps
  what was applied contradicts the venue's cumulative quantities and is quarantined.
- Status follows the highest seq of the order's events (each event carries the status after
  it), so late and reordered status events cannot move an order backwards.
- Positions, average cost and realized PnL are the fold of an account's fills in canonical
  order (occurredAtNs, source, seq). A fill arriving after a later one re-folds that position;
  the difference (cost basis vs realized PnL; cash and lots never depend on order) is booked
  as an adjustment entry. So the books are a function of the set of events, not of their
  arrival order, and a rebuild from the topic equals the live state.
- Anything that cannot be applied safely is quarantined with its reason and body, counted,
  and reported by /health and /reconcile: never guessed at, never silently skipped.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from switchyard.core.enums import Side
from switchyard.ledger import (
    BOOK_CASH,
    BOOK_FEES,
    MARKET_ACCOUNT,
    Entry,
    FillEffect,
    FillTerms,
    Position,
    adjustment_entry,
    apply_fill,
    asset_lots,
    book_cost,
    book_pnl,
    book_position,
    fee_for,
    fill_entry,
    fold_fills,
)

from . import events as ev

FillKey = tuple[int, str, int]  # canonical fill order: (occurred_at_ns, source, seq)
PositionKey = tuple[str, str]  # (account_id, symbol)
BalanceKey = tuple[str, str, str]  # (account_id, book, asset)
NO_FILL: FillKey = (-1, "", 0)


class Outcome(Enum):
    APPLIED = "applied"
    PARKED = "parked"
    RECORDED = "recorded"  # kept as seen, no effect on the books (e.g. MarketEvent)
    QUARANTINED = "quarantined"
    DUPLICATE = "duplicate"  # never stored: the event id is already there


# --- rows ---------------------------------------------------------------------------------


@dataclass(slots=True)
class OrderRow:
    order_id: str
    source: str
    account_id: str
    symbol: str
    side: str
    order_type: str
    qty: int
    price: int
    status: str
    status_seq: int
    filled_qty: int
    cum_notional: int
    reported_filled_qty: int
    accept_seq: int
    created_at_ns: int
    updated_at_ns: int


@dataclass(slots=True)
class PositionRow:
    account_id: str
    symbol: str
    qty: int = 0
    cost_basis: int = 0
    realized_pnl: int = 0
    fees: int = 0
    fill_count: int = 0
    last_fill: FillKey = NO_FILL


@dataclass(slots=True)
class FillRow:
    event_id: str
    source: str
    seq: int
    order_id: str
    account_id: str
    symbol: str
    side: str
    qty: int
    price: int
    notional: int
    fee: int
    realized_pnl: int
    liquidity: str
    exec_id: str
    filled_qty_after: int
    occurred_at_ns: int

    @property
    def key(self) -> FillKey:
        return (self.occurred_at_ns, self.source, self.seq)


@dataclass(frozen=True, slots=True)
class ParkedRow:
    event_id: str
    order_id: str
    reason: str  # ORDER | FILL_GAP
    seq: int
    body: str
    parked_at_ns: int


@dataclass(frozen=True, slots=True)
class AppliedRow:
    event_id: str
    source: str
    seq: int
    event_type: str
    account_id: str | None
    order_id: str | None
    outcome: str
    occurred_at_ns: int
    applied_at_ns: int
    position: str


@dataclass(frozen=True, slots=True)
class QuarantineRow:
    event_id: str
    reason: str
    body: str
    at_ns: int


@dataclass(frozen=True, slots=True)
class EntryRow:
    entry_id: str
    event_id: str
    kind: str
    account_id: str
    symbol: str
    order_id: str | None
    occurred_at_ns: int
    entry: Entry


class StateReader(Protocol):
    """What the bookkeeper reads; the store answers inside the batch's transaction."""

    def existing_event_ids(self, event_ids: Collection[str]) -> set[str]: ...
    def orders(self, order_ids: Collection[str]) -> dict[str, OrderRow]: ...
    def parked(self, order_ids: Collection[str]) -> list[ParkedRow]: ...
    def positions(self, keys: Collection[PositionKey]) -> dict[PositionKey, PositionRow]: ...
    def balances(self, keys: Collection[BalanceKey]) -> dict[BalanceKey, int]: ...
    def fills_of(self, key: PositionKey) -> list[FillRow]: ...


@dataclass
class Changes:
    """Everything one batch changes, for the store to write in one transaction."""

    applied: list[AppliedRow] = field(default_factory=list)
    outcome_updates: dict[str, str] = field(default_factory=dict)  # released parked events
    parked_inserts: list[ParkedRow] = field(default_factory=list)
    parked_deletes: list[str] = field(default_factory=list)
    parked_reason_updates: dict[str, str] = field(default_factory=dict)
    quarantine: list[QuarantineRow] = field(default_factory=list)
    orders_new: list[OrderRow] = field(default_factory=list)
    orders_changed: list[OrderRow] = field(default_factory=list)
    fills_new: list[FillRow] = field(default_factory=list)
    fill_realized_updates: dict[str, int] = field(default_factory=dict)  # stored fills re-folded
    positions_new: list[PositionRow] = field(default_factory=list)
    positions_changed: list[PositionRow] = field(default_factory=list)
    entries: list[EntryRow] = field(default_factory=list)
    balances_new: dict[BalanceKey, int] = field(default_factory=dict)
    balances_changed: dict[BalanceKey, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)  # source -> highest seq in the batch


@dataclass
class Counts:
    applied: int = 0
    parked: int = 0
    released: int = 0
    recorded: int = 0
    quarantined: int = 0
    duplicates: int = 0
    refolds: int = 0
    last_occurred_ns: int = 0


def fill_balance_keys(account_id: str, symbol: str, currency: str) -> list[BalanceKey]:
    """The ledger balances a fill of `symbol` for `account_id` may post to."""
    return [
        (account_id, BOOK_CASH, currency),
        (account_id, BOOK_FEES, currency),
        (account_id, book_cost(symbol), currency),
        (account_id, book_pnl(symbol), currency),
        (account_id, book_position(symbol), asset_lots(symbol)),
        (MARKET_ACCOUNT, book_position(symbol), asset_lots(symbol)),
    ]


class _Quarantine(Exception):
    """Internal: this event cannot be applied; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Bookkeeper:
    """Applies a batch of events to a working set read through `reader`."""

    def __init__(self, reader: StateReader, *, currency: str, fee_bps: int, now_ns: int) -> None:
        self.reader = reader
        self.currency = currency
        self.fee_bps = fee_bps
        self.now_ns = now_ns
        self.counts = Counts()
        self._changes = Changes()
        self._seen: set[str] = set()
        self._known_ids: set[str] = set()  # checked against the database
        self._existing_ids: set[str] = set()
        self._orders: dict[str, OrderRow | None] = {}
        self._orders_new: set[str] = set()
        self._orders_changed: set[str] = set()
        self._parked: dict[str, dict[str, ParkedRow]] = {}  # order id -> current parked events
        self._parked_stored: dict[str, ParkedRow] = {}  # as loaded from the database
        self._positions: dict[PositionKey, PositionRow] = {}
        self._positions_new: set[PositionKey] = set()
        self._positions_changed: set[PositionKey] = set()
        self._balances: dict[BalanceKey, int] = {}
        self._balances_new: set[BalanceKey] = set()
        self._balances_changed: set[BalanceKey] = set()
        self._balances_checked: set[BalanceKey] = set()  # asked of the database already
        self._fills_by_position: dict[PositionKey, list[FillRow]] = {}
        self._stored_fills: dict[PositionKey, list[FillRow]] = {}

    # --- batch entry points ---------------------------------------------------------------

    def prefetch(self, batch: Iterable[ev.Event]) -> None:
        """Load in bulk what a batch will touch (one query per table instead of per event)."""
        events = list(batch)
        self._load_existing([e.event_id for e in events])
        order_ids = {e.order_id for e in events if e.order_id}
        self._load_orders(order_ids)
        self._load_parked(order_ids)
        keys = set()
        for event in events:
            if event.event_type == "OrderFilled" and event.account_id:
                symbol = event.data.get("symbol")
                if isinstance(symbol, str):
                    keys.add((event.account_id, symbol))
        self._load_positions(keys)
        self._load_balances(
            balance
            for account_id, symbol in keys
            for balance in fill_balance_keys(account_id, symbol, self.currency)
        )

    def apply(self, raw: bytes, position: str) -> Outcome:
        """Apply one envelope as received from a source at `position`."""
        try:
            event = ev.decode_event(raw)
        except ev.EventError as error:
            return self._undecodable(raw, position, str(error))
        if self._is_duplicate(event.event_id):
            self.counts.duplicates += 1
            return Outcome.DUPLICATE
        self._seen.add(event.event_id)
        outcome = self._dispatch(event, raw.decode())
        self._count(outcome)
        self.counts.last_occurred_ns = max(self.counts.last_occurred_ns, event.occurred_at_ns)
        self._changes.applied.append(
            AppliedRow(
                event_id=event.event_id,
                source=event.source,
                seq=event.seq,
                event_type=event.event_type,
                account_id=event.account_id,
                order_id=event.order_id,
                outcome=outcome.value,
                occurred_at_ns=event.occurred_at_ns,
                applied_at_ns=self.now_ns,
                position=position,
            )
        )
        sources = self._changes.sources
        sources[event.source] = max(sources.get(event.source, 0), event.seq)
        if outcome is Outcome.APPLIED and event.order_id:
            self._release(event.order_id)
        return outcome

    def _count(self, outcome: Outcome) -> None:
        counts = self.counts
        if outcome is Outcome.APPLIED:
            counts.applied += 1
        elif outcome is Outcome.PARKED:
            counts.parked += 1
        elif outcome is Outcome.QUARANTINED:
            counts.quarantined += 1
        else:
            counts.recorded += 1

    def changes(self) -> Changes:
        """What the batch changed (call once, after the last `apply`)."""
        changes = self._changes
        changes.orders_new = [self._order_row(i) for i in sorted(self._orders_new)]
        changed = self._orders_changed - self._orders_new
        changes.orders_changed = [self._order_row(i) for i in sorted(changed)]
        changes.positions_new = [self._positions[k] for k in sorted(self._positions_new)]
        moved = self._positions_changed - self._positions_new
        changes.positions_changed = [self._positions[k] for k in sorted(moved)]
        changes.balances_new = {k: self._balances[k] for k in sorted(self._balances_new)}
        changes.balances_changed = {
            k: self._balances[k] for k in sorted(self._balances_changed - self._balances_new)
        }
        self._collect_parked(changes)
        return changes

    # --- dispatch ---------------------------------------------------------------------------

    def _dispatch(self, event: ev.Event, body: str) -> Outcome:
        try:
            return self._dispatch_checked(event, body)
        except (_Quarantine, ev.EventError) as error:
            reason = error.reason if isinstance(error, _Quarantine) else str(error)
            self._changes.quarantine.append(
                QuarantineRow(event.event_id, reason, body, self.now_ns)
            )
            return Outcome.QUARANTINED

    def _dispatch_checked(self, event: ev.Event, body: str) -> Outcome:
        kind = event.event_type
        if kind in ev.ORDER_CREATING:
            return self._create_order(event)
        if kind not in ev.ORDER_UPDATING:
            return Outcome.RECORDED
        assert event.order_id is not None
        order = self._order(event.order_id)
        if order is None:
            self._park(event, body, "ORDER")
            return Outcome.PARKED
        if order.account_id != event.account_id or order.source != event.source:
            raise _Quarantine(
                f"order {order.order_id} belongs to {order.account_id}@{order.source}, "
                f"event says {event.account_id}@{event.source}"
            )
        if kind == "OrderFilled":
            return self._fill(event, order, body)
        update = ev.order_update(event)
        if kind == "OrderReplaced" and event.seq > order.status_seq:
            terms = ev.replace_terms(event)
            order.qty, order.price = terms.qty, terms.price
        self._update_status(order, event, update.status, update.filled_qty)
        return Outcome.APPLIED

    def _create_order(self, event: ev.Event) -> Outcome:
        assert event.order_id is not None
        assert event.account_id is not None
        if self._order(event.order_id) is not None:
            raise _Quarantine(f"order {event.order_id} was already created by another event")
        terms = ev.order_terms(event)
        denied = event.event_type == "OrderDenied"
        order = OrderRow(
            order_id=event.order_id,
            source=event.source,
            account_id=event.account_id,
            symbol=terms.symbol,
            side=terms.side,
            order_type=terms.order_type,
            qty=terms.qty,
            price=terms.price,
            status="DENIED" if denied else "ACCEPTED",
            status_seq=event.seq,
            filled_qty=0,
            cum_notional=0,
            reported_filled_qty=0,
            accept_seq=event.seq,
            created_at_ns=event.occurred_at_ns,
            updated_at_ns=event.occurred_at_ns,
        )
        self._orders[order.order_id] = order
        self._orders_new.add(order.order_id)
        return Outcome.APPLIED

    def _update_status(self, order: OrderRow, event: ev.Event, status: str, filled: int) -> None:
        if event.seq > order.status_seq:
            order.status = status
            order.status_seq = event.seq
        order.reported_filled_qty = max(order.reported_filled_qty, filled)
        order.updated_at_ns = max(order.updated_at_ns, event.occurred_at_ns)
        self._orders_changed.add(order.order_id)

    # --- fills ----------------------------------------------------------------------------

    def _fill(self, event: ev.Event, order: OrderRow, body: str) -> Outcome:
        terms = ev.fill_terms(event)
        if terms.symbol != order.symbol or terms.side != order.side:
            raise _Quarantine(
                f"fill {terms.side} {terms.symbol} does not match order {order.side} {order.symbol}"
            )
        start = terms.filled_qty - terms.last_qty
        if start > order.filled_qty:
            self._park(event, body, "FILL_GAP")
            return Outcome.PARKED
        if start < order.filled_qty:
            raise _Quarantine(
                f"fill {start}..{terms.filled_qty} overlaps the {order.filled_qty} lots applied"
            )
        notional = terms.last_qty * terms.last_price
        fill = FillRow(
            event_id=event.event_id,
            source=event.source,
            seq=event.seq,
            order_id=order.order_id,
            account_id=order.account_id,
            symbol=order.symbol,
            side=order.side,
            qty=terms.last_qty,
            price=terms.last_price,
            notional=notional,
            fee=fee_for(notional=notional, fee_bps=self.fee_bps),
            realized_pnl=0,
            liquidity=terms.liquidity,
            exec_id=terms.exec_id,
            filled_qty_after=terms.filled_qty,
            occurred_at_ns=event.occurred_at_ns,
        )
        order.filled_qty = terms.filled_qty
        order.cum_notional += notional
        self._update_status(order, event, terms.status, terms.filled_qty)
        self._book_fill(fill)
        return Outcome.APPLIED

    def _book_fill(self, fill: FillRow) -> None:
        key = (fill.account_id, fill.symbol)
        row = self._position(key)
        held = Position(row.qty, row.cost_basis, row.realized_pnl)
        side = Side[fill.side]
        effect = apply_fill(held, side=side, qty=fill.qty, price=fill.price)
        fill.realized_pnl = effect.realized_pnl
        self._changes.fills_new.append(fill)
        self._fills_by_position.setdefault(key, []).append(fill)
        self._post(fill, "fill", self._fill_entry(fill, side, effect))
        result = effect.position
        if fill.key < row.last_fill:
            result = self._refold(key, fill, effect.position)
        row.qty, row.cost_basis, row.realized_pnl = (
            result.qty,
            result.cost_basis,
            result.realized_pnl,
        )
        row.fees += fill.fee
        row.fill_count += 1
        row.last_fill = max(row.last_fill, fill.key)
        self._positions_changed.add(key)

    def _fill_entry(self, fill: FillRow, side: Side, effect: FillEffect) -> Entry:
        return fill_entry(
            account_id=fill.account_id,
            symbol=fill.symbol,
            currency=self.currency,
            side=side,
            qty=fill.qty,
            price=fill.price,
            fee=fill.fee,
            effect=effect,
        )

    def _refold(self, key: PositionKey, late: FillRow, provisional: Position) -> Position:
        """Re-apply every fill of `key` in canonical order; book the difference."""
        self.counts.refolds += 1
        stored = self._stored_fills.get(key)
        if stored is None:
            stored = self._stored_fills[key] = self.reader.fills_of(key)
        in_batch = {f.event_id: f for f in self._fills_by_position.get(key, [])}
        everything = [f for f in stored if f.event_id not in in_batch] + list(in_batch.values())
        everything.sort(key=lambda f: f.key)
        terms = [FillTerms(Side[f.side], f.qty, f.price) for f in everything]
        effects = fold_fills(terms)
        for fill, effect in zip(everything, effects, strict=True):
            updates = self._changes.fill_realized_updates
            if fill.event_id in in_batch:
                fill.realized_pnl = effect.realized_pnl
            elif fill.realized_pnl != effect.realized_pnl or fill.event_id in updates:
                fill.realized_pnl = effect.realized_pnl
                updates[fill.event_id] = effect.realized_pnl
        canonical = effects[-1].position
        assert canonical.qty == provisional.qty, "lots never depend on the order of fills"
        change = canonical.cost_basis - provisional.cost_basis
        if change:
            entry = adjustment_entry(
                account_id=late.account_id,
                symbol=late.symbol,
                currency=self.currency,
                cost_change=change,
                realized_change=canonical.realized_pnl - provisional.realized_pnl,
            )
            self._post(late, "adj", entry)
        return canonical

    def _post(self, fill: FillRow, suffix: str, entry: Entry) -> None:
        self._changes.entries.append(
            EntryRow(
                entry_id=f"{fill.event_id}/{suffix}",
                event_id=fill.event_id,
                kind=entry.kind,
                account_id=fill.account_id,
                symbol=fill.symbol,
                order_id=fill.order_id,
                occurred_at_ns=fill.occurred_at_ns,
                entry=entry,
            )
        )
        keys = [(p.account_id, p.book, p.asset) for p in entry.postings]
        self._load_balances(keys)
        for posting, key in zip(entry.postings, keys, strict=True):
            if key not in self._balances:
                self._balances[key] = 0
                self._balances_new.add(key)
            self._balances[key] += posting.amount
            self._balances_changed.add(key)

    # --- parking --------------------------------------------------------------------------

    def _park(self, event: ev.Event, body: str, reason: str) -> None:
        assert event.order_id is not None
        self._load_parked([event.order_id])
        parked = self._parked.setdefault(event.order_id, {})
        previous = parked.get(event.event_id)
        since = previous.parked_at_ns if previous is not None else self.now_ns
        parked[event.event_id] = ParkedRow(
            event.event_id, event.order_id, reason, event.seq, body, since
        )

    def _release(self, order_id: str) -> None:
        """Apply parked events of `order_id` that can be applied now, until none can."""
        self._load_parked([order_id])
        parked = self._parked.get(order_id)
        while parked:
            order = self._order(order_id)
            assert order is not None
            ready = sorted(
                (p for p in parked.values() if self._is_ready(p, order)), key=lambda p: p.seq
            )
            if not ready:
                return
            for row in ready:
                event = ev.decode_event(row.body.encode())
                outcome = self._dispatch(event, row.body)  # may re-park it (ORDER -> FILL_GAP)
                if outcome is Outcome.PARKED:
                    continue
                del parked[row.event_id]
                self.counts.released += 1
                if outcome is Outcome.QUARANTINED:
                    self.counts.quarantined += 1
                self._changes.outcome_updates[event.event_id] = outcome.value

    def _is_ready(self, row: ParkedRow, order: OrderRow) -> bool:
        if row.reason == "ORDER":
            return True
        data = ev.decode_event(row.body.encode()).data
        filled, last = data.get("filledQty"), data.get("lastQty")
        if not isinstance(filled, int) or not isinstance(last, int):
            return True  # let dispatch quarantine it with the precise reason
        return filled - last <= order.filled_qty

    def _collect_parked(self, changes: Changes) -> None:
        current = {row.event_id: row for rows in self._parked.values() for row in rows.values()}
        stored = self._parked_stored
        changes.parked_deletes = sorted(set(stored) - set(current))
        changes.parked_inserts = [current[i] for i in sorted(set(current) - set(stored))]
        changes.parked_reason_updates = {
            i: current[i].reason
            for i in sorted(set(current) & set(stored))
            if current[i].reason != stored[i].reason
        }

    # --- working-set loading --------------------------------------------------------------

    def _is_duplicate(self, event_id: str) -> bool:
        if event_id in self._seen:
            return True
        if event_id not in self._known_ids:
            self._load_existing([event_id])
        return event_id in self._existing_ids

    def _load_existing(self, event_ids: Collection[str]) -> None:
        missing = [i for i in event_ids if i not in self._known_ids]
        if missing:
            self._existing_ids |= self.reader.existing_event_ids(missing)
            self._known_ids.update(missing)

    def _order(self, order_id: str) -> OrderRow | None:
        if order_id not in self._orders:
            self._load_orders([order_id])
        return self._orders[order_id]

    def _order_row(self, order_id: str) -> OrderRow:
        order = self._orders[order_id]
        assert order is not None
        return order

    def _load_orders(self, order_ids: Collection[str]) -> None:
        missing = [i for i in order_ids if i not in self._orders]
        if missing:
            found = self.reader.orders(missing)
            for order_id in missing:
                self._orders[order_id] = found.get(order_id)

    def _load_parked(self, order_ids: Collection[str]) -> None:
        missing = [i for i in order_ids if i not in self._parked]
        if not missing:
            return
        for order_id in missing:
            self._parked[order_id] = {}
        for row in self.reader.parked(missing):
            self._parked[row.order_id][row.event_id] = row
            self._parked_stored[row.event_id] = row

    def _position(self, key: PositionKey) -> PositionRow:
        if key not in self._positions:
            self._load_positions([key])
        return self._positions[key]

    def _load_positions(self, keys: Collection[PositionKey]) -> None:
        missing = [k for k in keys if k not in self._positions]
        if missing:
            found = self.reader.positions(missing)
            for key in missing:
                row = found.get(key)
                if row is None:
                    row = PositionRow(account_id=key[0], symbol=key[1])
                    self._positions_new.add(key)
                self._positions[key] = row

    def _load_balances(self, keys: Iterable[BalanceKey]) -> None:
        missing = [key for key in dict.fromkeys(keys) if key not in self._balances_checked]
        if missing:
            self._balances.update(self.reader.balances(missing))
            self._balances_checked.update(missing)

    def _undecodable(self, raw: bytes, position: str, reason: str) -> Outcome:
        event_id = f"undecodable:{position}"
        if self._is_duplicate(event_id):
            self.counts.duplicates += 1
            return Outcome.DUPLICATE
        self._seen.add(event_id)
        body = raw.decode("utf-8", errors="replace")
        self._changes.quarantine.append(QuarantineRow(event_id, reason, body, self.now_ns))
        self._changes.applied.append(
            AppliedRow(
                event_id=event_id,
                source="undecodable",
                seq=0,
                event_type="",
                account_id=None,
                order_id=None,
                outcome=Outcome.QUARANTINED.value,
                occurred_at_ns=0,
                applied_at_ns=self.now_ns,
                position=position,
            )
        )
        self.counts.quarantined += 1
        return Outcome.QUARANTINED
