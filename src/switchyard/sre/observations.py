"""What the tuner and the cost guard know about a run, gathered from its result documents and
from server snapshots (/stats JSON or /metrics text), under one set of names.

The gateway's /stats and /metrics names are matched by normalised candidates (lower case,
letters and digits only), so `wal.fdatasync.p99_us`, `walFdatasyncP99Us` and
`wal_fdatasync_p99_us` are the same thing; the candidates are listed in one table below and
in docs/SRE.md. Prometheus histograms give percentiles from their buckets.
"""

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from switchyard.sre import documents

# observation -> normalised /stats keys that carry it (first match wins)
STATS_CANDIDATES: dict[str, tuple[str, ...]] = {
    "fsync_p99_us": ("walfdatasyncp99us", "fdatasyncp99us", "auditfdatasyncp99us", "walfsyncp99us"),
    "fsync_p50_us": ("walfdatasyncp50us", "fdatasyncp50us", "auditfdatasyncp50us"),
    "batch_records_mean": ("walbatchrecordsmean", "walbatchmean", "walbatchsizemean"),
    "durable_ack_p99_us": ("durableackp99us", "gatewaydurableackp99us", "walduracklatencyp99us"),
    "server_ack_p99_us": ("gatewayackp99us", "ackp99us", "serverackp99us"),
    "inflight": ("inflight", "gatewayinflight", "durableinflight"),
    "wal_age_ms": ("walagems", "gatewaywalagems"),
    "disk_free_pct": ("diskfreepct", "waldiskfreepct"),
    "sse_dropped": ("ssesubscribersdropped", "ssedropped", "ssesubscriberdropstotal"),
}
# observation -> (metric family name patterns); histograms give quantiles, counters totals
METRIC_HISTOGRAMS: dict[str, tuple[str, float]] = {
    "fsync_p99_us": (r"(wal|audit).*f(data)?sync.*seconds$", 0.99),
    "fsync_p50_us": (r"(wal|audit).*f(data)?sync.*seconds$", 0.50),
    "durable_ack_p99_us": (r"durable.*ack.*seconds$", 0.99),
}
BATCH_HISTOGRAM = r"(wal|audit).*batch.*(records|size)$"
CPU_COUNTER = "process_cpu_seconds_total"
WAL_RECORDS_COUNTER = "switchyard_wal_records_total"  # records / commits = mean batch size
WAL_COMMITS_COUNTER = "switchyard_wal_commits_total"
STORAGE_BYTE_COUNTERS = (r"wal.*(bytes_written|written_bytes|write_bytes|bytes)_total$",)
KAFKA_BYTE_COUNTERS = (r"(kafka|outbox).*(bytes|byte)_total$",)
BACKPRESSURE_CODES = (
    "BACKPRESSURE_INFLIGHT",
    "BACKPRESSURE_INFLIGHT_SOFT",
    "BACKPRESSURE_DURABLE_RATE_DECLINE",
    "BACKPRESSURE_WAL_BYTES",
    "BACKPRESSURE_WAL_AGE",
    "BACKPRESSURE_SOFT_WAL_AGE",
    "BACKPRESSURE_DISK_FREE",
    "QUEUE_REJECT",
)


def normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def flatten(value: Any, prefix: str = "") -> dict[str, float]:
    """Nested JSON → {normalised dotted key: number}; non-numbers are left out."""
    flat: dict[str, float] = {}
    if isinstance(value, Mapping):
        for key, item in value.items():
            flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        flat[normalise(prefix)] = float(value)
    return flat


@dataclass(slots=True)
class Observations:
    """One run, as the tuner and the cost guard see it. None = not measured."""

    source: list[str] = field(default_factory=list)
    kind: str = ""  # bench | canary | snapshot
    ack_mode: str = "fast"
    asked_per_sec: float | None = None
    achieved_per_sec: float | None = None
    latency_p50_us: float | None = None
    latency_p99_us: float | None = None
    latency_p999_us: float | None = None
    sent: int = 0
    ok: int = 0
    dropped: int = 0
    errors_by_code: dict[str, int] = field(default_factory=dict)
    duration_sec: float | None = None
    cpu_seconds: float | None = None
    storage_bytes: int | None = None
    storage_source: str = "not measured"
    kafka_bytes: int | None = None
    stats: dict[str, float] = field(default_factory=dict)  # observation name -> value

    def refusals(self, code: str) -> int:
        return self.errors_by_code.get(code, 0)


def from_document(document: Mapping[str, Any], source: str) -> Observations:
    """Observations of a bench or canary result (server snapshots included)."""
    obs = Observations(source=[source])
    latency = document["latencyUs"]
    obs.latency_p50_us, obs.latency_p99_us = latency["p50"], latency["p99"]
    obs.latency_p999_us = latency["p999"]
    obs.duration_sec = float(document["durationSec"])
    server = document.get("server", {})
    if document["schema"] == documents.BENCH_SCHEMA:
        _from_bench(obs, document)
    else:
        _from_canary(obs, document)
    after = server.get("statsAfter") or {}
    obs.stats.update(observe_stats(after))
    _resources(obs, server.get("resources") or {}, server.get("counterDeltas") or {})
    _wal_batches(obs, server.get("counterDeltas") or {})
    return obs


def _from_bench(obs: Observations, document: Mapping[str, Any]) -> None:
    counts = document["counts"]
    obs.kind = "bench"
    obs.ack_mode = document["target"]["ackMode"]
    obs.asked_per_sec = document["rate"]["askedPerSec"]
    obs.achieved_per_sec = document["rate"]["achievedPerSec"]
    obs.sent, obs.ok, obs.dropped = counts["sent"], counts["ok"], counts["dropped"]
    obs.errors_by_code = dict(counts["byError"])


def _from_canary(obs: Observations, document: Mapping[str, Any]) -> None:
    obs.kind = "canary"
    obs.achieved_per_sec = document["throughputPerSec"]
    obs.dropped = document["dropped"]
    for part in ("events", "orders"):
        tally = document[part]
        obs.sent += tally["sent"]
        obs.ok += tally["ok"]
        for code, count in tally["byError"].items():
            obs.errors_by_code[code] = obs.errors_by_code.get(code, 0) + count


def _resources(
    obs: Observations, resources: Mapping[str, Any], deltas: Mapping[str, float]
) -> None:
    if resources.get("source") == "proc":
        obs.cpu_seconds = float(resources["cpuSeconds"])
    elif CPU_COUNTER in deltas:
        obs.cpu_seconds = float(deltas[CPU_COUNTER])
    # Retained bytes are what storage costs. The WAL's own byte counter says exactly how many
    # were appended; the device write counter of /proc includes the filesystem's write
    # amplification (journal, whole pages per fdatasync) and is only an upper bound.
    storage = _sum_matching(deltas, STORAGE_BYTE_COUNTERS)
    if storage is not None:
        obs.storage_bytes, obs.storage_source = int(storage), "WAL byte counter (/metrics)"
    elif resources.get("source") == "proc":
        obs.storage_bytes = int(resources["storageWriteBytes"])
        obs.storage_source = "device writes of the server processes (upper bound)"
    kafka = _sum_matching(deltas, KAFKA_BYTE_COUNTERS)
    if kafka is not None:
        obs.kafka_bytes = int(kafka)


def _wal_batches(obs: Observations, deltas: Mapping[str, float]) -> None:
    """Mean records per fdatasync over the run, from the WAL's record and commit counters."""
    records = deltas.get(WAL_RECORDS_COUNTER)
    commits = deltas.get(WAL_COMMITS_COUNTER)
    if records and commits:
        obs.stats.setdefault("batch_records_mean", round(records / commits, 2))


def _sum_matching(deltas: Mapping[str, float], patterns: Iterable[str]) -> float | None:
    total = None
    for name, value in deltas.items():
        base = name.split("{", 1)[0]
        if any(re.search(pattern, base) for pattern in patterns):
            total = (total or 0.0) + value
    return total


def observe_stats(stats: Mapping[str, Any]) -> dict[str, float]:
    """Known observations found in a /stats JSON object."""
    flat = flatten(stats)
    found: dict[str, float] = {}
    for name, candidates in STATS_CANDIDATES.items():
        for key, value in flat.items():
            if any(key == c or key.endswith(c) for c in candidates):
                found[name] = value
                break
    return found


def observe_metrics(text: str) -> tuple[dict[str, float], dict[str, int]]:
    """(observations, backpressure refusals by reason) from Prometheus exposition text."""
    found: dict[str, float] = {}
    refusals: dict[str, int] = {}
    for family in text_string_to_metric_families(text):
        if family.type == "histogram":
            _histogram_observations(family, found)
        for sample in family.samples:
            reason = sample.labels.get("reason") or sample.labels.get("code")
            if reason in BACKPRESSURE_CODES and sample.name.endswith("_total"):
                refusals[reason] = refusals.get(reason, 0) + int(sample.value)
    return found, refusals


def _histogram_observations(family: Any, found: dict[str, float]) -> None:
    buckets = sorted(
        (float(s.labels["le"]), float(s.value))
        for s in family.samples
        if s.name.endswith("_bucket")
    )
    total = next((float(s.value) for s in family.samples if s.name.endswith("_count")), 0.0)
    summed = next((float(s.value) for s in family.samples if s.name.endswith("_sum")), 0.0)
    for name, (pattern, quantile) in METRIC_HISTOGRAMS.items():
        if re.search(pattern, family.name) and total > 0:
            found.setdefault(name, round(bucket_quantile(buckets, quantile) * 1e6, 1))
    if re.search(BATCH_HISTOGRAM, family.name) and total > 0:
        found.setdefault("batch_records_mean", round(summed / total, 2))


def bucket_quantile(buckets: list[tuple[float, float]], quantile: float) -> float:
    """Prometheus' histogram_quantile: linear interpolation inside the bucket holding q."""
    assert 0 < quantile < 1
    if not buckets or buckets[-1][1] <= 0:
        return math.nan
    rank = quantile * buckets[-1][1]
    previous_bound, previous_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return previous_bound  # the +Inf bucket: the highest finite bound is our answer
            width = count - previous_count
            fraction = (rank - previous_count) / width if width > 0 else 1.0
            return previous_bound + (bound - previous_bound) * fraction
        previous_bound, previous_count = bound, count
    return previous_bound
