"""Builders for tests: a sequencer wired to an in-memory record list, orders, reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from switchyard.core.codes import Reason
from switchyard.core.enums import (
    LiquiditySide,
    OrderStatus,
    OrderType,
    ReportKind,
    Side,
    TimeInForce,
)
from switchyard.core.events import Record
from switchyard.core.messages import ExecReport
from switchyard.pipeline.apply import apply_record
from switchyard.pipeline.sequencer import Result, Sequencer
from switchyard.pipeline.state import GatewayState, StateLimits
from switchyard.risk.config import RiskConfig
from switchyard.risk.engine import RiskEngine

T0 = 1_800_000_000_000_000_000  # a wall-clock ns value used as "now" in tests


def limits(**overrides: int) -> StateLimits:
    values = {
        "orders_retained_max": 1000,
        "orders_open_max": 1000,
        "idempotency_max": 10_000,
        "idempotency_ttl_s": 3600,
    }
    values.update(overrides)
    return StateLimits(**values)


@dataclass
class Rig:
    """A sequencer whose records land in `records` (the journal of a unit test)."""

    sequencer: Sequencer
    records: list[tuple[int, int, Record]] = field(default_factory=list)
    now_ns: int = T0

    @property
    def state(self) -> GatewayState:
        return self.sequencer.state

    def tick(self, ns: int = 1_000) -> int:
        self.now_ns += ns
        return self.now_ns

    def submit(self, account: str = "acct-1", key: str | None = None, **order: Any) -> Result:
        fields: dict[str, Any] = {
            "symbol": "BTC",
            "side": Side.BUY,
            "order_type": OrderType.LIMIT,
            "qty": 10,
            "price": 1000,
            "time_in_force": TimeInForce.GTC,
            "expire_at_ms": 0,
            "post_only": False,
            "origin": "http",
            "client_order_id": "",
        }
        fields.update(order)
        if key is None:
            key = f"k-{len(self.records) + 1}-{self.now_ns}"
        return self.sequencer.submit_order(
            account_id=account, idempotency_key=key, now_ns=self.tick(), **fields
        )

    def replay_state(self) -> Sequencer:
        """A fresh sequencer rebuilt only from the records (as recovery would)."""
        fresh = make_rig(
            engine_id=self.state.engine_id,
            wal_id=self.state.wal_id,
            state_limits=self.state.limits,
            risk=self.sequencer.risk.config,
        )
        for seq, ts, record in self.records:
            apply_record(fresh.state, fresh.sequencer.risk, seq, ts, record)
        return fresh.sequencer


def make_rig(
    *,
    engine_id: str = "e1",
    wal_id: str = "abc123",
    state_limits: StateLimits | None = None,
    risk: RiskConfig | None = None,
) -> Rig:
    records: list[tuple[int, int, Record]] = []
    state = GatewayState(engine_id=engine_id, wal_id=wal_id, limits=state_limits or limits())
    sequencer = Sequencer(
        state, RiskEngine(risk or RiskConfig()), lambda seq, ts, r: records.append((seq, ts, r))
    )
    return Rig(sequencer, records)


def report(
    kind: ReportKind,
    order_id: str,
    *,
    cum_qty: int = 0,
    last_qty: int = 0,
    last_price: int = 0,
    qty: int = 10,
    price: int = 1000,
    venue_seq: int = 1,
    reason: Reason = Reason.NONE,
    order_status: OrderStatus | None = None,
    side: Side = Side.BUY,
    symbol: str = "BTC",
    priority_kept: bool = False,
) -> ExecReport:
    return ExecReport(
        kind=kind,
        order_id=order_id,
        venue_seq=venue_seq,
        symbol=symbol,
        side=side,
        qty=qty,
        price=price,
        last_qty=last_qty,
        last_price=last_price,
        cum_qty=cum_qty,
        leaves_qty=max(0, qty - cum_qty),
        liquidity=LiquiditySide.TAKER if kind == ReportKind.FILL else None,
        reason=reason,
        exec_id=f"x{venue_seq}" if kind == ReportKind.FILL else "",
        ts_ns=0,
        priority_kept=priority_kept,
        order_status=order_status,
    )
