"""Anchors: the chain head (seq, hash, key id, time) exported so a rewrite can be proven.

`<wal>/anchors/anchor-<seq>.json`, one small JSON file per export, written atomically
(temporary file, fdatasync, rename, directory fsync) through the Disk port; the newest is the
one with the highest seq. The writer exports one every AUDIT_ANCHOR_INTERVAL_SEC of record
time and at close; `switchyard wal anchor --write` exports one on demand. Copy the directory
off the machine (object storage, another host): a verifier recomputes the chain up to an
anchor's seq and must find the same hash (verify.py does).
JSON shape (camelCase like the seed's `/audit/anchor`): seq, at (RFC 3339), atNs, keyId,
hash (standard base64, as the seed), hashHex, hashAlg, walId.
"""

import base64
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from switchyard.core.limits import WAL_ANCHORS_RETAINED_MAX
from switchyard.core.ports import Disk

from .format import CHAIN_SIZE

ANCHORS_DIR: Final = "anchors"
_PREFIX: Final = "anchor-"
_SUFFIX: Final = ".json"


@dataclass(frozen=True, slots=True)
class Anchor:
    seq: int
    hash: bytes  # H(seq)
    key_id: str
    at_ns: int  # the anchored record's timestamp (epoch ns)
    wal_id: str
    keyed: bool

    def to_json(self) -> dict[str, object]:
        at = datetime.fromtimestamp(self.at_ns // 1_000_000 / 1000, tz=UTC)
        return {
            "seq": self.seq,
            "at": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z",
            "atNs": self.at_ns,
            "keyId": self.key_id,
            "hash": base64.b64encode(self.hash).decode(),
            "hashHex": self.hash.hex(),
            "hashAlg": "HMAC-SHA256" if self.keyed else "SHA-256",
            "walId": self.wal_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> "Anchor":
        """Parse what `to_json` wrote; ValueError naming the field on anything else."""
        try:
            seq = data["seq"]
            at_ns = data["atNs"]
            digest = base64.b64decode(str(data["hash"]), validate=True)
            key_id = str(data["keyId"])
            wal_id = str(data["walId"])
            keyed = data["hashAlg"] == "HMAC-SHA256"
        except (KeyError, ValueError) as error:
            raise ValueError(f"anchor field missing or invalid: {error}") from None
        if not isinstance(seq, int) or not isinstance(at_ns, int) or len(digest) != CHAIN_SIZE:
            raise ValueError("anchor seq, atNs or hash has the wrong type or size")
        return cls(seq=seq, hash=digest, key_id=key_id, at_ns=at_ns, wal_id=wal_id, keyed=keyed)


def anchor_name(seq: int) -> str:
    return f"{_PREFIX}{seq:020d}{_SUFFIX}"


def _anchor_seq(name: str) -> int | None:
    digits = name[len(_PREFIX) : -len(_SUFFIX)]
    if name.startswith(_PREFIX) and name.endswith(_SUFFIX) and digits.isdigit():
        return int(digits)
    return None


def write_anchor(disk: Disk, wal_dir: str, anchor: Anchor) -> str:
    """Write `anchor` atomically under `<wal_dir>/anchors/`, prune old ones; return its path."""
    directory = os.path.join(wal_dir, ANCHORS_DIR)
    if not disk.exists(directory):
        disk.makedirs(directory)
    path = os.path.join(directory, anchor_name(anchor.seq))
    temporary = path + ".tmp"
    body = (json.dumps(anchor.to_json(), sort_keys=True) + "\n").encode()
    handle = disk.open(temporary, create=True, write=True)
    try:
        disk.truncate(handle, 0)
        disk.pwrite(handle, body, 0)
        disk.fdatasync(handle)
    finally:
        disk.close(handle)
    disk.rename(temporary, path)
    disk.fsync_dir(directory)
    _prune(disk, directory)
    return path


def _prune(disk: Disk, directory: str) -> None:
    found = sorted(
        (seq, name) for name in disk.listdir(directory) if (seq := _anchor_seq(name)) is not None
    )
    excess = found[: max(0, len(found) - WAL_ANCHORS_RETAINED_MAX)]
    for _, name in excess:
        disk.remove(os.path.join(directory, name))
    if excess:
        disk.fsync_dir(directory)


def read_latest_anchor(wal_dir: Path) -> Anchor | None:
    """The newest readable anchor, or None if none was exported yet."""
    directory = Path(wal_dir) / ANCHORS_DIR
    if not directory.is_dir():
        return None
    names = sorted(
        (seq, name) for name in os.listdir(directory) if (seq := _anchor_seq(name)) is not None
    )
    for _, name in reversed(names):
        try:
            return Anchor.from_json(json.loads((directory / name).read_text()))
        except (OSError, ValueError):
            continue  # a damaged file: fall back to the previous anchor
    return None
