"""Settings of key ownership (DESIGN §2, §7): which engine accepts writes for which key.

Three modes, chosen by what is set: `etcd` (ETCD_ENDPOINTS: registration, election,
assignment, fenced hand-overs), `static` (OWNED_KEYS only: this engine owns exactly those
keys) and `all` (neither: this engine owns every key, the single-engine default). Timing of
the etcd mode derives from one number, the lease TTL, so the relations between keep-alive,
request timeout and the self-fencing margin hold by construction (asserted below).
ENGINE_ID is the gateway's setting (config.py); it is read from there, not declared here.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from switchyard.config import GATEWAY_HOST, GATEWAY_PORT
from switchyard.core import env

from ._http import parse_endpoint

_S = "ownership"
Mode = Literal["etcd", "static", "all"]

KEY_PATTERN: Final = r"^[A-Za-z0-9._-]+$"  # the /events key and order symbol alphabet
KEYS_MAX: Final = 10_000  # keys in an assignment: one etcd value (~0.3 MB at 10k keys)
KEY_REQUESTS_MAX: Final = 1_000  # unknown keys queued for registration between two rounds


def _endpoints(raw: str) -> tuple[str, ...]:
    items = env.csv(raw)
    for item in items:
        parse_endpoint(item)
    return items


def _prefix(raw: str) -> str:
    value = raw.strip()
    if not value.startswith("/") or value.endswith("/") or not value.isascii():
        raise ValueError("an ASCII path like /switchyard (leading slash, no trailing slash)")
    return value


def _url(raw: str) -> str:
    value = raw.strip().rstrip("/")
    if value:
        parse_endpoint(value)
    return value


ETCD_ENDPOINTS = env.declare(
    "ETCD_ENDPOINTS",
    "",
    "etcd client URLs (CSV, http://host:port); set = key ownership through etcd "
    "(registration, leader election, assignment); empty = OWNED_KEYS or own every key",
    _endpoints,
    section=_S,
)
OWNED_KEYS = env.declare(
    "OWNED_KEYS",
    "",
    "Static fallback without etcd: the keys (symbols) this engine owns, CSV; with neither "
    "this nor ETCD_ENDPOINTS the engine owns every key",
    env.csv,
    section=_S,
)
ENGINE_POLL_MS = env.declare(
    "ENGINE_POLL_MS",
    "300",
    "Assignment re-read period (ms); the etcd watch wakes engines sooner, this is the net",
    env.integer(20, 60_000),
    section=_S,
)
ETCD_LEASE_TTL_SEC = env.declare(
    "ETCD_LEASE_TTL_SEC",
    "10",
    "Registration lease TTL (s): a dead engine's keys move to live ones after about this; "
    "keep-alive every TTL/5",
    env.integer(2, 300),
    section=_S,
)
ENGINE_URL = env.declare(
    "ENGINE_URL",
    "",
    "URL other engines and clients use to reach this engine (ownerUrl in NOT_OWNER); "
    "default http://<GATEWAY_HOST, or the host name for 0.0.0.0>:<GATEWAY_PORT>",
    _url,
    section=_S,
)
ETCD_PREFIX = env.declare(
    "ETCD_PREFIX",
    "/switchyard",
    "etcd key prefix of this cluster (engines, election, keys, pins, assignment, acks)",
    _prefix,
    section=_S,
)
ASSIGN_KEYS = env.declare(
    "ASSIGN_KEYS",
    "",
    "Keys a leader distributes when the cluster has none yet (CSV); default the venue's "
    "symbols. Later changes: `switchyard assign --add/--remove`; unknown keys register "
    "themselves on first use",
    env.csv,
    section=_S,
)
OWNERSHIP_ON_ETCD_LOSS = env.declare(
    "OWNERSHIP_ON_ETCD_LOSS",
    "serve",
    "When this engine cannot renew its lease: serve = keep serving while no peer reaches etcd "
    "either (an etcd outage), fence if one does; fence = stop serving at the lease deadline",
    env.choice("serve", "fence"),
    section=_S,
)


@dataclass(frozen=True, slots=True)
class OwnershipSettings:
    mode: Mode
    engine_id: str
    endpoints: tuple[str, ...]
    owned_keys: tuple[str, ...]
    poll_ms: int
    lease_ttl_s: int
    engine_url: str
    prefix: str
    assign_keys: tuple[str, ...]
    on_etcd_loss: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, engine_id: str) -> OwnershipSettings:
        endpoints = ETCD_ENDPOINTS.read(environ)
        owned = OWNED_KEYS.read(environ)
        mode: Mode = "etcd" if endpoints else ("static" if owned else "all")
        return cls(
            mode=mode,
            engine_id=engine_id,
            endpoints=endpoints,
            owned_keys=owned,
            poll_ms=ENGINE_POLL_MS.read(environ),
            lease_ttl_s=ETCD_LEASE_TTL_SEC.read(environ),
            engine_url=ENGINE_URL.read(environ) or default_engine_url(environ),
            prefix=ETCD_PREFIX.read(environ),
            assign_keys=ASSIGN_KEYS.read(environ),
            on_etcd_loss=OWNERSHIP_ON_ETCD_LOSS.read(environ),
        )

    # Timing, all derived from the lease TTL (seconds as float, nanoseconds as int).

    @property
    def keepalive_interval_s(self) -> float:
        return self.lease_ttl_s / 5

    @property
    def request_timeout_s(self) -> float:
        """Per etcd call: a failed keep-alive leaves time for several more before the TTL."""
        return min(2.0, self.lease_ttl_s / 10)

    @property
    def deadline_margin_ns(self) -> int:
        """Stop serving this long before etcd could expire our lease (clock-rate slack)."""
        return int(max(0.2, self.lease_ttl_s / 10) * 1e9)

    @property
    def etcd_fresh_ns(self) -> int:
        """How recent an etcd success must be for this engine to tell a peer "I reach etcd"
        (an engine that reaches etcd succeeds at least once per keep-alive round)."""
        return int((self.keepalive_interval_s + self.request_timeout_s) * 1e9)

    @property
    def probe_lead_ns(self) -> int:
        """Start asking peers this long before the lease deadline."""
        return int(self.keepalive_interval_s * 1e9)

    def __post_init__(self) -> None:
        ttl_ns = self.lease_ttl_s * 1_000_000_000
        # When etcd goes down for everyone, our deadline is at least TTL - margin after our
        # last keep-alive was sent, which was at most one round (interval + timeout) before
        # the outage; we start probing `probe_lead_ns` before it. By then every peer's last
        # etcd success must be older than `etcd_fresh_ns`, or an outage would look like our
        # own isolation and fence us for nothing.
        round_ns = self.etcd_fresh_ns
        assert ttl_ns - self.deadline_margin_ns - round_ns - self.probe_lead_ns > round_ns
        assert self.request_timeout_s < self.keepalive_interval_s
        assert self.mode != "etcd" or self.endpoints


def default_engine_url(environ: Mapping[str, str]) -> str:
    host = GATEWAY_HOST.read(environ)
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - reading, not binding
        host = socket.gethostname()
    return f"http://{host}:{GATEWAY_PORT.read(environ)}"
