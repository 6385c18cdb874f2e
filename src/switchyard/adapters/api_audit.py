"""Streams and audit: `GET /stream`, `GET /orders/{id}/stream`, `GET /orders/{id}/events`,
`GET /accounts/{id}/events`, `GET /audit/verify`, `GET|POST /audit/anchor`.

Audit trails come from the WAL itself (every record is a verified, hash-chained fact): recent
records from the in-memory ring, older ones read from disk in a worker thread so the event
loop keeps serving. Scans are bounded; a bounded answer says where to continue.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

from switchyard.core.events import Record
from switchyard.wal.payload import decode_payload
from switchyard.wal.reader import WALReader
from switchyard.wal.verify import verify

from .api_common import (
    GatewayContext,
    authenticate,
    authenticate_stream,
    int_param,
    invalid,
    not_found,
    require_ops,
)
from .auth import Principal
from .http import DEFERRED, HandlerResult, Request, Response, Router, error_response, json_response
from .sse import last_event_id
from .views import accept_seq_of, record_view

log = logging.getLogger("switchyard.audit")

AUDIT_SCAN_RECORDS_MAX: Final = 200_000  # records read per audit request (bounded CPU)
AUDIT_EVENTS_LIMIT_MAX: Final = 1_000
VERIFY_LIMIT_MAX: Final = 10_000_000


def register(router: Router, ctx: GatewayContext) -> None:
    router.get("/stream", lambda r: account_stream(ctx, r), name="account_stream")
    router.get("/orders/{orderId}/stream", lambda r: order_stream(ctx, r), name="order_stream")
    router.get("/orders/{orderId}/events", lambda r: order_events(ctx, r), name="order_events")
    router.get(
        "/accounts/{accountId}/events", lambda r: account_events(ctx, r), name="account_events"
    )
    router.get("/audit/verify", lambda r: audit_verify(ctx, r), name="audit_verify")
    router.get("/audit/anchor", lambda r: audit_anchor(ctx, r), name="audit_anchor")
    router.post(
        "/audit/anchor", lambda r: export_anchor(ctx, r), json_body=True, name="export_anchor"
    )


def disk_records(
    wal_dir: Path, hmac_key: bytes | None
) -> Callable[[int, int], Iterator[tuple[int, int, Record]]]:
    """(from_seq, to_seq) -> decoded durable records from disk (for SSE resume and audits)."""

    def read(from_seq: int, to_seq: int) -> Iterator[tuple[int, int, Record]]:
        if from_seq > to_seq:
            return
        reader = WALReader(wal_dir, hmac_key=hmac_key)
        for record in reader.iter_from(from_seq, to_seq):
            yield record.seq, record.ts_ns, decode_payload(record.record_type, record.payload)

    return read


# --- streams ----------------------------------------------------------------------------


def _resume_point(request: Request) -> int | Response | None:
    try:
        return last_event_id(request)
    except ValueError as error:
        return invalid(str(error), "Last-Event-ID")


def account_stream(ctx: GatewayContext, request: Request) -> HandlerResult:
    principal = authenticate_stream(ctx, request)
    if isinstance(principal, Response):
        return principal
    account = principal.account_id
    wanted = request.query_params().get("account")
    if wanted:
        if not principal.is_ops and wanted != account:
            return not_found("account")
        account = wanted
    resume = _resume_point(request)
    if isinstance(resume, Response):
        return resume
    from_seq = ctx.sse.last_published if resume is None else resume
    return ctx.sse.subscribe(request, account_id=account, order_id=None, from_seq=from_seq)


def order_stream(ctx: GatewayContext, request: Request) -> HandlerResult:
    principal = authenticate_stream(ctx, request)
    if isinstance(principal, Response):
        return principal
    order_id = request.params["orderId"]
    order = ctx.node.sequencer.state.orders.get(order_id)
    if order is None or (order.account_id != principal.account_id and not principal.is_ops):
        return not_found("order")
    resume = _resume_point(request)
    if isinstance(resume, Response):
        return resume
    # Without a resume point an order stream starts with the order's whole history.
    from_seq = order.accept_seq - 1 if resume is None else resume
    return ctx.sse.subscribe(
        request, account_id=order.account_id, order_id=order_id, from_seq=from_seq
    )


# --- audit trails ------------------------------------------------------------------------


def _in_background(
    ctx: GatewayContext, request: Request, work: Callable[[], Response]
) -> HandlerResult:
    """Run blocking reads in a worker thread and answer when they finish."""
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(None, work)

    def done(finished: asyncio.Future[Response]) -> None:
        try:
            request.respond(finished.result())
        except Exception:  # an edge: answer this request, keep serving the rest
            log.exception("audit read failed path=%s", request.path)
            request.respond(error_response(500, "AUDIT_READ_FAILED", "reading the WAL failed"))

    future.add_done_callback(done)
    return DEFERRED


def _scan(
    ctx: GatewayContext,
    from_seq: int,
    to_seq: int,
    wants: Callable[[Record], bool],
    limit: int,
    *,
    keep_last: bool,
) -> tuple[list[dict[str, Any]], int | None]:
    """Matching records in (from_seq..to_seq), at most `limit` (the first, or the last ones).

    Returns the views and, if the scan stopped at its bound, the seq to continue after.
    """
    found: deque[dict[str, Any]] = deque(maxlen=limit if keep_last else None)
    last_scanned = from_seq - 1
    records = disk_records(ctx.wal_dir, ctx.hmac_key)(from_seq, to_seq)
    for scanned, (seq, ts_ns, record) in enumerate(records, start=1):
        last_scanned = seq
        if wants(record):
            found.append(record_view(seq, ts_ns, record))
            if not keep_last and len(found) >= limit:
                return list(found), seq if seq < to_seq else None
        if scanned >= AUDIT_SCAN_RECORDS_MAX:
            return list(found), last_scanned if last_scanned < to_seq else None
    return list(found), None


def order_events(ctx: GatewayContext, request: Request) -> HandlerResult:
    principal = authenticate(ctx, request)
    if isinstance(principal, Response):
        return principal
    order_id = request.params["orderId"]
    first = accept_seq_of(order_id)
    order = ctx.node.sequencer.state.orders.get(order_id)
    if first is None or first < 1:  # seq 0 is no order: the WAL starts at 1
        return not_found("order")
    if order is not None and not _may_see(principal, order.account_id):
        return not_found("order")
    limit = int_param(request, "limit", 100, 1, AUDIT_EVENTS_LIMIT_MAX)
    if isinstance(limit, Response):
        return limit
    durable = ctx.node.durable_seq
    if first > durable:
        return not_found("order")  # not durable yet, or never existed

    def wants(record: Record) -> bool:
        return getattr(record, "order_id", None) == order_id

    def work() -> Response:
        events, next_after = _scan(ctx, first, durable, wants, limit, keep_last=False)
        if not events or not _may_see(principal, str(events[0].get("accountId"))):
            return not_found("order")
        return json_response(
            200, {"orderId": order_id, "events": events, "nextAfterSeq": next_after}
        )

    return _in_background(ctx, request, work)


def account_events(ctx: GatewayContext, request: Request) -> HandlerResult:
    principal = authenticate(ctx, request)
    if isinstance(principal, Response):
        return principal
    account = request.params["accountId"]
    if not _may_see(principal, account):
        return not_found("account")
    limit = int_param(request, "limit", 100, 1, AUDIT_EVENTS_LIMIT_MAX)
    if isinstance(limit, Response):
        return limit
    durable = ctx.node.durable_seq
    after = int_param(request, "afterSeq", -1, 0, 2**62)
    if isinstance(after, Response):
        return after
    keep_last = after < 0  # no afterSeq: the most recent events, within the last scan window
    from_seq = max(1, durable - AUDIT_SCAN_RECORDS_MAX + 1) if keep_last else after + 1

    def wants(record: Record) -> bool:
        return getattr(record, "account_id", None) == account

    def work() -> Response:
        events, next_after = _scan(ctx, from_seq, durable, wants, limit, keep_last=keep_last)
        return json_response(
            200, {"accountId": account, "events": events, "nextAfterSeq": next_after}
        )

    return _in_background(ctx, request, work)


def _may_see(principal: Principal, account_id: str) -> bool:
    return principal.is_ops or principal.account_id == account_id


# --- hash chain -------------------------------------------------------------------------


def audit_verify(ctx: GatewayContext, request: Request) -> HandlerResult:
    principal = authenticate(ctx, request)
    if isinstance(principal, Response):
        return principal
    from_seq = int_param(request, "fromSeq", 1, 1, 2**62)
    if isinstance(from_seq, Response):
        return from_seq
    limit = int_param(request, "limit", 1_000_000, 1, VERIFY_LIMIT_MAX)
    if isinstance(limit, Response):
        return limit

    def work() -> Response:
        result = verify(ctx.wal_dir, ctx.hmac_key, from_seq, limit, live=True)
        return json_response(200, result.to_json())

    return _in_background(ctx, request, work)


def audit_anchor(ctx: GatewayContext, request: Request) -> Response:
    principal = authenticate(ctx, request)
    if isinstance(principal, Response):
        return principal
    journal = ctx.node.journal
    assert journal is not None
    if journal.durable_seq == 0:
        return error_response(404, "NO_ANCHOR", "the WAL is empty: nothing to anchor yet")
    return json_response(200, journal.anchor().to_json())


def export_anchor(ctx: GatewayContext, request: Request) -> HandlerResult:
    """Write the current chain head to var/wal/anchors now (operators)."""
    principal = authenticate(ctx, request)
    if isinstance(principal, Response):
        return principal
    denied = require_ops(principal)
    if denied is not None:
        return denied
    journal = ctx.node.journal
    assert journal is not None
    anchor = journal.anchor()

    def work() -> Response:
        path = journal.write_anchor_now()
        return json_response(201, {**anchor.to_json(), "path": path})

    return _in_background(ctx, request, work)
