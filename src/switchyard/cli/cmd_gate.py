"""`switchyard gate --in FILE`: the SLO gate (schema check + thresholds from docs/specs/slo.md).

Exit 0 on PASS or WARN, 1 on FAIL (a critical check failed or the result fails its schema),
2 when the input or the SLO spec cannot be read. `--check-contracts` validates the contracts
and the SLO spec themselves (Gate0).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import jsonschema

from switchyard.sre import documents, paths, slo


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "gate", help="SLO gate for a bench or canary result", description=__doc__
    )
    parser.add_argument("--in", dest="input", type=Path, help="bench or canary result JSON")
    parser.add_argument("--slo", type=Path, help="SLO spec (default docs/specs/slo.md)")
    parser.add_argument("--slo-profile", help="SLO profile (default: the result's own)")
    parser.add_argument("--summary", type=Path, help="also write the Markdown report here")
    parser.add_argument("--report", type=Path, help="write the sloCompliance JSON here")
    parser.add_argument(
        "--annotate", action="store_true", help="write sloCompliance back into the input file"
    )
    parser.add_argument("--no-fail", action="store_true", help="always exit 0 (report only)")
    parser.add_argument(
        "--check-contracts",
        action="store_true",
        help="validate contracts/*.schema.json and the SLO spec, then exit",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    spec_path = args.slo or paths.slo_spec_path()
    if args.check_contracts:
        return check_contracts(spec_path)
    if args.input is None:
        sys.stderr.write("switchyard gate: --in FILE is required\n")
        return 2
    try:
        spec = slo.load_spec(spec_path)
        document = documents.read_document(args.input)
    except (slo.SLOSpecError, documents.DocumentError) as error:
        sys.stderr.write(f"switchyard gate: {error}\n")
        return 2
    problems = [f"schema: {problem}" for problem in documents.schema_errors(document)]
    outcomes: list[slo.Outcome] = []
    profile = args.slo_profile or "-"
    if not problems:
        problems = slo.validity_problems(document)
        profile = args.slo_profile or slo.default_profile(document)
        if profile not in spec:
            sys.stderr.write(f"switchyard gate: no SLO profile {profile!r} in {spec_path}\n")
            return 2
        outcomes = slo.evaluate(document, spec[profile])
    report = slo.markdown(document, outcomes, profile, str(args.input), problems)
    sys.stdout.write(report)
    if args.summary:
        args.summary.write_text(report, encoding="utf-8")
    status = "FAIL" if problems else slo.status_of(outcomes)
    _write_compliance(args, document, outcomes, profile, status)
    return 0 if status != "FAIL" or args.no_fail else 1


def _write_compliance(
    args: argparse.Namespace,
    document: documents.Document,
    outcomes: list[slo.Outcome],
    profile: str,
    status: str,
) -> None:
    block = slo.compliance(outcomes, profile, documents.iso_utc(time.time_ns()))
    block["status"] = status
    if args.report:
        args.report.write_text(json.dumps(block, indent=2) + "\n", encoding="utf-8")
    if args.annotate and outcomes:
        document["sloCompliance"] = block
        documents.write_document(args.input, document)


def check_contracts(spec_path: Path) -> int:
    """Every contract is a valid JSON Schema; the SLO spec parses; exit 1 otherwise."""
    failures = []
    for name in documents.SCHEMA_FILES:
        try:
            schema = documents.load_schema(name)
            jsonschema.Draft202012Validator.check_schema(schema)
        except (OSError, ValueError, jsonschema.SchemaError) as error:
            failures.append(f"{name}: {error}")
    try:
        profiles = slo.load_spec(spec_path)
    except slo.SLOSpecError as error:
        failures.append(str(error))
        profiles = {}
    for failure in failures:
        sys.stderr.write(f"switchyard gate: {failure}\n")
    if not failures:
        sys.stdout.write(
            f"contracts ok: {', '.join(documents.SCHEMA_FILES)}; SLO profiles: "
            f"{', '.join(profiles)}\n"
        )
    return 1 if failures else 0
