"""`switchyard token --account ACCT [--ttl S] [--role ops]`: print an HS256 JWT.

Uses JWT_HS256_SECRET, else the development secret of the data directory (the same one
`switchyard run` uses), so a token minted here is accepted by a local gateway.
"""

from __future__ import annotations

import argparse
import os
import sys

from switchyard.adapters.auth import AuthSettings, mint_token
from switchyard.datadir import add_data_dir_argument, resolve_data_dir


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("token", help="print an HS256 JWT for an account")
    parser.add_argument("--account", required=True, help="account id (claims sub and accountId)")
    parser.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    parser.add_argument("--role", default="", help="optional role claim, e.g. ops")
    add_data_dir_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    account = args.account.strip()
    if not account or len(account) > 64:
        sys.stderr.write("switchyard token: --account must be 1..64 characters\n")
        return 2
    if args.ttl <= 0:
        sys.stderr.write("switchyard token: --ttl must be a positive number of seconds\n")
        return 2
    settings = AuthSettings.from_env(os.environ, resolve_data_dir(os.environ, args.data_dir))
    token = mint_token(settings.secret, account, ttl_s=args.ttl, role=args.role)
    sys.stdout.write(token + "\n")
    return 0
