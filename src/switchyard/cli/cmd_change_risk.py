"""`switchyard change-risk --diff-base REV --out FILE`: score a change and advise its rollout.

Exit 0, or 1 with `--fail-on-high-risk` when the score reaches `--threshold` (default 70);
2 when git cannot diff.
"""

import argparse
import json
import sys
from pathlib import Path

from switchyard.sre import change_risk, paths


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "change-risk", help="score a git diff against critical paths", description=__doc__
    )
    parser.add_argument("--diff-base", default="main", help="base revision (default main)")
    parser.add_argument(
        "--worktree",
        action="store_true",
        help="diff the working tree against the base instead of base...HEAD",
    )
    parser.add_argument("--repo", type=Path, help="repository (default: this checkout)")
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    parser.add_argument("--summary", type=Path, help="write the Markdown report here")
    parser.add_argument("--threshold", type=int, default=70)
    parser.add_argument("--fail-on-high-risk", action="store_true")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    repo = args.repo or paths.repo_root()
    try:
        changes = change_risk.git_numstat(args.diff_base, repo, worktree=args.worktree)
    except change_risk.GitError as error:
        sys.stderr.write(f"switchyard change-risk: {error}\n")
        return 2
    data = change_risk.report(change_risk.assess(changes), args.diff_base)
    text = change_risk.markdown(data)
    sys.stdout.write(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if args.summary:
        args.summary.write_text(text, encoding="utf-8")
    high = data["riskScoreUncapped"] >= args.threshold
    return 1 if high and args.fail_on_high_risk else 0
