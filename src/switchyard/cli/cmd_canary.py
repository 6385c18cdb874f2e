"""`switchyard canary --url URL --events N --out FILE`: quick end-to-end check of a gateway.

Thin: parses flags (the seed's), supplies the clock, PRNG and a Bearer token (the gateway
authenticates /events and /orders; JWT_HS256_SECRET or the data dir's dev secret), and calls
`switchyard.sre.canary`. Exit 0 when the canary passed, 1 when it failed, 2 on bad use.
"""

import argparse
import os
import random
import sys
import time
from pathlib import Path

from switchyard.sre import canary, documents, runner, settings, tokens
from switchyard.sre.httpclient import Target
from switchyard.sre.profiles import DEFAULT_SYMBOLS


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "canary", help="health check, N events, stats: a canary_result.v1 JSON", description=__doc__
    )
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--events", type=int, default=1000, help="events to POST (default 1000)")
    parser.add_argument("--keys", default=",".join(DEFAULT_SYMBOLS), help="comma-separated keys")
    parser.add_argument("--orders", type=int, default=0, help="also place N resting orders")
    parser.add_argument("--account", default="canary", help="account of the canary's token")
    parser.add_argument(
        "--no-auth",
        action="store_true",
        help="send events without a Bearer token (seed-style ingestion)",
    )
    parser.add_argument("--out", type=Path, required=True, help="result file")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jwt-secret-file", type=Path)
    parser.add_argument("--data-dir")
    parser.add_argument("--runner-label")
    parser.add_argument("--quiet", action="store_true")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    keys = tuple(key.strip() for key in args.keys.split(",") if key.strip())
    if not keys or args.events < 0 or args.orders < 0:
        sys.stderr.write("switchyard canary: need at least one key and non-negative counts\n")
        return 2
    wall_ns = time.time_ns()
    token = None
    if args.orders or not args.no_auth:
        try:
            secret = tokens.resolve_secret(
                os.environ, settings.data_dir(os.environ, args.data_dir), args.jwt_secret_file
            )
        except tokens.SecretError as error:
            sys.stderr.write(f"switchyard canary: {error} (--no-auth sends events without one)\n")
            return 2
        token = tokens.mint_token(secret, args.account, wall_ns // 1_000_000_000, 600)
    try:
        target = Target.from_url(args.url)
    except ValueError as error:
        sys.stderr.write(f"switchyard canary: {error}\n")
        return 2
    request = canary.CanaryRequest(
        target=target,
        events=args.events,
        keys=keys,
        rng=random.Random(args.seed),
        wall_ns=wall_ns,
        orders=args.orders,
        token=token,
        runner_label=runner.runner_label(os.environ, args.runner_label),
    )
    document = canary.run_canary(request)
    problems = documents.schema_errors(document)
    documents.write_document(args.out, document)
    if not args.quiet:
        sys.stdout.write(canary.summary_text(document))
        sys.stdout.write(f"  result: {args.out}\n")
    if problems:
        sys.stderr.writelines(f"switchyard canary: schema: {problem}\n" for problem in problems)
        return 1
    return 0 if document["passed"] else 1
