"""/reconcile: compare the books with the gateway's own view, at the same seq, and list mismatches.

The gateway answers `GET /api/reconcile?afterOrderSeq=N&limit=L` (ops token) with its last
applied WAL seq `S`, every order it retains (paged by acceptSeq) and net filled positions. The
back office waits (bounded) until it has applied every event of that gateway's source up to
`S`, then compares *as of S*: filled quantity and notional of each order are summed from the
fills with seq <= S, positions likewise, and an order's status only when its last status event
is <= S. So a gateway that keeps trading during the check causes no false mismatch, and,
unlike the seed, every order is compared, not the last `limit` ledger lines.

Also reported: internal integrity (unbalanced entries, balances that drift from their
postings, positions that differ from the sum of their fills) and the backlog (parked events
that should have been applied by S, quarantined events).
"""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, case, func, select

from . import queries
from . import schema as t

PAGE_LIMIT = 1000
PAGES_MAX = 10_000  # 10 M orders: a bound, not an expectation
HTTP_TIMEOUT_S = 10.0
WAIT_POLL_S = 0.05


class GatewayUnavailable(Exception):
    """The gateway could not be asked (down, refused the token, answered garbage)."""


@dataclass
class GatewayView:
    seq: int
    source: str | None
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    positions: dict[tuple[str, str], int] = field(default_factory=dict)


def parse_pages(pages: list[dict[str, Any]]) -> GatewayView:
    """Merge `/api/reconcile` pages: the highest seq, the last page's positions."""
    if not pages:
        raise GatewayUnavailable("no page")
    view = GatewayView(seq=0, source=None)
    for page in pages:
        seq = page.get("seq")
        if not isinstance(seq, int):
            raise GatewayUnavailable(f"page without an integer seq: {str(page)[:200]}")
        view.seq = max(view.seq, seq)
        source = page.get("source")
        if isinstance(source, str) and source:
            view.source = source
        for order in page.get("orders", []):
            view.orders[str(order["orderId"])] = order
    view.positions = {
        (str(p["accountId"]), str(p["symbol"])): int(p["qty"])
        for p in pages[-1].get("positions", [])
    }
    if view.source is None:
        view.source = _source_from_order_ids(view.orders)
    return view


def _source_from_order_ids(orders: dict[str, dict[str, Any]]) -> str | None:
    # Order ids are "<ENGINE_ID>-<walId>-<acceptSeq>" (docs/ARCHITECTURE.md).
    for order_id in orders:
        parts = order_id.rsplit("-", 2)
        if len(parts) == 3:
            return f"{parts[0]}:{parts[1]}"
    return None


def fetch_gateway_view(
    base_url: str, token: str, *, timeout_s: float = HTTP_TIMEOUT_S
) -> GatewayView:
    pages: list[dict[str, Any]] = []
    after: int | None = 0
    while after is not None:
        if len(pages) >= PAGES_MAX:
            raise GatewayUnavailable(f"more than {PAGES_MAX} pages")
        query = urllib.parse.urlencode({"afterOrderSeq": after, "limit": PAGE_LIMIT})
        request = urllib.request.Request(  # noqa: S310 - GATEWAY_URL is operator configuration
            f"{base_url}/api/reconcile?{query}",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as answer:  # noqa: S310
                page = orjson.loads(answer.read())
        except (urllib.error.URLError, OSError, orjson.JSONDecodeError) as error:
            raise GatewayUnavailable(f"{base_url}/api/reconcile: {error}") from None
        if not isinstance(page, dict):
            raise GatewayUnavailable("the answer is not a JSON object")
        pages.append(page)
        following = page.get("nextAfterOrderSeq")
        after = following if isinstance(following, int) and following > (after or 0) else None
    return parse_pages(pages)


def wait_until_applied(engine: Engine, source: str, seq: int, *, wait_s: float) -> int:
    """Poll until `source` is applied through `seq` or `wait_s` passed; the seq reached."""
    deadline = time.monotonic() + wait_s
    while True:
        with engine.connect() as connection:
            reached = queries.applied_through(connection, source)
        if reached >= seq or time.monotonic() >= deadline:
            return reached
        time.sleep(WAIT_POLL_S)


def compare(
    connection: Connection, view: GatewayView, account_id: str | None
) -> list[dict[str, Any]]:
    """Every difference between the books (as of view.seq) and the gateway's view."""
    mismatches: list[dict[str, Any]] = []
    mismatches += _compare_orders(connection, view, account_id)
    mismatches += _compare_positions(connection, view, account_id)
    mismatches += integrity(connection, account_id)
    mismatches += _backlog(connection, view, account_id)
    return mismatches


def integrity(connection: Connection, account_id: str | None) -> list[dict[str, Any]]:
    found = queries.unbalanced_entries(connection) if account_id is None else []
    return (
        found
        + queries.balance_drift(connection, account_id)
        + queries.positions_vs_fills(connection, account_id)
    )


def _fills_as_of(connection: Connection, view: GatewayView) -> dict[str, tuple[int, int]]:
    f = t.fills
    query = select(f.c.order_id, func.sum(f.c.qty), func.sum(f.c.notional)).where(
        f.c.seq <= view.seq
    )
    if view.source is not None:
        query = query.where(f.c.source == view.source)
    rows = connection.execute(query.group_by(f.c.order_id))
    return {row[0]: (int(row[1]), int(row[2])) for row in rows}


def _compare_orders(
    connection: Connection, view: GatewayView, account_id: str | None
) -> list[dict[str, Any]]:
    filled = _fills_as_of(connection, view)
    o = t.orders
    query = select(o).where(o.c.accept_seq <= view.seq)
    if view.source is not None:
        query = query.where(o.c.source == view.source)
    if account_id is not None:
        query = query.where(o.c.account_id == account_id)
    ours = {row.order_id: row for row in connection.execute(query)}
    theirs = {
        k: v
        for k, v in view.orders.items()
        if account_id is None or v.get("accountId") == account_id
    }
    mismatches: list[dict[str, Any]] = []
    for order_id, gateway in sorted(theirs.items()):
        row = ours.get(order_id)
        if row is None:
            mismatches.append({"kind": "ORDER_MISSING", "orderId": order_id, "gateway": gateway})
            continue
        qty, notional = filled.get(order_id, (0, 0))
        diffs = {}
        if qty != gateway.get("filledQty"):
            diffs["filledQty"] = {"gateway": gateway.get("filledQty"), "backoffice": qty}
        if "cumNotional" in gateway and notional != gateway["cumNotional"]:
            diffs["cumNotional"] = {"gateway": gateway["cumNotional"], "backoffice": notional}
        if row.status_seq <= view.seq and row.status != gateway.get("status"):
            diffs["status"] = {"gateway": gateway.get("status"), "backoffice": row.status}
        if diffs:
            mismatches.append(
                {"kind": "ORDER", "orderId": order_id, "accountId": row.account_id, "diffs": diffs}
            )
    oldest = min((int(v.get("acceptSeq", 0)) for v in view.orders.values()), default=None)
    for order_id, row in sorted(ours.items()):
        # The gateway keeps a suffix of its orders (oldest terminal ones are evicted).
        if order_id not in view.orders and oldest is not None and row.accept_seq >= oldest:
            mismatches.append(
                {
                    "kind": "ORDER_UNKNOWN_TO_GATEWAY",
                    "orderId": order_id,
                    "accountId": row.account_id,
                }
            )
    return mismatches


def _compare_positions(
    connection: Connection, view: GatewayView, account_id: str | None
) -> list[dict[str, Any]]:
    f = t.fills
    signed = func.sum(case((f.c.side == "BUY", f.c.qty), else_=-f.c.qty))
    query = select(f.c.account_id, f.c.symbol, signed).where(f.c.seq <= view.seq)
    if view.source is not None:
        query = query.where(f.c.source == view.source)
    if account_id is not None:
        query = query.where(f.c.account_id == account_id)
    ours = {
        (r[0], r[1]): int(r[2])
        for r in connection.execute(query.group_by(f.c.account_id, f.c.symbol))
    }
    theirs = {k: v for k, v in view.positions.items() if account_id is None or k[0] == account_id}
    return [
        {
            "kind": "POSITION",
            "accountId": key[0],
            "symbol": key[1],
            "gateway": theirs.get(key, 0),
            "backoffice": ours.get(key, 0),
        }
        for key in sorted(set(ours) | set(theirs))
        if ours.get(key, 0) != theirs.get(key, 0)
    ]


def _backlog(
    connection: Connection, view: GatewayView, account_id: str | None
) -> list[dict[str, Any]]:
    p, a = t.parked_events, t.applied_events
    query = (
        select(func.count())
        .select_from(p.join(a, a.c.event_id == p.c.event_id))
        .where(p.c.seq <= view.seq)
    )
    if view.source is not None:
        query = query.where(a.c.source == view.source)
    if account_id is not None:
        query = query.where(a.c.account_id == account_id)
    parked = int(connection.scalar(query) or 0)
    out: list[dict[str, Any]] = []
    if parked:
        out.append({"kind": "PARKED_EVENTS", "count": parked, "throughSeq": view.seq})
    if account_id is None:
        quarantined = int(connection.scalar(select(func.count()).select_from(t.quarantine)) or 0)
        if quarantined:
            out.append({"kind": "QUARANTINED_EVENTS", "count": quarantined})
    return out


def reconcile(
    engine: Engine,
    view: GatewayView,
    *,
    account_id: str | None,
    wait_s: float,
) -> dict[str, Any]:
    """The /reconcile answer for `view` (already fetched)."""
    reached = view.seq
    if view.source is not None:
        reached = wait_until_applied(engine, view.source, view.seq, wait_s=wait_s)
    body: dict[str, Any] = {
        "gatewaySeq": view.seq,
        "source": view.source,
        "appliedThroughSeq": reached,
        "ordersCompared": len(view.orders),
    }
    if reached < view.seq:
        body["ok"] = False
        body["mismatches"] = [
            {
                "kind": "NOT_CAUGHT_UP",
                "gatewaySeq": view.seq,
                "appliedThroughSeq": reached,
                "firstMissingSeq": reached + 1,
            }
        ]
        return body
    with queries.snapshot(engine) as connection:
        mismatches = compare(connection, view, account_id)
    body["ok"] = not mismatches
    body["mismatches"] = mismatches
    return body
