"""`switchyard perf-gate --in FILE`: compare a bench result with this runner's baseline.

Exit 1 on a regression beyond the tolerance, or when there is no baseline for the case
(unless --missing-ok); `--bless` promotes the result to the baseline instead (refused for a
failing or dirty-tree run unless --force). Baselines: bench/baselines/<RUNNER_LABEL>.json.
"""

import argparse
import os
import sys
import time
from pathlib import Path

from switchyard.sre import documents, paths, perf_gate, runner


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "perf-gate", help="compare a bench result with the stored baseline", description=__doc__
    )
    parser.add_argument("--in", dest="input", type=Path, required=True, help="bench result")
    parser.add_argument("--baselines", type=Path, help="baseline dir (default bench/baselines)")
    parser.add_argument("--runner-label", help="default RUNNER_LABEL or local")
    parser.add_argument(
        "--tolerance",
        type=float,
        default=perf_gate.TOLERANCE_DEFAULT,
        help="allowed relative regression (default %(default)s)",
    )
    parser.add_argument("--missing-ok", action="store_true", help="no baseline is not a failure")
    parser.add_argument("--bless", action="store_true", help="promote the result to the baseline")
    parser.add_argument("--force", action="store_true", help="bless even a failing/dirty run")
    parser.add_argument("--summary", type=Path, help="also write the Markdown report here")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.tolerance < 1:
        sys.stderr.write("switchyard perf-gate: --tolerance must be in [0, 1)\n")
        return 2
    label = runner.runner_label(os.environ, args.runner_label)
    path = perf_gate.baseline_path(args.baselines or paths.baselines_dir(), label)
    try:
        document = documents.read_document(args.input)
        if document.get("schema") != documents.BENCH_SCHEMA:
            raise documents.DocumentError(f"{args.input}: not a bench result")
        baselines = perf_gate.load_baselines(path)
    except (documents.DocumentError, perf_gate.BaselineError) as error:
        sys.stderr.write(f"switchyard perf-gate: {error}\n")
        return 2
    if args.bless:
        return _bless(args, document, path)
    problems = documents.schema_errors(document)
    if problems:
        sys.stderr.write(f"switchyard perf-gate: {args.input} fails its schema: {problems[0]}\n")
        return 1
    key = perf_gate.case_key(document)
    baseline = baselines["cases"].get(key)
    if baseline is None:
        sys.stdout.write(
            f"perf-gate: no baseline for case {key} in {path}; "
            f"bless one with `make bless IN={args.input}`\n"
        )
        return 0 if args.missing_ok else 1
    comparisons = perf_gate.compare(document, baseline, args.tolerance)
    text = perf_gate.report(
        key, comparisons, args.tolerance, label, perf_gate.context_notes(document, baseline)
    )
    sys.stdout.write(text)
    if args.summary:
        args.summary.write_text(text, encoding="utf-8")
    return 1 if any(c.regressed for c in comparisons) else 0


def _bless(args: argparse.Namespace, document: documents.Document, path: Path) -> int:
    problems = perf_gate.bless_problems(document)
    if problems and not args.force:
        sys.stderr.write("switchyard perf-gate: refusing to bless (use --force to insist):\n")
        sys.stderr.writelines(f"  {problem}\n" for problem in problems)
        return 1
    key = perf_gate.bless(path, document, str(args.input), documents.iso_utc(time.time_ns()))
    sys.stdout.write(f"blessed {args.input} as the baseline of case {key} in {path}\n")
    return 0
