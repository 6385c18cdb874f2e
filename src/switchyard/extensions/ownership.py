"""Key ownership in the gateway process (DESIGN §7, issue 5): an `extensions` module.

`install()` builds the ownership table for the mode the settings choose and wires it in:

- the request-path hook `ctx.extras["ownership"](key) -> Response | None`, called by
  `POST /events` and `POST /orders` before anything is sequenced: None to go on, else
  409 NOT_OWNER (owner id and URL), or 503 with Retry-After while a key is being handed over,
  not yet assigned, or while this engine cannot confirm its lease; not installed at all in
  `all` mode (one engine owns every key: nothing to check);
- `GET /ownership` (the routing table and this engine's status; peers probe it), a /health
  check, a /stats section, an /api/admin section and Prometheus collectors;
- in `etcd` mode, the coordinator (started once the server listens, so its URL is final) and
  a stop hook that releases every key (recorded in the WAL) and revokes the lease, so peers
  take over at once instead of after the lease TTL;
- in `static` mode, one OwnershipChanged record of OWNED_KEYS once the server listens.

Also warns about the seed's retired FAST_PATH_* settings (adapters/api_market.py says why).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from switchyard import __version__
from switchyard.adapters.api_market import RETIRED_FAST_PATH_SETTINGS
from switchyard.adapters.http import Request, Response, error_response, json_response
from switchyard.ownership import (
    Coordinator,
    EtcdGateway,
    OwnershipSettings,
    OwnershipTable,
    Registration,
    Verdict,
    parse_endpoints,
)
from switchyard.runtime.node import GatewayNode

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from switchyard.app import Gateway

ORDER = 20  # before the features that append records (outbox 60)
log = logging.getLogger("switchyard.ownership")

_LISTEN_POLL_S: Final = 0.02
_LIST_MAX: Final = 200  # keys listed in /health and /api/admin (counts are always exact)
_HANDOVER_SLOW_NS: Final = 10_000_000_000  # a hand-over pending this long degrades /health
_RETRY: Final = ((b"retry-after", b"1"),)


class NodeRecorder:
    """Ownership changes go to the WAL through the sequencer, like every other fact."""

    def __init__(self, node: GatewayNode, engine_id: str) -> None:
        self.node = node
        self.engine_id = engine_id

    def record(self, revision: int, keys: tuple[str, ...]) -> int:
        node = self.node
        return node.sequencer.record_ownership(
            engine_id=self.engine_id, revision=revision, keys=keys, now_ns=node.clock.wall_ns()
        )

    async def wait_durable(self, seq: int, *, timeout_s: float) -> None:
        done = asyncio.get_running_loop().create_future()

        def durable() -> None:
            if not done.done():
                done.set_result(None)

        self.node.wait_durable(seq, durable)
        async with asyncio.timeout(timeout_s):
            await done


class Ownership:
    """What the gateway holds for ownership: settings, table, coordinator (etcd mode)."""

    def __init__(self, gateway: Gateway, settings: OwnershipSettings) -> None:
        self.gateway = gateway
        self.settings = settings
        self.table = OwnershipTable(settings.engine_id, settings.mode)
        self.engine_url = settings.engine_url
        self.coordinator: Coordinator | None = None
        self.failed: str | None = None
        self._task: asyncio.Task[None] | None = None

    # --- the request-path hook ----------------------------------------------------------------

    def hook(self) -> Any:
        table = self.table
        mono_ns = self.gateway.node.clock.mono_ns
        refuse = self.refuse

        def check(key: str) -> Response | None:
            if key in table.serving:
                deadline = table.deadline_ns
                if not deadline or mono_ns() <= deadline:
                    return None
            return refuse(key)

        return check

    def refuse(self, key: str) -> Response:
        refusal = self.table.refusal(key, self.gateway.node.clock.mono_ns())
        verdict = refusal.verdict
        revision = self.table.revision
        if verdict is Verdict.NOT_OWNER:
            where = f"engine {refusal.owner}" if refusal.owner else "another engine"
            return error_response(
                409,
                "NOT_OWNER",
                f"key {key} is owned by {where}; send it there",
                owner=refusal.owner,
                ownerUrl=refusal.owner_url,
                key=key,
                revision=revision,
            )
        if verdict is Verdict.UNASSIGNED:
            if self.coordinator is not None:
                self.coordinator.request_key(key)
            return _unavailable("KEY_UNASSIGNED", f"key {key} is being assigned; retry", key)
        if verdict is Verdict.HANDOVER:
            return _unavailable(
                "KEY_IN_HANDOVER",
                f"key {key} is moving to this engine; the previous owner has not released it",
                key,
            )
        return _unavailable(
            "OWNERSHIP_UNCERTAIN",
            "this engine cannot confirm its etcd lease in time; writes are paused",
            key,
        )

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.settings.mode == "static":
            # Runs once build_gateway() returned (after the SessionStarted record) and before
            # the server listens (start_gateway awaits before create_server completes).
            loop.call_soon(self._start_static)
        else:
            self._task = loop.create_task(self._start_etcd(), name="ownership-start")

    def _start_static(self) -> None:
        self.table.serving = frozenset(self.settings.owned_keys)
        recorder = NodeRecorder(self.gateway.node, self.settings.engine_id)
        recorder.record(0, tuple(sorted(self.table.serving)))

    async def _start_etcd(self) -> None:
        gateway = self.gateway
        # start_gateway() has no "listening" signal for extensions; the port is it. Until
        # registered, this engine serves nothing, so starting late is safe.
        while gateway.http.port == 0:  # noqa: ASYNC110
            await asyncio.sleep(_LISTEN_POLL_S)
        if self.engine_url.endswith(":0"):
            self.engine_url = f"{self.engine_url[:-2]}:{gateway.http.port}"
        recorder = NodeRecorder(gateway.node, self.settings.engine_id)
        coordinator = Coordinator(
            etcd=EtcdGateway(parse_endpoints(self.settings.endpoints)),
            settings=self.settings,
            table=self.table,
            recorder=recorder,
            clock=gateway.node.clock,
            registration=Registration(
                id=self.settings.engine_id,
                url=self.engine_url,
                wal_id=gateway.journal.wal_id,
                pid=os.getpid(),
                version=__version__,
            ),
            default_keys=gateway.venue.symbols,
        )
        self.coordinator = coordinator
        coordinator.start().add_done_callback(self._coordinator_ended)

    def _coordinator_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        error = task.exception()
        self.failed = repr(error)
        log.critical("event=ownership_failed error=%r: serving nothing from now on", error)
        self.table.serving = frozenset()

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self.coordinator is not None:
            await self.coordinator.stop()

    # --- views ----------------------------------------------------------------------------------

    def view(self) -> dict[str, Any]:
        """GET /ownership: the routing table and this engine's status (peers probe it)."""
        table = self.table
        body: dict[str, Any] = {
            "engineId": self.settings.engine_id,
            "engineUrl": self.engine_url,
            "mode": self.settings.mode,
            "revision": table.revision,
            "serving": ["*"] if self.settings.mode == "all" else sorted(table.serving),
            "owners": dict(sorted(table.owners.items())),
            "engines": dict(sorted(table.urls.items())),
            "onEtcdLoss": self.settings.on_etcd_loss,
        }
        if self.coordinator is not None:
            body.update(self.coordinator.status())
        else:
            body["etcd"] = {"reachable": False}
        if self.failed:
            body["failed"] = self.failed
        return body

    def summary(self) -> dict[str, Any]:
        """The /api/admin and /health detail: owned keys and the leader, without the table."""
        table = self.table
        status = self.coordinator.status() if self.coordinator is not None else {}
        return {
            "mode": self.settings.mode,
            "engineUrl": self.engine_url,
            "revision": table.revision,
            "leader": status.get("leader"),
            "isLeader": status.get("isLeader", False),
            "ownedKeyCount": len(table.serving),
            "ownedKeys": sorted(table.serving)[:_LIST_MAX],
            "pendingKeys": sorted(table.pending)[:_LIST_MAX],
            "etcdReachable": status.get("etcd", {}).get("reachable"),
        }

    def health(self) -> tuple[str, dict[str, Any]]:
        detail = self.summary()
        if self.failed:
            return "unhealthy", {**detail, "reason": f"ownership stopped: {self.failed}"}
        coordinator = self.coordinator
        if self.settings.mode != "etcd" or coordinator is None:
            return "healthy", detail
        if not coordinator.lease:
            return "degraded", {**detail, "reason": "not registered with etcd: serving nothing"}
        if not coordinator.etcd_reachable:
            return "degraded", {**detail, "reason": "etcd unreachable: keys kept, no changes"}
        pending_ns = self.gateway.node.clock.mono_ns() - coordinator.pending_since_ns
        if self.table.pending and pending_ns > _HANDOVER_SLOW_NS:
            return "degraded", {**detail, "reason": "a hand-over has waited more than 10 s"}
        return "healthy", detail

    def stats(self) -> dict[str, Any]:
        table = self.table
        out: dict[str, Any] = {
            "ownership_mode": self.settings.mode,
            "ownership_revision": table.revision,
            "ownership_owned_keys": len(table.serving),
            "ownership_pending_keys": len(table.pending),
        }
        for verdict, count in table.refusals.items():
            if verdict is not Verdict.SERVE:
                out[f"ownership_refused_{verdict.name.lower()}"] = count
        coordinator = self.coordinator
        if coordinator is not None:
            s = coordinator.stats
            out.update(
                ownership_is_leader=coordinator.leader_key is not None,
                ownership_etcd_errors=sum(s.etcd_errors.values()),
                ownership_fences=s.fences,
                ownership_leases_lost=s.leases_lost,
                ownership_last_handover_wait_ms=s.last_handover_wait_ms,
            )
        return out


def _unavailable(code: str, message: str, key: str) -> Response:
    return error_response(503, code, message, key=key, retryAfterMs=1000, headers=_RETRY)


class OwnershipCollector(Collector):
    """switchyard_ownership_* read at scrape time from the table and the coordinator."""

    def __init__(self, ownership: Ownership) -> None:
        self.ownership = ownership

    def collect(self) -> Iterator[Metric]:
        table = self.ownership.table
        yield _gauge(
            "switchyard_ownership_owned_keys", "keys this engine serves", len(table.serving)
        )
        yield _gauge(
            "switchyard_ownership_pending_keys",
            "keys assigned here, waiting for the previous owner to release them",
            len(table.pending),
        )
        yield _gauge(
            "switchyard_ownership_assignment_revision",
            "etcd revision of the assignment this engine follows",
            table.revision,
        )
        refusals = CounterMetricFamily(
            "switchyard_ownership_refusals", "writes refused by ownership", labels=["reason"]
        )
        for verdict, count in table.refusals.items():
            if verdict is not Verdict.SERVE:
                refusals.add_metric([verdict.name], count)
        yield refusals
        coordinator = self.ownership.coordinator
        if coordinator is not None:
            yield from _coordinator_metrics(coordinator)


def _coordinator_metrics(coordinator: Coordinator) -> Iterator[Metric]:
    s = coordinator.stats
    yield _gauge(
        "switchyard_ownership_is_leader", "1 on the leader", coordinator.leader_key is not None
    )
    yield _gauge("switchyard_ownership_registered", "1 while registered", bool(coordinator.lease))
    yield _gauge(
        "switchyard_ownership_etcd_reachable", "1 while etcd answers", coordinator.etcd_reachable
    )
    errors = CounterMetricFamily(
        "switchyard_ownership_etcd_errors", "failed etcd calls", labels=["operation"]
    )
    for operation, count in sorted(s.etcd_errors.items()):
        errors.add_metric([operation], count)
    yield errors
    for name, value, text in (
        ("fences", s.fences, "times this engine stopped serving to stay safe"),
        ("leases_lost", s.leases_lost, "leases etcd expired under this engine"),
        ("gains", s.gains, "hand-overs completed towards this engine"),
        ("releases", s.releases, "assignment changes that took keys from this engine"),
        ("assignments_written", s.assignments_written, "assignments written as leader"),
    ):
        yield CounterMetricFamily(f"switchyard_ownership_{name}", text, value=value)
    yield _gauge(
        "switchyard_ownership_last_handover_wait_seconds",
        "wait for the previous owner's release in the last hand-over",
        s.last_handover_wait_ms / 1000,
    )


def _gauge(name: str, text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, text, value=float(value))


def warn_retired(environ: Mapping[str, str]) -> None:
    for name, why in RETIRED_FAST_PATH_SETTINGS.items():
        if environ.get(name):
            log.warning("event=retired_setting name=%s: ignored; %s", name, why)


def install(gateway: Gateway, environ: Mapping[str, str]) -> Ownership:
    warn_retired(environ)
    settings = OwnershipSettings.from_env(environ, engine_id=gateway.settings.engine_id)
    if settings.mode == "etcd" and settings.owned_keys:
        log.warning("event=owned_keys_ignored: ETCD_ENDPOINTS is set, etcd assigns the keys")
    ownership = Ownership(gateway, settings)
    ctx = gateway.ctx
    extras: dict[str, Any] = ctx.extras
    router = gateway.http.state.router
    router.get("/ownership", lambda request: _view(ownership, request), name="ownership")
    extras["registry"].register(OwnershipCollector(ownership))
    extras["health_checks"]["ownership"] = ownership.health
    extras["stats_sources"].append(ownership.stats)
    extras["admin_sources"]["ownership"] = ownership.summary
    if settings.mode == "all":
        return ownership
    extras["ownership"] = ownership.hook()
    ownership.start()
    gateway.on_stop.append(ownership.stop)
    log.info(
        "event=ownership mode=%s engine=%s url=%s",
        settings.mode,
        settings.engine_id,
        settings.engine_url,
    )
    return ownership


def _view(ownership: Ownership, request: Request) -> Response:
    return json_response(200, ownership.view())
