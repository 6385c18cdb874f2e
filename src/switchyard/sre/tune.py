"""`switchyard tune`: recommend WAL group-commit, inflight and backpressure settings from
measured runs, each with a priority (CRITICAL, WARNING, INFO) and the reason in numbers.

The rules are the queueing arithmetic behind the gateway's knobs (DESIGN.md §3-4, issue 11):
- inflight: Little's law, orders not yet durable ≈ durable rate x time to durability
  (fdatasync + group-commit wait); a static BACKPRESSURE_INFLIGHT_MAX at about twice that
  sheds overload as a fast 503 instead of letting latency and memory grow;
- group commit: a batch closes at AUDIT_FDATASYNC_MAX_BATCH records or MAX_WAIT_US; batches
  that always fill want a larger batch, batches that never fill while acks wait want a
  shorter wait; a disk busy in fdatasync most of each second is the capacity limit;
- WAL-age limits below a few fsync times refuse healthy traffic;
- the seed's rate-decline rule latches when BETA > 1 - DECLINE_RATIO (reference §10.2).
Recommendations are advice for a human: the tuner never changes a running gateway.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass

from switchyard.core import env, limits
from switchyard.sre.observations import Observations

PRIORITIES = ("CRITICAL", "WARNING", "INFO")
SLO_LATENCY_P99_US = 1000.0  # docs/specs/slo.md, profile strict
INFLIGHT_FLOOR = 256  # the seed's BACKPRESSURE_INFLIGHT_MIN: never advise a smaller cap
DISK_BUSY_RATIO_MAX = 0.8  # fdatasync seconds per wall second above which the disk is the limit
BATCH_FULL_RATIO = 0.9  # mean batch >= 90% of the max: batches close on size
BATCH_SPARSE_RATIO = 0.25  # mean batch <= 25% of the max: batches close on time


@dataclass(frozen=True, slots=True)
class Recommendation:
    priority: str
    parameter: str
    current: str
    recommended: str
    reason: str

    def row(self) -> list[str]:
        return [self.priority, self.parameter, self.current, self.recommended, self.reason]


def setting_default(name: str, fallback: str) -> str:
    """The default of a gateway setting as its owner declared it (fallback when not loaded)."""
    declared = env.REGISTRY.get(name)
    return declared.default if declared is not None else fallback


def current_settings(overrides: Mapping[str, str]) -> dict[str, str]:
    """The gateway's settings as the tuner assumes them: declared defaults, then overrides."""
    settings = {
        "AUDIT_FDATASYNC_MAX_BATCH": setting_default("AUDIT_FDATASYNC_MAX_BATCH", "64"),
        "AUDIT_FDATASYNC_MAX_WAIT_US": setting_default("AUDIT_FDATASYNC_MAX_WAIT_US", "200"),
    }
    settings.update(overrides)
    return settings


def _power_of_two_at_least(value: float) -> int:
    return 1 << max(math.ceil(math.log2(max(value, 1.0))), 0)


def recommend(obs: Observations, settings: Mapping[str, str]) -> list[Recommendation]:
    """Every recommendation for this run, most urgent first."""
    found: list[Recommendation] = []
    for rule in (
        _drops,
        _queue_reject,
        _disk_free,
        _inflight,
        _wal_age,
        _group_commit,
        _rate_decline,
        _dynamic,
    ):
        found.extend(rule(obs, settings))
    if not found:
        found.append(
            Recommendation(
                "INFO",
                "(none)",
                "-",
                "-",
                f"no limit was hit and nothing was lost over {obs.sent} requests "
                f"(p99 {obs.latency_p99_us} µs): keep the current settings",
            )
        )
    return sorted(found, key=lambda r: PRIORITIES.index(r.priority))


def _time_to_durable_us(obs: Observations, settings: Mapping[str, str]) -> float | None:
    fsync = obs.stats.get("fsync_p99_us")
    if fsync is None:
        return obs.stats.get("durable_ack_p99_us")
    return fsync + float(settings["AUDIT_FDATASYNC_MAX_WAIT_US"])


def little_inflight(obs: Observations, settings: Mapping[str, str]) -> int | None:
    """2 x rate x time-to-durable, as a power of two, at least INFLIGHT_FLOOR."""
    rate = obs.achieved_per_sec
    durable_us = _time_to_durable_us(obs, settings)
    if not rate or durable_us is None:
        return None
    return max(_power_of_two_at_least(2 * rate * durable_us / 1e6), INFLIGHT_FLOOR)


def _drops(obs: Observations, settings: Mapping[str, str]) -> list[Recommendation]:
    if obs.dropped == 0:
        return []
    cap = little_inflight(obs, settings)
    current = settings.get("BACKPRESSURE_INFLIGHT_MAX", "unset")
    advice = str(cap) if cap else "2 x rate x fsync p99 (measure fsync: /stats)"
    return [
        Recommendation(
            "CRITICAL",
            "BACKPRESSURE_INFLIGHT_MAX",
            current,
            advice,
            f"{obs.dropped} of {obs.sent} requests got no answer (timeouts/resets): overload must "
            "be refused fast (503 + Retry-After), not queued until clients give up",
        )
    ]


def _queue_reject(obs: Observations, settings: Mapping[str, str]) -> list[Recommendation]:
    count = obs.refusals("QUEUE_REJECT")
    if not count:
        return []
    return [
        Recommendation(
            "CRITICAL",
            "offered load / OWNED_KEYS",
            f"{obs.asked_per_sec or obs.achieved_per_sec}/s",
            "lower the rate per engine or split keys across engines",
            f"{count} QUEUE_REJECT answers: the sequencer inbox or venue queue "
            f"(SEQUENCER_INBOX_MAX={limits.SEQUENCER_INBOX_MAX}) filled; a bigger buffer only "
            "adds latency, the core is saturated",
        )
    ]


def _disk_free(obs: Observations, settings: Mapping[str, str]) -> list[Recommendation]:
    count = obs.refusals("BACKPRESSURE_DISK_FREE")
    if not count:
        return []
    free = obs.stats.get("disk_free_pct")
    return [
        Recommendation(
            "CRITICAL",
            "disk space (WAL volume)",
            f"{free if free is not None else '?'}% free",
            "free or grow the volume; keep BACKPRESSURE_DISK_FREE_PCT_MIN",
            f"{count} orders refused with BACKPRESSURE_DISK_FREE: the guard works, the disk is "
            "nearly full (runbook: docs/runbooks/wal.md, disk full)",
        )
    ]


def _inflight(obs: Observations, settings: Mapping[str, str]) -> list[Recommendation]:
    count = obs.refusals("BACKPRESSURE_INFLIGHT")
    current = settings.get("BACKPRESSURE_INFLIGHT_MAX")
    if not count or current is None:
        return []
    p99 = obs.latency_p99_us or 0.0
    if p99 > SLO_LATENCY_P99_US:
        return [
            Recommendation(
                "INFO",
                "BACKPRESSURE_INFLIGHT_MAX",
                current,
                current,
                f"{count} inflight refusals while p99 {p99} µs exceeds the SLO "
                f"{SLO_LATENCY_P99_US:g} µs: the cap is doing its job; add capacity instead",
            )
        ]
    cap = little_inflight(obs, settings)
    raised = max(cap or 0, 2 * int(current))
    return [
        Recommendation(
            "WARNING",
            "BACKPRESSURE_INFLIGHT_MAX",
            current,
            str(raised),
            f"{count} inflight refusals although p99 {p99} µs is within the SLO: the cap is "
            f"below rate x time-to-durable (Little's law gives {cap or '?'})",
        )
    ]


def _wal_age(obs: Observations, settings: Mapping[str, str]) -> list[Recommendation]:
    fsync = obs.stats.get("fsync_p99_us")
    wait = float(settings["AUDIT_FDATASYNC_MAX_WAIT_US"])
    found = []
    for code, name in (
        ("BACKPRESSURE_SOFT_WAL_AGE", "BACKPRESSURE_SOFT_WAL_AGE_MS_MAX"),
        ("BACKPRESSURE_WAL_AGE", "BACKPRESSURE_WAL_AGE_MS_MAX"),
    ):
        count = obs.refusals(code)
        current = settings.get(name)
        if not count or fsync is None or current is None:
            continue
        floor_ms = (wait + 5 * fsync) / 1000
        if float(current) < floor_ms:
            found.append(
                Recommendation(
                    "WARNING",
                    name,
                    current,
                    f"{math.ceil(floor_ms)}",
                    f"{count} {code} refusals with the limit {current} ms below wait + 5 x fsync "
                    f"p99 ({wait:g} µs + 5 x {fsync:g} µs): healthy batches are refused",
                )
            )
    return found


def _group_commit(obs: Observations, settings: Mapping[str, str]) -> list[Recommendation]:
    fsync = obs.stats.get("fsync_p99_us")
    batch_mean = obs.stats.get("batch_records_mean")
    max_batch = int(settings["AUDIT_FDATASYNC_MAX_BATCH"])
    wait = float(settings["AUDIT_FDATASYNC_MAX_WAIT_US"])
    if fsync is None or batch_mean is None or not obs.achieved_per_sec:
        return []
    fsyncs_per_sec = obs.achieved_per_sec / max(batch_mean, 1.0)
    busy = fsyncs_per_sec * fsync / 1e6
    bigger = str(min(max_batch * 2, limits.WAL_BATCH_RECORDS_MAX))
    if busy >= DISK_BUSY_RATIO_MAX:
        return [
            Recommendation(
                "CRITICAL",
                "AUDIT_FDATASYNC_MAX_BATCH",
                str(max_batch),
                bigger,
                f"the disk spends {busy:.0%} of each second in fdatasync ({fsyncs_per_sec:.0f}/s x "
                f"{fsync:g} µs): more records per fsync is the only way to more durable orders/s",
            )
        ]
    if batch_mean >= BATCH_FULL_RATIO * max_batch:
        return [
            Recommendation(
                "WARNING",
                "AUDIT_FDATASYNC_MAX_BATCH",
                str(max_batch),
                bigger,
                f"batches close on size (mean {batch_mean:g} of {max_batch}): a larger batch "
                "amortises each fdatasync over more orders",
            )
        ]
    durable_p99 = obs.stats.get("durable_ack_p99_us")
    if batch_mean <= BATCH_SPARSE_RATIO * max_batch and wait > fsync and durable_p99 is not None:
        shorter = str(max(int(fsync // 2), 50))
        return [
            Recommendation(
                "WARNING",
                "AUDIT_FDATASYNC_MAX_WAIT_US",
                f"{wait:g}",
                shorter,
                f"batches close on time with few records (mean {batch_mean:g} of {max_batch}) and "
                f"the wait ({wait:g} µs) exceeds an fsync ({fsync:g} µs): durable acks "
                f"(p99 {durable_p99:g} µs) wait for records that do not come",
            )
        ]
    return []


def _rate_decline(obs: Observations, settings: Mapping[str, str]) -> list[Recommendation]:
    beta = settings.get("BACKPRESSURE_INFLIGHT_BETA")
    decline = settings.get("BACKPRESSURE_INFLIGHT_DECLINE_RATIO")
    # The decline test R_new < d * R_old can fire with no traffic at all only when
    # beta > 1 - d (reference §10.2); the epsilon keeps 0.2 vs 1 - 0.8 from tripping on rounding.
    if beta is None or decline is None or float(beta) <= 1 - float(decline) + 1e-9:
        return []
    safe = f"{max(round(1 - float(decline) - 0.05, 2), 0.05)}"
    return [
        Recommendation(
            "CRITICAL",
            "BACKPRESSURE_INFLIGHT_BETA",
            beta,
            safe,
            f"BETA {beta} > 1 - DECLINE_RATIO ({1 - float(decline):g}): after a few idle ticks "
            "the durable-rate-decline rule fires and latches (refused orders commit nothing, so "
            "the rate keeps falling); the seed's bug, reference §10.2",
        )
    ]


def _dynamic(obs: Observations, settings: Mapping[str, str]) -> list[Recommendation]:
    p50, p99 = obs.latency_p50_us or 0.0, obs.latency_p99_us or 0.0
    refused = sum(
        obs.refusals(code) for code in ("BACKPRESSURE_INFLIGHT", "BACKPRESSURE_INFLIGHT_SOFT")
    )
    if settings.get("BACKPRESSURE_INFLIGHT_DYNAMIC") in ("1", "true") or refused:
        return []
    if p50 > 0 and p99 / p50 > 12 and p99 > SLO_LATENCY_P99_US:
        return [
            Recommendation(
                "INFO",
                "BACKPRESSURE_INFLIGHT_DYNAMIC",
                settings.get("BACKPRESSURE_INFLIGHT_DYNAMIC", "0"),
                "1",
                f"tail ratio {p99 / p50:.1f} with p99 {p99:g} µs and no refusals: queues grow "
                "instead of shedding; the adaptive limit keeps the durable backlog near its target",
            )
        ]
    return []


def csv_text(recommendations: list[Recommendation]) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["priority", "parameter", "current_value", "recommended_value", "reason"])
    writer.writerows(r.row() for r in recommendations)
    return buffer.getvalue()


def markdown(recommendations: list[Recommendation], sources: list[str]) -> str:
    lines = [
        "## Backpressure tuner",
        "",
        f"inputs: {', '.join(sources)}",
        "",
        "| priority | parameter | current | recommended | reason |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines.extend(
        f"| {r.priority} | `{r.parameter}` | {r.current} | {r.recommended} | {r.reason} |"
        for r in recommendations
    )
    exports = [
        r
        for r in recommendations
        if r.parameter.isupper()
        and r.parameter.replace("_", "").isalnum()
        and r.recommended.replace(".", "").isdigit()
    ]
    if exports:
        lines += (
            ["", "```sh"] + [f"export {r.parameter}={r.recommended}" for r in exports] + ["```"]
        )
    return "\n".join(lines) + "\n"
