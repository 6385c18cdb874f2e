"""`switchyard bench`: run a load profile against a target and write a bench.v1 result.

Owns the run's orchestration (server-side snapshots before and after, reference prices,
tokens, choice of generator, the engine or wrk, the result document, the printed summary)
and the tool-ceiling measurement (how fast the generators go against a constant-202
server). The engine (loadgen), wrk driver, profiles and documents live in their own modules.
"""

import asyncio
import secrets
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from switchyard.sre import documents, loadgen, serverside, tokens, wrk
from switchyard.sre.httpclient import Target
from switchyard.sre.profiles import Profile, iter_offsets_ns
from switchyard.sre.workload import RequestFactory, Rng

TOOL_NAME = "switchyard bench"
GENERATORS = ("python", "wrk", "auto")
AUTO_PYTHON_SHARE_MAX = 0.8  # auto: use wrk when the asked rate exceeds 80% of python's ceiling
CEILING_CONNECTIONS = 64
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True, slots=True)
class BenchRequest:
    """Everything one bench run needs; built by the CLI."""

    target: Target
    profile: Profile
    generator: str
    server_label: str
    secret: tokens.JWTSecret
    rng: Rng
    wall_ns: int
    run_id: str = ""
    interval_sec: float | None = None
    cpu: int | None = None
    wrk_threads: int = 1
    tool_ceiling: dict[str, Any] | None = None
    runner_label: str = "local"


def choose_generator(
    asked: str, profile: Profile, ceiling: dict[str, Any] | None
) -> tuple[str, str]:
    """(generator, why): auto picks wrk only when python's measured ceiling is too low."""
    assert asked in GENERATORS
    if asked != "auto":
        return asked, f"asked for {asked}"
    python = (ceiling or {}).get("python") or {}
    python_max = python.get("openLoopMaxRatePerSec") or python.get("maxRatePerSec")
    if profile.mode == "closed":
        return "wrk", "closed-loop capacity run: wrk has the higher ceiling"
    if python_max is None:
        return "python", "no tool ceiling measured yet: python (open loop) by default"
    if profile.rate_asked_per_sec > AUTO_PYTHON_SHARE_MAX * float(python_max):
        return "wrk", (
            f"asked {profile.rate_asked_per_sec:.0f}/s > {AUTO_PYTHON_SHARE_MAX:.0%} of the python "
            f"generator's ceiling {float(python_max):.0f}/s: wrk (closed loop, not CO-corrected)"
        )
    return "python", f"asked rate within the python generator's ceiling {float(python_max):.0f}/s"


def run_bench(request: BenchRequest) -> documents.Document:
    """Run one bench and return its result document (not yet written)."""
    run_id = request.run_id or f"b{secrets.token_hex(4)}"
    profile = request.profile
    target = request.target
    generator, why = choose_generator(request.generator, profile, request.tool_ceiling)
    pid = serverside.listening_pid(target.port) if target.host in LOOPBACK_HOSTS else None
    before = asyncio.run(serverside.snapshot(target, pid))
    account_tokens = tokens.mint_tokens(
        request.secret,
        tokens.account_ids(profile.accounts),
        request.wall_ns // 1_000_000_000,
        profile.duration_sec,
    )
    prices: dict[str, int] = {}
    if profile.endpoint == "orders":
        any_token = next(iter(account_tokens.values()))
        prices = asyncio.run(
            serverside.reference_prices(target, list(profile.symbol_weights), any_token)
        )
    if generator == "python":
        measured = _run_python(request, account_tokens, run_id, prices)
    else:
        measured = _run_wrk(request, list(account_tokens.values()), run_id, prices)
    after = asyncio.run(serverside.snapshot(target, pid))
    measured["server"] = {
        "label": request.server_label,
        "statsBefore": before.stats,
        "statsAfter": after.stats,
        "counterDeltas": serverside.counter_deltas(before.metrics, after.metrics),
        "resources": serverside.usage_delta(before.usage, after.usage),
    }
    measured["referencePrices"] = {"source": "book" if prices else "defaults", "ticks": prices}
    return _document(request, generator, why, run_id, measured)


def _run_python(
    request: BenchRequest, account_tokens: dict[str, str], run_id: str, prices: dict[str, int]
) -> dict[str, Any]:
    profile = request.profile
    factory = RequestFactory(
        profile,
        account_tokens,
        request.target.host_header,
        run_id,
        request.rng,
        prices,
        request.target.base_path,
    )
    config = loadgen.EngineConfig(
        profile.mode,
        profile.connections,
        profile.duration_sec,
        profile.timeout_sec,
        profile.warmup_sec,
        request.interval_sec,
    )
    schedule: Iterator[int] | None = (
        iter_offsets_ns(profile.phases) if profile.mode == "open" else None
    )
    if request.cpu is not None:
        import os

        os.sched_setaffinity(0, {request.cpu})
    stats = loadgen.run_engine(request.target, factory, config, schedule)
    return python_measurements(stats, profile)


def python_measurements(stats: loadgen.LoadStats, profile: Profile) -> dict[str, Any]:
    """The measured part of a result from the python engine's LoadStats."""
    open_loop = profile.mode == "open"
    # Every scheduled request after warm-up is sent eventually (late, if need be), so the
    # asked rate of the measured window is what was sent over the window's scheduled length.
    window_sec = profile.duration_sec - profile.warmup_sec
    asked_rate = stats.sent / window_sec if open_loop else None
    return {
        "counts": _counts(
            stats.sent,
            stats.completed,
            stats.ok,
            stats.errors,
            stats.dropped,
            stats.warmup,
            stats.cancel_races,
            stats.by_status,
            stats.by_error,
            stats.by_kind,
        ),
        "latencyBasis": "intended-send" if open_loop else "actual-send",
        "latencyUs": stats.latency.summary_us(),
        "serviceTimeUs": stats.service.summary_us(),
        "sendLagUs": stats.send_lag.summary_us() if open_loop else None,
        "rate": _rate(asked_rate, stats.achieved_per_sec),
        "durationSec": round(stats.elapsed_sec, 3),
        "timeline": [sample.describe() for sample in stats.timeline],
    }


def _counts(
    sent: int,
    completed: int,
    ok: int,
    errors: int,
    dropped: int,
    warmup: int,
    races: int,
    by_status: dict[int, int],
    by_error: dict[str, int],
    by_kind: dict[str, int],
) -> dict[str, Any]:
    return {
        "sent": sent,
        "completed": completed,
        "ok": ok,
        "errors": errors,
        "dropped": dropped,
        "warmup": warmup,
        "cancelRaces": races,
        "errorRatePercent": round(errors * 100.0 / sent, 4) if sent else 0.0,
        "byStatus": {str(status): count for status, count in sorted(by_status.items())},
        "byError": dict(sorted(by_error.items())),
        "byKind": dict(sorted(by_kind.items())),
    }


def _rate(asked: float | None, achieved: float) -> dict[str, Any]:
    return {
        "askedPerSec": round(asked, 1) if asked is not None else None,
        "achievedPerSec": round(achieved, 1),
        "achievedRatio": round(achieved / asked, 4) if asked else None,
    }


def _run_wrk(
    request: BenchRequest, token_list: list[str], run_id: str, prices: dict[str, int]
) -> dict[str, Any]:
    profile = request.profile
    script = wrk.render_script(profile, token_list, run_id, prices)
    with tempfile.TemporaryDirectory(prefix="sy-wrk-") as scratch:
        script_path = Path(scratch) / "bench.lua"
        script_path.write_text(script, encoding="utf-8")
        run = wrk.WrkRun(
            request.wrk_threads, profile.connections, profile.duration_sec, profile.timeout_sec
        )
        summary = wrk.run_wrk(request.target.url, script_path, run, request.cpu)
    return wrk_measurements(summary, profile)


def wrk_measurements(summary: dict[str, Any], profile: Profile) -> dict[str, Any]:
    """The measured part of a result from wrk's JSON summary."""
    errors = summary["errors"]
    dropped = (
        int(errors["connect"]) + int(errors["read"]) + int(errors["write"]) + int(errors["timeout"])
    )
    completed = int(summary["requests"])
    by_status = {int(k): int(v) for k, v in summary["statuses"].items()}
    races = int(summary.get("cancelRaces", 0))
    unexpected = sum(v for k, v in by_status.items() if not 200 <= k < 300) - races
    by_error = {str(k): int(v) for k, v in summary["codes"].items()}
    for name in ("connect", "read", "write", "timeout"):
        if int(errors[name]):
            by_error[f"WRK_{name.upper()}"] = int(errors[name])
    duration_sec = int(summary["durationUs"]) / 1e6
    latency = summary["latencyUs"]
    pct = latency["percentiles"]
    return {
        "counts": _counts(
            completed + dropped,
            completed,
            completed - unexpected,
            unexpected + dropped,
            dropped,
            0,
            races,
            by_status,
            by_error,
            {},
        ),
        "latencyBasis": "actual-send",
        "latencyUs": {
            "count": completed,
            "mean": round(float(latency["mean"]), 1),
            "p50": float(pct["p50"]),
            "p90": float(pct["p90"]),
            "p99": float(pct["p99"]),
            "p999": float(pct["p999"]),
            "max": float(latency["max"]),
        },
        "serviceTimeUs": None,
        "sendLagUs": None,
        "rate": _rate(None, completed / duration_sec if duration_sec > 0 else 0.0),
        "durationSec": round(duration_sec, 3),
        "timeline": [],
    }


def _document(
    request: BenchRequest, generator: str, why: str, run_id: str, measured: dict[str, Any]
) -> documents.Document:
    profile = request.profile
    mode = "closed" if generator == "wrk" else profile.mode
    return {
        "schema": documents.BENCH_SCHEMA,
        "tool": {"name": TOOL_NAME, "version": _version()},
        "runId": run_id,
        "generator": generator,
        "generatorReason": why,
        "mode": mode,
        "coordinatedOmissionCorrected": generator == "python" and mode == "open",
        "target": {
            "url": request.target.url,
            "endpoint": "POST /events" if profile.endpoint == "events" else "POST /orders",
            "ackMode": profile.ack_mode,
            "server": request.server_label,
        },
        "profile": profile.describe(),
        **measured,
        "toolCeiling": request.tool_ceiling,
        "machine": documents.machine_info(),
        "git": documents.git_info(),
        "runnerLabel": request.runner_label,
        "timestamp": documents.iso_utc(request.wall_ns),
    }


def _version() -> str:
    import switchyard

    return str(switchyard.__version__)


OPEN_LOOP_RATES = (2_500, 5_000, 10_000, 15_000, 20_000, 30_000, 40_000, 60_000)
# Send lag p90: most requests left on time. p99 of a 2-second step on this shared VM is set by
# the host's hiccups (measured 1-9 ms at any rate), not by the generator's capacity.
OPEN_LOOP_SEND_LAG_P90_US_MAX = 1_000.0
OPEN_LOOP_DELIVERED_MIN = 0.99


def open_loop_holds(document: documents.Document) -> bool:
    """Whether the python generator delivered this open-loop rate on time."""
    lag = document["sendLagUs"]
    return bool(
        document["rate"]["achievedRatio"] is not None
        and document["rate"]["achievedRatio"] >= OPEN_LOOP_DELIVERED_MIN
        and lag is not None
        and lag["p90"] <= OPEN_LOOP_SEND_LAG_P90_US_MAX
        and document["counts"]["errors"] == 0
    )


def open_loop_ceiling(run_at: Callable[[float], documents.Document]) -> dict[str, Any]:
    """The highest scheduled rate the python generator keeps (rates tried in order)."""
    held = 0.0
    tried = []
    for rate in OPEN_LOOP_RATES:
        document = run_at(rate)
        ok = open_loop_holds(document)
        lag = document["sendLagUs"] or {}
        tried.append(
            {
                "ratePerSec": rate,
                "held": ok,
                "sendLagP90Us": lag.get("p90"),
                "sendLagP99Us": lag.get("p99"),
                "achievedRatio": document["rate"]["achievedRatio"],
            }
        )
        if not ok:
            break
        held = float(rate)
    return {
        "openLoopMaxRatePerSec": held,
        "openLoopCriterion": f"achieved >= {OPEN_LOOP_DELIVERED_MIN:.0%} of asked, send lag "
        f"p90 <= {OPEN_LOOP_SEND_LAG_P90_US_MAX:g} µs, no errors",
        "openLoopTried": tried,
    }


def ceiling_block(
    python_doc: documents.Document, wrk_doc: documents.Document | None, server: str
) -> dict[str, Any]:
    """The `toolCeiling` block: each generator's max rate against a constant-202 server."""

    def entry(doc: documents.Document) -> dict[str, Any]:
        return {
            "maxRatePerSec": doc["rate"]["achievedPerSec"],
            "connections": doc["profile"]["connections"],
            "p50Us": doc["latencyUs"]["p50"],
            "p99Us": doc["latencyUs"]["p99"],
            "measuredAt": doc["timestamp"],
        }

    return {
        "server": server,
        "python": entry(python_doc),
        "wrk": entry(wrk_doc) if wrk_doc is not None else None,
        "gitRev": python_doc["git"]["rev"],
    }


def read_ceiling(path: Path) -> dict[str, Any] | None:
    """The toolCeiling block of a stored tool-ceiling result, with where it came from."""
    if not path.exists():
        return None
    try:
        document = documents.read_document(path)
    except documents.DocumentError:
        return None
    block = document.get("toolCeiling")
    if not isinstance(block, dict):
        return None
    return {**block, "source": str(path)}


def summary_text(document: documents.Document) -> str:
    """A few lines for the terminal: what ran, how fast, how slow, what failed."""
    counts = document["counts"]
    latency = document["latencyUs"]
    rate = document["rate"]
    asked = rate["askedPerSec"]
    lines = [
        f"bench {document['profile']['name']} → {document['target']['url']} "
        f"({document['target']['endpoint']}, ack={document['target']['ackMode']}, "
        f"server={document['target']['server']})",
        f"  generator {document['generator']} ({document['mode']} loop; "
        f"{document['generatorReason']})",
        f"  rate asked {asked if asked is not None else '-'}/s achieved "
        f"{rate['achievedPerSec']}/s over {document['durationSec']} s",
        f"  requests sent {counts['sent']} ok {counts['ok']} errors {counts['errors']} "
        f"dropped {counts['dropped']} ({counts['errorRatePercent']}% errors)",
        f"  latency µs ({document['latencyBasis']}): p50 {latency['p50']} p90 {latency['p90']} "
        f"p99 {latency['p99']} p99.9 {latency['p999']} max {latency['max']}",
    ]
    if document.get("sendLagUs"):
        lag = document["sendLagUs"]
        lines.append(f"  generator send lag µs: p50 {lag['p50']} p99 {lag['p99']} max {lag['max']}")
    if counts["byError"]:
        errors = ", ".join(f"{code}={n}" for code, n in counts["byError"].items())
        lines.append(f"  errors by code: {errors}")
    ceiling = document.get("toolCeiling")
    if ceiling and ceiling.get("python"):
        wrk_part = ceiling.get("wrk") or {}
        python = ceiling["python"]
        lines.append(
            f"  tool ceiling (vs {ceiling['server']}): python open loop "
            f"{python.get('openLoopMaxRatePerSec', '-')}/s, closed loop "
            f"{python['maxRatePerSec']}/s; wrk {wrk_part.get('maxRatePerSec', '-')}/s"
        )
    else:
        lines.append("  tool ceiling: not measured (make bench-tool-ceiling)")
    resources = document["server"]["resources"]
    if resources.get("source") == "proc":
        lines.append(
            f"  server cpu {resources['cpuSeconds']} s, storage writes "
            f"{resources['storageWriteBytes']} B"
        )
    return "\n".join(lines) + "\n"
