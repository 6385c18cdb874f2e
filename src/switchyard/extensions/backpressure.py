"""Backpressure in the gateway process (issue 11): an `extensions` module.

`install()` reads the BACKPRESSURE_* settings (a bad value or MIN > CAP stops startup, naming
the variable) and wires `switchyard.backpressure` into the built gateway:

- the admission hook `ctx.extras["admission"]() -> Response | None`, which POST /orders
  calls after auth and before decoding: None to go on, else 503 (hard limit) or 429 (soft)
  with the reason code, `Retry-After` and `retryAfterMs`; prebuilt answers, no I/O;
- while shedding (the last admission check refused), an early check in the HTTP layer
  (`ServerState.answer_early`) that asks the same questions in the same order as POST
  /orders does before decoding (JSON media type, auth, accepting, admission) as soon as the
  request is complete, and writes the same refusal without building a Request, routing or
  running the handler: a refusal then costs a fraction of what it did (docs/BACKPRESSURE.md);
- a sampler on the loop timer (every 50 ms, or the controller's tick if shorter): polls the
  WAL filesystem's free space (statvfs, never per request) and steps the adaptive controller
  with the durable-commit counter, so the controller stays clock-free;
- a Prometheus collector (seed counters `gateway_backpressure_*_total`, the seed's controller
  gauges, `switchyard_backpressure_*`), a `/health` check ("backpressure": degraded while
  shedding), a `/stats` section and an `/api/admin` section; a stop hook cancels the timer.

Inflight here means orders accepted whose accept record is not durable yet
(`GatewayNode.accepted_undurable`). Must not mutate trading state or block the loop.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

import orjson
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from switchyard.adapters.api_common import authenticate_headers
from switchyard.adapters.http import EarlyCheck, Response, is_json_body
from switchyard.backpressure import (
    KINDS,
    Admission,
    BackpressureSettings,
    InflightController,
    RefusalKind,
)
from switchyard.backpressure.rules import INFLIGHT_SOFT
from switchyard.runtime.node import GatewayNode

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from switchyard.app import Gateway

ORDER = 10  # admission control first: ownership (20) and the features that append records

SAMPLE_INTERVAL_MAX_S: Final = 0.05  # disk poll and controller sampling period (upper bound)
SHEDDING_WINDOW_NS: Final = 1_000_000_000  # /health stays degraded this long after a refusal
EARLY_PATH: Final = "/orders"  # POST: refused in the HTTP layer while shedding

Responder = Callable[[], Response]


class Backpressure:
    """The gateway's backpressure: admission, controller, sampler and their read-outs."""

    def __init__(self, gateway: Gateway, settings: BackpressureSettings) -> None:
        self.settings = settings
        self.node: GatewayNode = gateway.node
        self.gateway = gateway
        journal = gateway.journal
        self.journal = journal
        node = self.node
        # The controller always runs (its rate EWMAs are metrics); it admits only when enabled.
        self.controller = InflightController(settings.controller)
        self.responders = tuple(_responder(kind, settings, self.controller) for kind in KINDS)
        self.admission: Admission[Response] = Admission(
            settings,
            journal=journal,
            orders=node,
            venue=node.venue,
            mono_ns=node.clock.mono_ns,
            respond=self._respond,
            controller=self.controller if settings.controller.enabled else None,
            on_refusing=self._arm_early,
        )
        self.interval_s = min(SAMPLE_INTERVAL_MAX_S, settings.controller.tick_ms / 1000)
        self.samples = 0
        self._timer: asyncio.TimerHandle | None = None
        self._seen_refused = 0  # refusals counted at the last sample
        self._last_shed_ns = -SHEDDING_WINDOW_NS  # when the sampler last saw new refusals

    # --- the hook ------------------------------------------------------------------------

    def _respond(self, index: int) -> Response:
        return self.responders[index]()

    def hook(self) -> Callable[[], Response | None]:
        """What POST /orders calls before decoding: None to go on, else the refusal."""
        return self.admission.check

    def _arm_early(self, refusing: bool) -> None:
        # The early check is in force only while shedding: accepted orders then pay nothing.
        self.gateway.http.state.arm_early(EARLY_PATH, armed=refusing)

    def early_check(self) -> EarlyCheck:
        """POST /orders' answer before routing while shedding, else None (the usual path).

        The same questions in the same order as `api_orders.submit_order` up to its admission
        step, so the answer is the one the handler would give: a body that is not JSON is left
        to the router (415), a bad token gets the handler's 401 (asked once: the verified-token
        cache makes a good token a dict lookup), a stopping gateway is left to the handler
        (503 SHUTTING_DOWN), and then admission decides: its refusal, counted as always, or
        None and the order takes the usual path (which asks admission again and gets the same
        answer: nothing changed in between). Only while the last check refused, so accepted
        orders pay nothing (the HTTP layer asks only while it is armed, `_arm_early`).
        """
        admission = self.admission
        ctx = self.gateway.ctx
        node = self.node

        def check(headers: dict[bytes, bytes], body: bytes) -> Response | None:
            if not is_json_body(headers, body):
                return None
            principal = authenticate_headers(ctx, headers)
            if isinstance(principal, Response):
                return principal
            if not node.accepting:
                return None
            return admission.check()

        return check

    # --- the sampler ------------------------------------------------------------------------

    def start(self) -> None:
        self.sample()  # the first disk poll and the controller's baseline, before serving

    def sample(self) -> None:
        """Poll the disk, step the controller, note shedding; then schedule the next sample."""
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self.interval_s, self.sample)
        self.samples += 1
        node = self.node
        now_ns = node.clock.mono_ns()
        self.admission.observe(self.journal.free_space_pct())
        oldest_ns = self.journal.oldest_pending_ns
        self.controller.step(
            now_ns=now_ns,
            committed_total=node.accepted_durable,
            inflight=node.accepted_undurable,
            wal_age_ns=max(0, now_ns - oldest_ns) if oldest_ns else 0,
            loop_cpu_ns=time.thread_time_ns(),  # the loop's thread: admission and answers
        )
        refused = self.admission.refused_total
        if refused != self._seen_refused:
            self._seen_refused = refused
            self._last_shed_ns = now_ns

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # --- read-outs ----------------------------------------------------------------------------

    def shedding(self) -> bool:
        """Refusing now: a refusal since the last sample or within the shedding window."""
        now_ns = self.node.clock.mono_ns()
        return (
            self.admission.refused_total != self._seen_refused
            or now_ns - self._last_shed_ns < SHEDDING_WINDOW_NS
        )

    def early_answers(self) -> int:
        """Requests the early check answered in the HTTP layer (see `early_check`)."""
        return self.gateway.http.state.counters["early_answers"]

    def health(self) -> tuple[str, dict[str, Any]]:
        admission = self.admission
        detail: dict[str, Any] = {
            "inflight": self.admission.inflight,
            "refusedTotal": admission.refused_total,
            "diskFreePct": _round(admission.disk_free_pct),
        }
        if self.settings.controller.enabled:
            detail["limit"] = self.controller.limit
        reasons = []
        if admission.disk_low or self.journal.disk_full:
            reasons.append("the WAL's disk is (nearly) full: new orders get 503")
        if self.controller.declining:
            reasons.append("the durable commit rate is falling: new orders get 429")
        if self.shedding():
            reasons.append("shedding load: orders were refused in the last second")
        if reasons:
            return "degraded", {**detail, "reason": "; ".join(reasons)}
        return "healthy", detail

    def stats(self) -> dict[str, Any]:
        admission = self.admission
        node = self.node
        journal = self.journal
        return {
            "backpressure": {
                "shedding": self.shedding(),
                "inflight": node.accepted_undurable,
                "inflightHighWater": admission.inflight_high_water,
                "walPendingBytes": journal.pending_bytes,
                "walAgeMs": round(node.oldest_undurable_age_ns() / 1e6, 3),
                "diskFreePct": _round(admission.disk_free_pct),
                "diskLow": admission.disk_low,
                "walDiskFull": journal.disk_full,
                "venueQueueDepth": node.venue.queue_depth(),
                "refusedTotal": admission.refused_total,
                "refused": admission.refused_by_reason(),
                "earlyAnswers": self.early_answers(),
                "limits": self.limits(),
                "controller": self.controller.describe(),
            }
        }

    def limits(self) -> dict[str, Any]:
        """The thresholds in force (None = off)."""
        settings = self.settings
        return {
            "inflightMax": settings.inflight_max,
            "walBytesMax": settings.wal_bytes_limit,
            "walAgeMsMax": settings.wal_age_ms_max,
            "softWalAgeMsMax": settings.soft_wal_age_ms_max,
            "diskFreePctMin": settings.disk_free_pct_min,
            "venueQueueMax": settings.venue_queue_max or None,
            "inflightDynamic": settings.controller.enabled,
        }

    def admin(self) -> dict[str, Any]:
        return {
            "limits": self.limits(),
            "controller": self.controller.describe(),
            "sampleIntervalMs": round(self.interval_s * 1000, 3),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _responder(
    kind: RefusalKind, settings: BackpressureSettings, controller: InflightController
) -> Responder:
    """A factory of the refusal for `kind`; the body is built once (except the live limit)."""
    if not kind.index:
        return _never
    status = 503 if kind.hard else 429
    headers = ((b"retry-after", b"%d" % math.ceil(kind.retry_after_ms / 1000)),)
    fields: dict[str, Any] = {
        "error": kind.reason.name,
        "message": kind.message,
        "retryAfterMs": kind.retry_after_ms,
    }
    if kind.index == INFLIGHT_SOFT:
        # One Response per limit value, rebuilt when the controller moves the limit (at most
        # once per tick): the HTTP layer then encodes it once per second, not per refusal.
        template = orjson.dumps({**fields, "limit": 0}).replace(b'"limit":0', b'"limit":%d')
        built = [Response(status, template % controller.limit, headers=headers)]
        built_for = [controller.limit]

        def inflight_soft() -> Response:
            limit = controller.limit
            if limit != built_for[0]:
                built_for[0] = limit
                built[0] = Response(status, template % limit, headers=headers)
            return built[0]

        return inflight_soft
    limit = _static_limit(kind, settings)
    if limit is not None:
        fields["limit"] = limit
    response = Response(status, orjson.dumps(fields), headers=headers)
    return lambda: response


def _static_limit(kind: RefusalKind, settings: BackpressureSettings) -> float | None:
    return {
        "disk_free": settings.disk_free_pct_min,
        "wal_age": settings.wal_age_ms_max,
        "wal_bytes": settings.wal_bytes_limit,
        "inflight": settings.inflight_max,
        "queue_reject": settings.venue_queue_max,
        "soft_wal_age": settings.soft_wal_age_ms_max,
    }.get(kind.counter)


def _never() -> Response:
    raise AssertionError("admitted requests have no refusal")


class BackpressureCollector(Collector):
    """Reads the admission counters and the controller's state when Prometheus scrapes."""

    def __init__(self, backpressure: Backpressure) -> None:
        self._bp = backpressure

    def collect(self) -> Iterator[Metric]:
        bp = self._bp
        refused = bp.admission.refused
        seed: dict[str, int] = {}
        for kind in KINDS[1:]:
            seed[kind.counter] = seed.get(kind.counter, 0) + refused[kind.index]
        for name, value in seed.items():
            yield CounterMetricFamily(
                f"gateway_backpressure_{name}_total",
                f"Orders refused by backpressure: {name.replace('_', ' ')} (seed name)",
                value=value,
            )
        yield CounterMetricFamily(
            "gateway_reject_queue_full_total",
            "Orders refused because the venue queue is full (seed name)",
            value=seed["queue_reject"],
        )
        by_reason = CounterMetricFamily(
            "switchyard_backpressure_refusals",
            "Orders refused by admission control, by reason code",
            labels=["reason"],
        )
        for kind in KINDS[1:]:
            by_reason.add_metric([kind.reason.name], refused[kind.index])
        yield by_reason
        yield from self._gauges()

    def _gauges(self) -> Iterator[Metric]:
        bp = self._bp
        controller = bp.controller
        inflight = bp.node.accepted_undurable
        dynamic = bp.settings.controller.enabled
        yield _gauge("gateway_durable_inflight", "Accepted orders not yet durable (seed)", inflight)
        yield _gauge(
            "switchyard_backpressure_inflight_orders", "Accepted orders not yet durable", inflight
        )
        yield _gauge(
            "switchyard_backpressure_inflight_high_water_orders",
            "Most orders inflight at once since start",
            bp.admission.inflight_high_water,
        )
        yield _gauge(
            "gateway_inflight_dynamic_enabled", "1 when the adaptive limit is on", int(dynamic)
        )
        yield _gauge(
            "gateway_inflight_limit_dynamic", "The adaptive inflight limit (seed)", controller.limit
        )
        yield _gauge(
            "switchyard_backpressure_inflight_limit",
            "Inflight limit in force: the adaptive one, else BACKPRESSURE_INFLIGHT_MAX, else 0",
            controller.limit if dynamic else (bp.settings.inflight_max or 0),
        )
        yield from _rate_gauges(controller)
        yield _gauge(
            "switchyard_backpressure_shedding", "1 while orders are being refused", bp.shedding()
        )
        yield _gauge(
            "switchyard_backpressure_rate_declining",
            "1 while the durable-rate-decline rule refuses",
            controller.declining,
        )
        free = bp.admission.disk_free_pct
        if free is not None:
            yield _gauge(
                "switchyard_backpressure_disk_free_percent",
                "Free space of the WAL's filesystem at the last poll",
                free,
            )
        yield CounterMetricFamily(
            "switchyard_backpressure_samples", "Sampler runs since start", value=bp.samples
        )
        yield CounterMetricFamily(
            "switchyard_backpressure_early_answers",
            "POST /orders answered by the early check before routing (refusals while shedding)",
            value=bp.early_answers(),
        )


def _rate_gauges(controller: InflightController) -> Iterator[Metric]:
    yield _gauge(
        "gateway_durable_commit_rate_ewma",
        "Durable commits per second, EWMA (seed)",
        controller.commit_rate,
    )
    yield _gauge(
        "switchyard_backpressure_commit_rate_per_second",
        "Accepted orders made durable per second, EWMA over controller ticks",
        controller.commit_rate,
    )
    yield _gauge(
        "gateway_backpressure_soft_reject_rate_ewma",
        "Soft refusals per second, EWMA (seed)",
        controller.reject_rate,
    )
    yield _gauge(
        "switchyard_backpressure_soft_refusal_rate_per_second",
        "Soft (429) adaptive refusals per second, EWMA over controller ticks",
        controller.reject_rate,
    )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=float(value))


def install(gateway: Gateway, environ: Mapping[str, str]) -> Backpressure:
    settings = BackpressureSettings.from_env(environ)
    backpressure = Backpressure(gateway, settings)
    extras: dict[str, Any] = gateway.ctx.extras
    extras["admission"] = backpressure.hook()
    gateway.http.state.answer_early(
        "POST", EARLY_PATH, backpressure.early_check(), armed=backpressure.admission.last_refused
    )
    extras["registry"].register(BackpressureCollector(backpressure))
    extras["health_checks"]["backpressure"] = backpressure.health
    extras["stats_sources"].append(backpressure.stats)
    extras["admin_sources"]["backpressure"] = backpressure.admin
    backpressure.start()
    gateway.on_stop.append(backpressure.stop)
    return backpressure
