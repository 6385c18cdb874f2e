"""`switchyard triage "incident text"`: the runbook sections that best match, with citations.

BM25 over every Markdown section of docs/runbooks/ (or --docs PATH, repeatable; index pages
named README.md are skipped). Exit 0 with hits, 1 with none.
"""

import argparse
import json
import sys
from pathlib import Path

from switchyard.sre import paths, triage


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "triage", help="rank runbook sections against an incident description", description=__doc__
    )
    parser.add_argument("query", nargs="*", help="incident description (or --query-file, or stdin)")
    parser.add_argument("--query-file", type=Path, help="read the description from a file")
    parser.add_argument(
        "--docs",
        type=Path,
        action="append",
        help="Markdown files or directories (default docs/runbooks)",
    )
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--format", choices=("markdown", "json"), default="markdown")
    parser.add_argument("--out", type=Path, help="write the answer here instead of stdout")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    query = " ".join(args.query)
    if args.query_file:
        query = args.query_file.read_text(encoding="utf-8")
    elif not query and not sys.stdin.isatty():
        query = sys.stdin.read()
    if not query.strip() or args.top_k < 1:
        sys.stderr.write("switchyard triage: give an incident description and --top-k >= 1\n")
        return 2
    base = paths.repo_root()
    roots = args.docs or [paths.docs_dir() / "runbooks"]
    sections = triage.load_sections(roots, base)
    if not sections:
        sys.stderr.write(f"switchyard triage: no Markdown sections under {roots}\n")
        return 2
    hits = triage.BM25(sections).search(query, args.top_k)
    if args.format == "json":
        text = (
            json.dumps(
                {"query": query, "corpusSections": len(sections), "hits": triage.describe(hits)},
                indent=2,
                ensure_ascii=False,
            )
            + "\n"
        )
    else:
        text = triage.markdown(query, hits, len(sections))
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0 if hits else 1
