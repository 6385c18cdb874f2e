"""`switchyard cost-guard --in FILE --budget-yen-per-1k X`: cost per 1,000 orders vs a budget.

Exit 0 within budget, 1 over budget, 2 when the input cannot give a cost (no orders, or no
CPU measurement: a zero cost is never reported for real input). Prices are flags.
"""

import argparse
import json
import sys
from pathlib import Path

from switchyard.sre import cost, documents, observations


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "cost-guard",
        help="cost per 1k orders from measured CPU, storage and Kafka bytes",
        description=__doc__,
    )
    parser.add_argument("--in", dest="input", type=Path, required=True, help="bench/canary result")
    parser.add_argument("--budget-yen-per-1k", type=float, required=True)
    parser.add_argument("--yen-per-vcpu-hour", type=float, default=cost.DEFAULT_YEN_PER_VCPU_HOUR)
    parser.add_argument("--yen-per-gib-month", type=float, default=cost.DEFAULT_YEN_PER_GIB_MONTH)
    parser.add_argument("--retention-months", type=float, default=cost.DEFAULT_RETENTION_MONTHS)
    parser.add_argument("--yen-per-kafka-gib", type=float, default=cost.DEFAULT_YEN_PER_KAFKA_GIB)
    parser.add_argument("--cpu-seconds", type=float, help="override the measured CPU seconds")
    parser.add_argument("--storage-bytes", type=float, help="override the measured storage bytes")
    parser.add_argument("--kafka-bytes", type=float, help="override the measured Kafka bytes")
    parser.add_argument("--orders", type=int, help="override the number of orders")
    parser.add_argument("--report", type=Path, help="write the JSON report here")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        prices = cost.Prices(
            args.yen_per_vcpu_hour,
            args.yen_per_gib_month,
            args.retention_months,
            args.yen_per_kafka_gib,
        )
    except AssertionError:
        sys.stderr.write("switchyard cost-guard: prices must not be negative\n")
        return 2
    if args.budget_yen_per_1k <= 0:
        sys.stderr.write("switchyard cost-guard: --budget-yen-per-1k must be positive\n")
        return 2
    try:
        document = documents.read_document(args.input)
        problems = documents.schema_errors(document)
        if problems:
            raise documents.DocumentError(f"{args.input}: fails its schema: {problems[0]}")
        obs = observations.from_document(document, str(args.input))
        usage = cost.usage_of(
            obs,
            {
                "cpu_seconds": args.cpu_seconds,
                "storage_bytes": args.storage_bytes,
                "kafka_bytes": args.kafka_bytes,
                "orders": args.orders,
            },
        )
    except (documents.DocumentError, cost.CostInputError) as error:
        sys.stderr.write(f"switchyard cost-guard: {error}\n")
        return 2
    report = cost.verdict(cost.cost_breakdown(usage, prices), args.budget_yen_per_1k)
    sys.stdout.write(cost.summary_text(report, str(args.input)))
    if args.report:
        args.report.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0 if report["withinBudget"] else 1
