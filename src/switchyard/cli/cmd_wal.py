"""`switchyard wal verify|dump|anchor`: offline WAL tools on a data directory.

All read `$SWITCHYARD_DATA_DIR/wal` (default ./var; `--data-dir` wins) and the chain key from
AUDIT_HMAC_KEY. `verify` prints the verification result as JSON (exit 1 when not ok); `dump`
prints one JSON line per record with its decoded payload, filtered by seq range, record type
and account; `anchor` prints the newest exported anchor, or with `--write` computes the
durable chain head and exports it as a new anchor. None of them takes the writer's lock, so
they are safe next to a running gateway (they stop at its durable watermark).
"""

import argparse
import json
import os
import sys
from collections.abc import Callable
from enum import IntEnum
from pathlib import Path

from switchyard.adapters.disk_os import OsDisk
from switchyard.core import env
from switchyard.core.events import RecordType
from switchyard.wal.anchor import Anchor, read_latest_anchor, write_anchor
from switchyard.wal.errors import WALError
from switchyard.wal.format import SEGMENT_HEADER_SIZE, decode_segment_header
from switchyard.wal.payload import PayloadError, decode_payload
from switchyard.wal.reader import WALReader, WALRecord, list_segments, read_watermark
from switchyard.wal.settings import HMAC_KEY
from switchyard.wal.verify import verify, wal_is_live

DATA_DIR_VARIABLE = "SWITCHYARD_DATA_DIR"
DATA_DIR_DEFAULT = "./var"


def data_dir(args: argparse.Namespace) -> Path:
    """--data-dir, else SWITCHYARD_DATA_DIR (declared by the gateway's config), else ./var."""
    if args.data_dir:
        return Path(args.data_dir)
    declared = env.REGISTRY.get(DATA_DIR_VARIABLE)
    if declared is not None:
        return Path(str(declared.read(os.environ)))
    return Path(os.environ.get(DATA_DIR_VARIABLE, DATA_DIR_DEFAULT).strip() or DATA_DIR_DEFAULT)


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser("wal", help="verify, dump or anchor the write-ahead log")
    commands = parser.add_subparsers(dest="wal_command", metavar="SUBCOMMAND", required=True)

    def add(name: str, help_text: str, func: Callable[[argparse.Namespace], int]) -> None:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--data-dir", help=f"data directory (default ${DATA_DIR_VARIABLE})")
        sub.set_defaults(func=func)
        if name == "verify":
            sub.add_argument("--from-seq", type=int, default=1)
            sub.add_argument("--limit", type=int, default=None)
        elif name == "dump":
            sub.add_argument("--from-seq", type=int, default=1)
            sub.add_argument("--to-seq", type=int, default=None)
            sub.add_argument(
                "--type",
                action="append",
                default=[],
                metavar="TYPE",
                help="record type name, e.g. ORDER_ACCEPTED (repeatable)",
            )
            sub.add_argument("--account", default=None, help="only records of this account")
        else:
            sub.add_argument(
                "--write",
                action="store_true",
                help="export the current durable chain head as a new anchor",
            )

    add("verify", "recompute checksums and the hash chain; exit 1 on a problem", run_verify)
    add("dump", "print records as JSON lines with decoded payloads", run_dump)
    add("anchor", "print the newest anchor (or --write a new one)", run_anchor)


def _key() -> bytes | None:
    return HMAC_KEY.read(os.environ)


def _print(document: object) -> None:
    sys.stdout.write(json.dumps(document, sort_keys=True) + "\n")


def run_verify(args: argparse.Namespace) -> int:
    wal_dir = data_dir(args) / "wal"
    if args.from_seq < 1 or (args.limit is not None and args.limit < 1):
        sys.stderr.write("switchyard wal verify: --from-seq and --limit must be >= 1\n")
        return 2
    result = verify(wal_dir, _key(), args.from_seq, args.limit)
    _print(result.to_json())
    return 0 if result.ok else 1


def _plain(value: object) -> object:
    if isinstance(value, IntEnum):
        return value.name
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return value


def record_json(record: WALRecord) -> dict[str, object]:
    """One dump line: the header fields and the payload decoded into named fields."""
    line: dict[str, object] = {
        "seq": record.seq,
        "type": _type_name(record.record_type),
        "tsNs": record.ts_ns,
        "segment": record.segment,
        "offset": record.offset,
        "chainHash": record.chain_hash.hex(),
    }
    try:
        decoded = decode_payload(record.record_type, record.payload)
    except PayloadError as error:
        line["payloadError"] = str(error)
        line["payloadHex"] = record.payload.hex()
        return line
    line["record"] = {name: _plain(getattr(decoded, name)) for name in decoded.__struct_fields__}
    return line


def _type_name(record_type: int) -> str:
    try:
        return RecordType(record_type).name
    except ValueError:
        return str(record_type)


def run_dump(args: argparse.Namespace) -> int:
    wal_dir = data_dir(args) / "wal"
    unknown = [name for name in args.type if name not in RecordType.__members__]
    if unknown:
        sys.stderr.write(f"switchyard wal dump: unknown record type(s) {', '.join(unknown)}\n")
        return 2
    wanted = {int(RecordType[name]) for name in args.type}
    reader = WALReader(wal_dir, hmac_key=_key(), durable_only=wal_is_live(wal_dir))
    try:
        for record in reader.iter_from(max(1, args.from_seq), args.to_seq):
            if wanted and record.record_type not in wanted:
                continue
            line = record_json(record)
            if args.account is not None:
                fields = line.get("record")
                if not isinstance(fields, dict) or fields.get("account_id") != args.account:
                    continue
            _print(line)
    except WALError as error:
        sys.stderr.write(f"switchyard wal dump: {error}\n")
        return 1
    if reader.stopped_at is not None:
        sys.stderr.write(f"switchyard wal dump: stopped at {reader.stopped_at}\n")
    return 0


def run_anchor(args: argparse.Namespace) -> int:
    wal_dir = data_dir(args) / "wal"
    if not args.write:
        anchor = read_latest_anchor(wal_dir)
        if anchor is None:
            sys.stderr.write(f"switchyard wal anchor: no anchor under {wal_dir}/anchors\n")
            return 1
        _print(anchor.to_json())
        return 0
    key = _key()
    last: WALRecord | None = None
    try:
        for record in WALReader(wal_dir, hmac_key=key).iter_from(1):
            last = record
    except WALError as error:
        sys.stderr.write(f"switchyard wal anchor: {error}\n")
        return 1
    found = read_watermark(OsDisk(), str(wal_dir))
    if last is None or found is None:
        sys.stderr.write(f"switchyard wal anchor: no durable record under {wal_dir}\n")
        return 1
    anchor = Anchor(
        seq=last.seq,
        hash=last.chain_hash,
        key_id=_key_id(wal_dir),
        at_ns=last.ts_ns,
        wal_id=found[0][:3].hex(),
        keyed=key is not None,
    )
    write_anchor(OsDisk(), str(wal_dir), anchor)
    _print(anchor.to_json())
    return 0


def _key_id(wal_dir: Path) -> str:
    segments = list_segments(OsDisk(), str(wal_dir))
    with open(wal_dir / segments[-1][1], "rb") as handle:
        return decode_segment_header(handle.read(SEGMENT_HEADER_SIZE)).key_id
