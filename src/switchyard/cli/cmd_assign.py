"""`switchyard assign`: show the key assignment in etcd and, for operators, override it.

    switchyard assign                      leader, revision, engines, every key and its owner
    switchyard assign --json               the same as one JSON document
    switchyard assign --pin BTC=e2         BTC goes to e2 while e2 is live (rendezvous otherwise)
    switchyard assign --unpin BTC          back to rendezvous placement
    switchyard assign --add SOL,XRP        add keys to the distributed set
    switchyard assign --remove XRP         remove a key (and its pin)
    switchyard assign --audit DIR [DIR..]  offline: do these engines' WALs show one owner per
                                           key at any instant? (exit 1 if not)

Reads ETCD_ENDPOINTS and ETCD_PREFIX like the gateway (`--endpoints`, `--prefix` win). Changes
go to etcd only; the leader turns them into a new assignment revision and the engines hand
the keys over fenced, exactly as after a join or a leave. Talking to etcd is the operator's
privilege here: whoever can run this against the cluster's etcd is an operator.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from switchyard.core import limits as L
from switchyard.ownership import (
    EtcdError,
    EtcdGateway,
    Layout,
    audit,
    parse_endpoints,
    parse_view,
    read_facts,
)
from switchyard.ownership.cluster import ClusterView
from switchyard.ownership.settings import ETCD_ENDPOINTS, ETCD_PREFIX, KEY_PATTERN, KEYS_MAX
from switchyard.wal.settings import HMAC_KEY

TIMEOUT_S = 5.0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "assign", help="show the key assignment in etcd; pin, add or remove keys (operators)"
    )
    parser.add_argument("--endpoints", help="etcd URLs, CSV (default $ETCD_ENDPOINTS)")
    parser.add_argument("--prefix", help="cluster key prefix (default $ETCD_PREFIX)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--pin", action="append", default=[], metavar="KEY=ENGINE")
    parser.add_argument("--unpin", action="append", default=[], metavar="KEY")
    parser.add_argument("--add", action="append", default=[], metavar="KEY[,KEY...]")
    parser.add_argument("--remove", action="append", default=[], metavar="KEY[,KEY...]")
    parser.add_argument("--audit", nargs="+", type=Path, metavar="DIR", help="WAL or data dirs")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.audit:
        return run_audit(args.audit, as_json=args.json)
    endpoints = args.endpoints or ",".join(ETCD_ENDPOINTS.read(os.environ))
    if not endpoints:
        sys.stderr.write("switchyard assign: no etcd: set ETCD_ENDPOINTS or pass --endpoints\n")
        return 2
    try:
        etcd = EtcdGateway(parse_endpoints([e for e in endpoints.split(",") if e.strip()]))
        layout = Layout(args.prefix or ETCD_PREFIX.read(os.environ))
        changes = _changes(args)
    except (ValueError, AssertionError) as error:
        sys.stderr.write(f"switchyard assign: {error}\n")
        return 2
    try:
        return asyncio.run(_run(etcd, layout, changes, as_json=args.json))
    except EtcdError as error:
        sys.stderr.write(f"switchyard assign: etcd: {error}\n")
        return 1


def _changes(args: argparse.Namespace) -> dict[str, Any]:
    pins: dict[str, str] = {}
    for item in args.pin:
        key, sep, engine = item.partition("=")
        if not sep or not key.strip() or not engine.strip():
            raise ValueError(f"--pin {item!r}: expected KEY=ENGINE")
        pins[_key(key)] = engine.strip()
    return {
        "pin": pins,
        "unpin": [_key(k) for k in args.unpin],
        "add": [_key(k) for group in args.add for k in group.split(",") if k.strip()],
        "remove": [_key(k) for group in args.remove for k in group.split(",") if k.strip()],
    }


def _key(raw: str) -> str:
    key = raw.strip()
    if not re.match(KEY_PATTERN, key) or len(key) > L.SYMBOL_LEN_MAX:
        raise ValueError(f"key {raw!r}: 1..{L.SYMBOL_LEN_MAX} characters of A-Z a-z 0-9 . _ -")
    return key


async def _run(etcd: EtcdGateway, layout: Layout, changes: dict[str, Any], *, as_json: bool) -> int:
    view = await _read(etcd, layout)
    notes = await _apply(etcd, layout, view, changes)
    if notes:
        for note in notes:
            sys.stdout.write(note + "\n")
        return 0
    if as_json:
        sys.stdout.write(json.dumps(describe(view), indent=2, sort_keys=True) + "\n")
    else:
        sys.stdout.write(render(view))
    return 0


async def _read(etcd: EtcdGateway, layout: Layout) -> ClusterView:
    kvs, revision = await etcd.get_prefix(layout.root, timeout_s=TIMEOUT_S)
    return parse_view(layout, kvs, revision)


async def _apply(
    etcd: EtcdGateway, layout: Layout, view: ClusterView, changes: dict[str, Any]
) -> list[str]:
    notes: list[str] = []
    if len(view.keys) + len(changes["add"]) > KEYS_MAX:
        raise ValueError(f"at most {KEYS_MAX} keys can be assigned")
    for key in changes["add"]:
        await etcd.put(layout.key(key), b"", timeout_s=TIMEOUT_S)
        notes.append(f"added {key}")
    for key, engine in changes["pin"].items():
        if key not in view.keys and key not in changes["add"]:
            await etcd.put(layout.key(key), b"", timeout_s=TIMEOUT_S)
        await etcd.put(layout.pin(key), engine.encode(), timeout_s=TIMEOUT_S)
        live = "" if engine in view.engines else f" (not live now: {key} stays hashed until it is)"
        notes.append(f"pinned {key} to {engine}{live}")
    for key in changes["unpin"]:
        deleted = await etcd.delete(layout.pin(key), timeout_s=TIMEOUT_S)
        notes.append(f"unpinned {key}" if deleted else f"{key} was not pinned")
    for key in changes["remove"]:
        await etcd.delete(layout.pin(key), timeout_s=TIMEOUT_S)
        deleted = await etcd.delete(layout.key(key), timeout_s=TIMEOUT_S)
        notes.append(f"removed {key}" if deleted else f"{key} was not assigned")
    return notes


def describe(view: ClusterView) -> dict[str, Any]:
    doc = view.assignment
    keys = doc.keys if doc is not None else {}
    return {
        "revision": view.assignment_revision,
        "readAt": view.revision,
        "leader": view.leader,
        "engines": {
            engine: {"url": reg.url, "ackedRevision": view.acks.get(engine), "walId": reg.wal_id}
            for engine, reg in sorted(view.engines.items())
        },
        "keys": {
            key: {"owner": keys.get(key), "pinnedTo": view.pins.get(key)}
            for key in sorted(view.keys | set(keys))
        },
        "unassigned": sorted(view.keys - set(keys)),
        "problems": list(view.problems),
    }


def render(view: ClusterView) -> str:
    described = describe(view)
    lines = [
        f"assignment revision {described['revision']} (read at {described['readAt']}), "
        f"leader {described['leader'] or '-'}",
        "",
        f"{'ENGINE':<16} {'ACKED':>8} {'KEYS':>5}  URL",
    ]
    counts: dict[str, int] = {}
    for entry in described["keys"].values():
        if entry["owner"]:
            counts[entry["owner"]] = counts.get(entry["owner"], 0) + 1
    for engine, info in described["engines"].items():
        acked = info["ackedRevision"] if info["ackedRevision"] is not None else "-"
        lines.append(f"{engine:<16} {acked:>8} {counts.get(engine, 0):>5}  {info['url']}")
    lines += ["", f"{'KEY':<20} {'OWNER':<16} PIN"]
    for key, entry in described["keys"].items():
        lines.append(f"{key:<20} {entry['owner'] or '-':<16} {entry['pinnedTo'] or ''}".rstrip())
    if described["unassigned"]:
        lines += ["", "not assigned yet: " + ", ".join(described["unassigned"])]
    lines += [f"problem: {problem}" for problem in described["problems"]]
    return "\n".join(lines) + "\n"


def run_audit(directories: list[Path], *, as_json: bool) -> int:
    hmac_key = HMAC_KEY.read(os.environ)
    facts = {}
    for directory in directories:
        wal_dir = directory / "wal" if (directory / "wal").is_dir() else directory
        if not wal_dir.is_dir():
            sys.stderr.write(f"switchyard assign: no WAL directory at {wal_dir}\n")
            return 2
        facts[str(directory)] = list(read_facts(wal_dir, hmac_key=hmac_key))
    report = audit(facts)
    summary = {
        "ok": report.ok,
        "writes": report.writes,
        "intervals": len(report.intervals),
        "problems": report.problems,
        "overlaps": report.overlaps,
    }
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        verdict = "ok" if report.ok else "NOT OK"
        sys.stdout.write(
            f"{verdict}: {report.writes} writes, {len(report.intervals)} ownership intervals "
            f"in {len(directories)} WALs\n"
        )
        for line in report.problems + report.overlaps:
            sys.stdout.write(line + "\n")
    return 0 if report.ok else 1
