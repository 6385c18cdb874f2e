"""`switchyard dlp PATH...`: scan logs, WAL dumps (`switchyard wal dump` output) and results for
personal data and secrets. Exit 1 on findings, 0 when clean, 2 on a bad allow-list or path.

Reports mask every value and give its SHA-256 fingerprint, which an allow-list entry can use.
"""

import argparse
import json
import sys
from pathlib import Path

from switchyard.sre import dlp


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "dlp", help="find PII and secrets in files (exit 1 on findings)", description=__doc__
    )
    parser.add_argument("paths", nargs="+", type=Path, help="files or directories ('-' = stdin)")
    parser.add_argument("--allow", type=Path, help="YAML allow-list (see docs/SRE.md)")
    parser.add_argument(
        "--no-builtin-allow",
        action="store_true",
        help="also report example.com addresses, test cards, 555-01xx numbers",
    )
    parser.add_argument("--include-binary", action="store_true", help="scan binary files too")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--out", type=Path, help="write the report here instead of stdout")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        allow = dlp.load_allow_list(args.allow, builtin=not args.no_builtin_allow)
    except dlp.AllowListError as error:
        sys.stderr.write(f"switchyard dlp: {error}\n")
        return 2
    files = [path for path in args.paths if str(path) != "-"]
    missing = [str(path) for path in files if not path.exists()]
    if missing:
        sys.stderr.write(f"switchyard dlp: no such file or directory: {', '.join(missing)}\n")
        return 2
    result = dlp.scan_paths(files, allow, include_binary=args.include_binary)
    if len(files) != len(args.paths):
        stdin_result = dlp.scan_text(sys.stdin.read(), allow, "<stdin>")
        result.findings += stdin_result.findings
        result.files_scanned += 1
        for category, count in stdin_result.allowed.items():
            result.allowed[category] = result.allowed.get(category, 0) + count
    if args.format == "json":
        text = json.dumps(dlp.report_json(result), indent=2, ensure_ascii=False) + "\n"
    else:
        text = dlp.report_text(result)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 1 if result.findings else 0
