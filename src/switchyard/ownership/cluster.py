"""The cluster's state as stored in etcd: key layout, documents, and a snapshot's view.

Layout under the prefix P (ETCD_PREFIX, default /switchyard):

    P/state/engines/<id>   Registration JSON, on the engine's lease (gone when the lease is)
    P/state/election/...   etcd election candidates (etcd's v3election service), on leases
    P/state/acks/<id>      {"revision": R}: this engine released what assignment R took from
                           it; on the engine's lease
    P/state/assignment     Assignment JSON, written only by the leader (txn-guarded by its
                           election key); the etcd mod_revision of this key is "the revision"
    P/config/keys/<key>    the key universe the leader distributes (no lease)
    P/config/pins/<key>    an operator's override: this key goes to that engine while it is live

Engines read P/state/ on every round (small: registrations, acks, one document); only the
leader also reads P/config/ (which grows with the number of keys).
A `ClusterView` is one consistent range read (all of it at one store revision), parsed.
Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import msgspec

from .etcd import KeyValue
from .rendezvous import place

ASSIGNMENT_VERSION: Final = 1


class Registration(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """What an engine says about itself when it registers."""

    id: str
    url: str
    wal_id: str = ""  # the WAL it writes: the same id with the same WAL is a restart of it
    pid: int = 0
    version: str = ""


class Ack(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    revision: int


class Assignment(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """The leader's placement of every key on a live engine."""

    version: int = ASSIGNMENT_VERSION
    leader: str = ""
    term: int = 0  # create revision of the leader's election key: one per leadership
    engines: dict[str, str] = {}  # live engine id -> url, as the leader saw them
    keys: dict[str, str] = {}  # key -> engine id

    def owned_by(self, engine_id: str) -> frozenset[str]:
        return frozenset(key for key, owner in self.keys.items() if owner == engine_id)


_ENCODER: Final = msgspec.json.Encoder()
_REGISTRATION: Final = msgspec.json.Decoder(Registration)
_ACK: Final = msgspec.json.Decoder(Ack)
_ASSIGNMENT: Final = msgspec.json.Decoder(Assignment)


def encode(document: Registration | Ack | Assignment) -> bytes:
    return _ENCODER.encode(document)


def decode_registration(data: bytes) -> Registration:
    return _REGISTRATION.decode(data)


def decode_assignment(data: bytes) -> Assignment:
    return _ASSIGNMENT.decode(data)


@dataclass(frozen=True, slots=True)
class Layout:
    """The etcd key names of one cluster."""

    prefix: str

    def __post_init__(self) -> None:
        assert self.prefix.startswith("/"), self.prefix
        assert not self.prefix.endswith("/"), self.prefix

    @property
    def root(self) -> str:
        return self.prefix + "/"

    @property
    def state(self) -> str:
        return f"{self.prefix}/state/"

    @property
    def election(self) -> str:
        return f"{self.prefix}/state/election"

    @property
    def assignment(self) -> str:
        return f"{self.prefix}/state/assignment"

    def engine(self, engine_id: str) -> str:
        return f"{self.prefix}/state/engines/{engine_id}"

    def ack(self, engine_id: str) -> str:
        return f"{self.prefix}/state/acks/{engine_id}"

    def key(self, key: str) -> str:
        return f"{self.prefix}/config/keys/{key}"

    def pin(self, key: str) -> str:
        return f"{self.prefix}/config/pins/{key}"


@dataclass(frozen=True, slots=True)
class ClusterView:
    """Everything under the prefix at one store revision."""

    revision: int
    engines: dict[str, Registration] = field(default_factory=dict)
    engine_leases: dict[str, int] = field(default_factory=dict)
    acks: dict[str, int] = field(default_factory=dict)  # engine id -> acknowledged revision
    keys: frozenset[str] = frozenset()
    pins: dict[str, str] = field(default_factory=dict)
    assignment: Assignment | None = None
    assignment_revision: int = 0  # mod_revision of P/assignment; 0 = none written yet
    leader: str | None = None  # value of the first election candidate (etcd's leader)
    leader_key: str | None = None  # that candidate's key
    problems: tuple[str, ...] = ()  # undecodable entries, skipped (reported, never fatal)
    complete: bool = True  # False: read P/state/ only (keys and pins not known)

    def barrier_waits(self, engine_id: str, revision: int) -> list[str]:
        """Engines that may still serve keys taken from them at `revision`.

        An engine's ack is written (on its lease) after it released what `revision` took from
        it, and before it serves anything under that revision; an engine with no ack serves
        nothing, an unregistered engine has lost its lease (and fenced itself). So the keys
        this engine gains at `revision` are free once every other registered engine with an
        ack has acked at least `revision`.
        """
        return sorted(
            other
            for other in self.engines
            if other != engine_id and other in self.acks and self.acks[other] < revision
        )

    def desired(self, *, leader: str, term: int) -> Assignment:
        """The assignment a leader would write for this view."""
        live = {engine_id: reg.url for engine_id, reg in sorted(self.engines.items())}
        return Assignment(
            leader=leader,
            term=term,
            engines=live,
            keys=place(self.keys, live, self.pins),
        )


def same_placement(left: Assignment | None, right: Assignment) -> bool:
    return left is not None and left.keys == right.keys and left.engines == right.engines


def parse_view(
    layout: Layout,
    kvs: list[KeyValue],
    revision: int,
    previous: ClusterView | None = None,
    *,
    complete: bool = True,
) -> ClusterView:
    """A range read of the whole prefix -> the view (bad entries skipped and listed).

    The assignment document (the large entry: ~30 bytes a key) is decoded again only when
    its revision changed since `previous`.
    """
    engines: dict[str, Registration] = {}
    leases: dict[str, int] = {}
    acks: dict[str, int] = {}
    keys: set[str] = set()
    pins: dict[str, str] = {}
    assignment: Assignment | None = None
    assignment_revision = 0
    candidates: list[tuple[int, str, str]] = []
    problems: list[str] = []
    for kv in kvs:
        kind, name = _classify(layout.root, kv.key)
        try:
            if kind == "engines" and name:
                engines[name] = _REGISTRATION.decode(kv.value)
                leases[name] = kv.lease
            elif kind == "acks" and name:
                acks[name] = _ACK.decode(kv.value).revision
            elif kind == "keys" and name:
                keys.add(name)
            elif kind == "pins" and name:
                pins[name] = kv.value.decode()
            elif kind == "election" and name:
                candidates.append((kv.create_revision, kv.key, kv.value.decode()))
            elif kind == "assignment" and not name:
                if previous is not None and previous.assignment_revision == kv.mod_revision:
                    assignment = previous.assignment
                else:
                    assignment = _ASSIGNMENT.decode(kv.value)
                assignment_revision = kv.mod_revision
        except (msgspec.DecodeError, UnicodeDecodeError) as error:
            problems.append(f"{kv.key}: {error}")
    return ClusterView(
        revision=revision,
        engines=engines,
        engine_leases=leases,
        acks=acks,
        keys=frozenset(keys),
        pins=pins,
        assignment=assignment,
        assignment_revision=assignment_revision,
        leader=min(candidates)[2] if candidates else None,
        leader_key=min(candidates)[1] if candidates else None,
        problems=tuple(problems),
        complete=complete,
    )


_KINDS: Final = {
    "state": frozenset({"engines", "acks", "election", "assignment"}),
    "config": frozenset({"keys", "pins"}),
}


def _classify(root: str, key: str) -> tuple[str, str]:
    """`P/state/engines/e1` -> ("engines", "e1"); anything else -> ("", "")."""
    if not key.startswith(root):
        return "", ""
    area, _, rest = key[len(root) :].partition("/")
    kind, _, name = rest.partition("/")
    return (kind, name) if kind in _KINDS.get(area, ()) else ("", "")
