"""Operations endpoints: /stats, /health, /metrics, /api/admin, the kill switch, /api/reconcile.

`/health` follows the seed's healthy/degraded/unhealthy idea but judges recent behaviour, not
figures accumulated since start (one slow burst must not mark an instance unhealthy forever).
Other components contribute checks and stats through `ctx.extras["health_checks"]` and
`ctx.extras["stats_sources"]` (callables returning dicts).
"""

from __future__ import annotations

import gc
import os
import resource
import threading
import time
from collections.abc import Callable
from typing import Any, Final

import msgspec
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from switchyard import __version__
from switchyard.core.enums import Side
from switchyard.runtime.node import GatewayNode

from .api_common import GatewayContext, authenticate, decode_body, int_param, require_ops
from .http import Request, Response, Router, ServerState, error_response, json_response

HealthCheck = Callable[[], tuple[str, dict[str, Any]]]  # -> (healthy|degraded|unhealthy, detail)
StatsSource = Callable[[], dict[str, Any]]

_LEVELS: Final = {"healthy": 0, "degraded": 1, "unhealthy": 2}
_RECONCILE_LIMIT_MAX: Final = 10_000
WAL_AGE_UNHEALTHY_NS: Final = 5_000_000_000  # a record not durable after 5 s: the disk is stuck


class KillSwitchRequest(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    scope: str  # "*" for everyone, else an account id
    active: bool
    cancel_open: bool = False
    note: str = ""


_KILL_DECODER: Final = msgspec.json.Decoder(KillSwitchRequest)
_OPERATORS_ONLY: Final = "<operators only>"  # per-account settings, hidden from accounts


def register(
    router: Router, ctx: GatewayContext, http: ServerState, registry: CollectorRegistry
) -> None:
    router.get("/stats", lambda r: stats(ctx, http, r), name="stats")
    router.get("/health", lambda r: health(ctx, r), name="health")
    router.get("/metrics", lambda r: metrics(registry), name="metrics")
    router.get("/api/admin", lambda r: admin(ctx, r), name="admin")
    router.post(
        "/api/admin/kill-switch", lambda r: kill_switch(ctx, r), json_body=True, name="kill_switch"
    )
    router.get("/api/reconcile", lambda r: reconcile(ctx, r), name="reconcile")


def stats(ctx: GatewayContext, http: ServerState, request: Request) -> Response:
    """The seed's flat /stats map: counts and HDR percentiles (microseconds)."""
    node = ctx.node
    journal = node.journal
    out: dict[str, Any] = {
        "engine_id": ctx.engine_id,
        "uptime_ms": (time.time_ns() - ctx.started_wall_ns) // 1_000_000,
        "fast_path_count": node.order_outcomes["accepted"],
        "orders": dict(node.order_outcomes),
        "orders_open": node.sequencer.state.open_count,
        "venue_up": node.venue_up,
        "venue_queue_depth": node.venue.queue_depth(),
        "http_connections": len(http.connections),
        "http_requests": http.counters["requests"],
        "sse_subscribers": ctx.sse.subscriber_count,
        "sse_dropped": ctx.sse.counters["dropped_slow"],
        "inflight": node.undurable_count,
        "wal_age_ms": node.oldest_undurable_age_ns() / 1e6,
    }
    if journal is not None:
        out.update(
            wal_appended_seq=journal.appended_seq,
            wal_durable_seq=journal.durable_seq,
            wal_pending_bytes=journal.pending_bytes,
            wal_bytes_total=journal.bytes_committed_total,
        )
    recorders = [
        ("gateway_ack", node.ack_latency),
        ("gateway_wal_enqueue", node.wal_enqueue_latency),
        ("gateway_durable_ack", node.durable_latency),
        ("fast_path_process", node.process_latency),
    ]
    recorders.append(("gateway_fdatasync", node.fsync_latency))
    out["wal_syncs"] = node.wal_syncs
    out["wal_batch_mean_records"] = (
        round(node.wal_synced_records / node.wal_syncs, 2) if node.wal_syncs else 0.0
    )
    out["wal_batch_max_records"] = node.wal_batch_records_max
    for prefix, recorder in recorders:
        values = recorder.percentiles_us()
        for key in ("p50", "p90", "p99", "p999", "max", "mean"):
            out[f"{prefix}_{key}_us"] = values[key]
        out[f"{prefix}_count"] = values["count"]
    out.update(_seed_stats(out, node))
    for source in ctx.extras.get("stats_sources", ()):
        out.update(source())
    return json_response(200, out)


def _seed_stats(out: dict[str, Any], node: GatewayNode) -> dict[str, Any]:
    """The seed README's /stats keys, from ours: its "publish" is our WAL enqueue, its
    persistence-queue write is our writer's write+fdatasync, its drops are orders refused for
    want of room (capacity; backpressure refusals are under `backpressure`)."""
    journal = node.journal
    return {
        "fast_path_avg_process_us": out["fast_path_process_mean_us"],
        "fast_path_avg_publish_us": out["gateway_wal_enqueue_mean_us"],
        "fast_path_publish_p50_us": out["gateway_wal_enqueue_p50_us"],
        "fast_path_publish_p99_us": out["gateway_wal_enqueue_p99_us"],
        "fast_path_drop_count": node.order_outcomes["capacity"],
        "persistence_queue_error_count": int(journal is not None and journal.failed is not None),
        "persistence_queue_write_p99_us": out["gateway_fdatasync_p99_us"],
    }


def health(ctx: GatewayContext, request: Request) -> Response:
    checks: dict[str, dict[str, Any]] = {}
    worst = "healthy"
    for name, check in [
        ("wal", lambda: _wal_check(ctx)),
        ("venue", lambda: _venue_check(ctx)),
        *ctx.extras.get("health_checks", {}).items(),
    ]:
        level, detail = check()
        checks[name] = {"status": level, **detail}
        if _LEVELS[level] > _LEVELS[worst]:
            worst = level
    uptime_ms = (time.time_ns() - ctx.started_wall_ns) // 1_000_000
    usage = resource.getrusage(resource.RUSAGE_SELF)
    body = {
        "status": worst,
        "engineId": ctx.engine_id,
        "version": __version__,
        "timestamp": time.time_ns() // 1_000_000,
        "uptime_ms": uptime_ms,
        "uptime_human": _human(uptime_ms // 1000),
        "checks": checks,
        "process": {
            "pid": os.getpid(),
            "max_rss_mb": usage.ru_maxrss // 1024,
            "threads": threading.active_count(),
            "gc_collections": [generation["collections"] for generation in gc.get_stats()],
        },
    }
    return json_response(503 if worst == "unhealthy" else 200, body)


def _wal_check(ctx: GatewayContext) -> tuple[str, dict[str, Any]]:
    node = ctx.node
    journal = node.journal
    if journal is None:
        return "unhealthy", {"reason": "the WAL is not open"}
    age_ns = node.oldest_undurable_age_ns()
    detail: dict[str, Any] = {
        "durableSeq": journal.durable_seq,
        "appendedSeq": journal.appended_seq,
        "oldestPendingMs": round(age_ns / 1e6, 3),
    }
    if journal.failed is not None:
        return "unhealthy", {**detail, "reason": f"WAL failed: {journal.failed}"}
    if journal.disk_full:
        return "unhealthy", {**detail, "reason": "the WAL's disk is full; new segments wait"}
    if age_ns > WAL_AGE_UNHEALTHY_NS:
        return "unhealthy", {**detail, "reason": "records are not becoming durable"}
    return "healthy", detail


def _venue_check(ctx: GatewayContext) -> tuple[str, dict[str, Any]]:
    node = ctx.node
    detail = {"connected": node.venue_up, "queueDepth": node.venue.queue_depth()}
    if not node.venue_up:
        return "degraded", {**detail, "reason": "the venue is not connected: new orders get 503"}
    return "healthy", detail


def _human(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def metrics(registry: CollectorRegistry) -> Response:
    return Response(200, generate_latest(registry), content_type=CONTENT_TYPE_LATEST.encode())


def admin(ctx: GatewayContext, request: Request) -> Response:
    principal = authenticate(ctx, request)
    if isinstance(principal, Response):
        return principal
    state = ctx.node.sequencer.state
    # Another account's id or limits are operators' business: an account sees its own only.
    killed = sorted(state.killed_accounts)
    config = ctx.settings_view
    if not principal.is_ops:
        killed = [account for account in killed if account == principal.account_id]
        config = {
            name: _OPERATORS_ONLY if "_BY_ACCOUNT" in name and value else value
            for name, value in config.items()
        }
    return json_response(
        200,
        {
            "success": True,
            "message": "Current configuration",
            "engineId": ctx.engine_id,
            "walId": state.wal_id,
            "config": config,
            "killSwitch": {"global": state.killed_global, "accounts": killed},
            "lastSeq": state.last_seq,
            "durableSeq": ctx.node.durable_seq,
            # What WAL replay must rebuild exactly: compare it across a restart (operators).
            "stateHash": ctx.node.sequencer.state_hash() if principal.is_ops else None,
            "recoveredStateHash": ctx.node.recovered_state_hash,
            **{key: fn() for key, fn in ctx.extras.get("admin_sources", {}).items()},
        },
    )


def kill_switch(ctx: GatewayContext, request: Request) -> Response:
    """Halt trading globally or for one account (recorded in the WAL); optionally cancel."""
    principal = authenticate(ctx, request)
    if isinstance(principal, Response):
        return principal
    denied = require_ops(principal)
    if denied is not None:
        return denied
    body = decode_body(_KILL_DECODER, request.body)
    if isinstance(body, Response):
        return body
    scope = body.scope.strip()
    if not scope or len(scope) > 64:
        return error_response(
            400, "INVALID_REQUEST", "scope is '*' or an account id", field="scope"
        )
    seq = ctx.node.set_kill_switch(
        scope=scope,
        active=body.active,
        cancel_open=body.cancel_open,
        actor=principal.account_id,
        note=body.note[:200],
    )
    return json_response(200, {"scope": scope, "active": body.active, "seq": seq})


def reconcile(ctx: GatewayContext, request: Request) -> Response:
    """The gateway's view for the back office: positions and orders by acceptSeq (ops only)."""
    principal = authenticate(ctx, request)
    if isinstance(principal, Response):
        return principal
    denied = require_ops(principal)
    if denied is not None:
        return denied
    after = int_param(request, "afterOrderSeq", 0, 0, 2**62)
    if isinstance(after, Response):
        return after
    limit = int_param(request, "limit", 1000, 1, _RECONCILE_LIMIT_MAX)
    if isinstance(limit, Response):
        return limit
    state = ctx.node.sequencer.state
    orders: list[dict[str, Any]] = []
    next_after: int | None = None
    for order in state.orders.values():  # insertion order = acceptSeq order
        if order.accept_seq <= after:
            continue
        if len(orders) >= limit:
            next_after = int(orders[-1]["acceptSeq"])
            break
        orders.append(
            {
                "orderId": order.order_id,
                "accountId": order.account_id,
                "symbol": order.symbol,
                "side": Side(order.side).name,
                "status": order.status.name,
                "filledQty": order.filled_qty,
                "cumNotional": order.cum_notional,
                "acceptSeq": order.accept_seq,
            }
        )
    positions = [
        {"accountId": account, "symbol": symbol, "qty": qty}
        for (account, symbol), qty in sorted(state.positions.items())
    ]
    return json_response(
        200,
        {
            "source": f"{ctx.engine_id}:{state.wal_id}",  # matches the outbox's eventId prefix
            "seq": state.last_seq,
            "durableSeq": ctx.node.durable_seq,
            "evictedOrders": state.evicted_orders,
            "positions": positions,
            "orders": orders,
            "nextAfterOrderSeq": next_after,
        },
    )
