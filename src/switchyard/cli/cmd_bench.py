"""`switchyard bench`: drive load at the gateway from a profile and write a bench.v1 result.

Thin: parses flags, supplies the wall clock and the seeded PRNG, optionally spawns the server,
and calls `switchyard.sre.bench`. See docs/SRE.md for the method and the flags.
"""

import argparse
import contextlib
import os
import random
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from switchyard.sre import bench, documents, paths, profiles, runner, settings, spawn, tokens
from switchyard.sre.httpclient import Target

DEFAULT_URL = "http://127.0.0.1:8080"
SPAWN_CHOICES = ("standin-constant", "standin-gateway", "gateway")
CEILING_DURATION_SEC = 5.0
OPEN_LOOP_STEP_SEC = 2.0  # each open-loop rate tried while searching the python ceiling


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "bench",
        help="load generator: run a profile, write a bench.v1 result",
        description=__doc__,
    )
    parser.add_argument("--url", default=DEFAULT_URL, help="gateway base URL (default %(default)s)")
    parser.add_argument("--profile", default="steady", help="name under bench/profiles or a path")
    parser.add_argument("--rate", type=float, help="override: constant rate, requests/s")
    parser.add_argument("--duration", type=float, help="override: run length, seconds")
    parser.add_argument("--connections", type=int, help="override: keep-alive connections")
    parser.add_argument("--mode", choices=profiles.LOAD_MODES, help="override: open or closed loop")
    parser.add_argument("--ack", choices=profiles.ACK_MODES, help="override: fast or durable ack")
    parser.add_argument("--accounts", type=int, help="override: number of accounts (one JWT each)")
    parser.add_argument("--warmup", type=float, help="override: warm-up seconds (not measured)")
    parser.add_argument("--generator", choices=bench.GENERATORS, default="auto")
    parser.add_argument("--seed", type=int, help="override the profile's PRNG seed")
    parser.add_argument("--interval-sec", type=float, help="record a timeline at this interval")
    parser.add_argument("--cpu", type=int, help="pin the generator to this CPU")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--out", type=Path, help="result file (default bench/results/...)")
    parser.add_argument("--server-label", default="gateway", help="what the target is")
    parser.add_argument("--spawn", choices=SPAWN_CHOICES, help="start the server for this run")
    parser.add_argument("--server-cpu", type=int, help="pin a spawned server to this CPU")
    parser.add_argument("--ceiling-file", type=Path, help="tool ceiling to report next to results")
    parser.add_argument(
        "--tool-ceiling",
        action="store_true",
        help="measure the generators' ceiling against a constant-202 server",
    )
    parser.add_argument(
        "--ceiling-step-sec",
        type=float,
        default=OPEN_LOOP_STEP_SEC,
        help="--tool-ceiling: length of each open-loop rate step (default %(default)s)",
    )
    parser.add_argument("--jwt-secret-file", type=Path, help="HS256 secret (default: see docs)")
    parser.add_argument("--data-dir", help="gateway data dir (for the dev JWT secret)")
    parser.add_argument("--runner-label", help="machine label (default RUNNER_LABEL or local)")
    parser.add_argument("--quiet", action="store_true", help="no summary on stdout")
    parser.set_defaults(func=run)


def _profile(args: argparse.Namespace) -> profiles.Profile:
    profile = profiles.load_profile(args.profile)
    return profile.with_overrides(
        rate_per_sec=args.rate,
        duration_sec=args.duration,
        connections=args.connections,
        mode=args.mode,
        ack_mode=args.ack,
        accounts=args.accounts,
        warmup_sec=args.warmup,
    )


def run(args: argparse.Namespace) -> int:
    try:
        profile = _profile(args)
    except profiles.ProfileError as error:
        sys.stderr.write(f"switchyard bench: {error}\n")
        return 2
    if args.seed is not None:
        profile = replace(profile, seed=args.seed)
    if args.tool_ceiling:
        return _tool_ceiling(args)
    with contextlib.ExitStack() as stack:
        try:
            target, label, secret = _target(args, stack)
        except (spawn.SpawnError, tokens.SecretError, ValueError) as error:
            sys.stderr.write(f"switchyard bench: {error}\n")
            return 2
        return _bench(args, profile, target, label, secret)


def _target(
    args: argparse.Namespace, stack: contextlib.ExitStack
) -> tuple[Target, str, tokens.JWTSecret]:
    data_dir = settings.data_dir(os.environ, args.data_dir)
    if args.spawn in ("standin-constant", "standin-gateway"):
        secret_file = args.jwt_secret_file or _scratch_secret(stack)
        mode = "constant" if args.spawn == "standin-constant" else "gateway"
        # An explicit --url fixes the port (a sampler may be watching it); else a free one.
        port = Target.from_url(args.url).port if args.url != DEFAULT_URL else 0
        spawned = stack.enter_context(spawn.standin(mode, args.server_cpu, secret_file, port=port))
        return (
            spawned.target,
            spawned.label,
            tokens.resolve_secret(os.environ, data_dir, secret_file),
        )
    if args.spawn == "gateway":
        port = Target.from_url(args.url).port
        spawned = stack.enter_context(spawn.gateway(port, args.server_cpu))
        assert spawned.data_dir is not None
        secret = tokens.resolve_secret(os.environ, spawned.data_dir, args.jwt_secret_file)
        return spawned.target, spawned.label, secret
    secret = tokens.resolve_secret(os.environ, data_dir, args.jwt_secret_file)
    return Target.from_url(args.url), args.server_label, secret


def _scratch_secret(stack: contextlib.ExitStack) -> Path:
    scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sy-secret-")))
    path = scratch / "jwt-hs256.key"
    path.write_bytes(os.urandom(32).hex().encode())
    path.chmod(0o600)
    return path


def _bench(
    args: argparse.Namespace,
    profile: profiles.Profile,
    target: Target,
    label: str,
    secret: tokens.JWTSecret,
) -> int:
    ceiling_path = args.ceiling_file or paths.results_dir() / "tool-ceiling.json"
    wall_ns = time.time_ns()
    request = bench.BenchRequest(
        target=target,
        profile=profile,
        generator=args.generator,
        server_label=label,
        secret=secret,
        rng=random.Random(profile.seed),
        wall_ns=wall_ns,
        interval_sec=args.interval_sec,
        cpu=args.cpu,
        wrk_threads=args.wrk_threads,
        tool_ceiling=bench.read_ceiling(ceiling_path),
        runner_label=runner.runner_label(os.environ, args.runner_label),
    )
    try:
        document = bench.run_bench(request)
    except Exception as error:  # noqa: BLE001 - CLI edge: report any failure once, exit 1
        sys.stderr.write(f"switchyard bench: run failed: {type(error).__name__}: {error}\n")
        return 1
    out = args.out or paths.results_dir() / (
        f"bench-{profile.name}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(wall_ns / 1e9))}.json"
    )
    return _finish(document, out, args.quiet)


def _finish(document: documents.Document, out: Path, quiet: bool) -> int:
    problems = documents.schema_errors(document)
    documents.write_document(out, document)
    if not quiet:
        sys.stdout.write(bench.summary_text(document))
        sys.stdout.write(f"  result: {out}\n")
    if problems:
        sys.stderr.write("switchyard bench: result does not match its schema:\n")
        sys.stderr.writelines(f"  {problem}\n" for problem in problems)
        return 1
    return 0


def _tool_ceiling(args: argparse.Namespace) -> int:
    """Both generators at full speed against the constant-202 server, pinned apart, then the
    python generator's open-loop ceiling (the highest scheduled rate it delivers on time)."""
    duration = args.duration or CEILING_DURATION_SEC
    connections = args.connections or bench.CEILING_CONNECTIONS
    server_cpu = args.server_cpu if args.server_cpu is not None else 0
    generator_cpu = args.cpu if args.cpu is not None else (1 if (os.cpu_count() or 1) > 1 else None)
    base = profiles.load_profile("steady").with_overrides(
        duration_sec=duration, connections=connections, mode="closed", warmup_sec=0.5
    )
    # Orders only: the constant server answers POST /orders, and cancels would measure 404s.
    base = replace(base, cancel_ratio=0.0)
    label = runner.runner_label(os.environ, args.runner_label)
    with contextlib.ExitStack() as stack:
        secret_file = _scratch_secret(stack)
        spawned = stack.enter_context(spawn.constant_server(server_cpu))
        secret = tokens.resolve_secret(os.environ, Path("."), secret_file)

        def run_one(profile: profiles.Profile, generator: str) -> documents.Document:
            return bench.run_bench(
                bench.BenchRequest(
                    target=spawned.target,
                    profile=profile,
                    generator=generator,
                    server_label=spawned.label,
                    secret=secret,
                    rng=random.Random(profile.seed),
                    wall_ns=time.time_ns(),
                    cpu=generator_cpu,
                    runner_label=label,
                )
            )

        docs = {generator: run_one(base, generator) for generator in ("python", "wrk")}
        open_loop = bench.open_loop_ceiling(
            lambda rate: run_one(
                base.with_overrides(
                    rate_per_sec=rate,
                    duration_sec=args.ceiling_step_sec,
                    mode="open",
                    warmup_sec=0.2,
                ),
                "python",
            )
        )
    document = docs["python"]
    document["toolCeiling"] = bench.ceiling_block(document, docs["wrk"], spawned.label)
    document["toolCeiling"]["python"].update(open_loop)
    out = args.out or paths.results_dir() / "tool-ceiling.json"
    return _finish(document, out, args.quiet)
