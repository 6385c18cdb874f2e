"""Load profiles (bench/profiles/*.yaml): what traffic a bench run sends, and when.

Owns the profile format, its validation (errors name the file and the field) and the arrival
schedule derived from it: a list of phases, each at a constant rate or a linear ramp, turned
into the intended send time of every request. The schedule is a pure function of the profile,
so two runs of one profile ask for exactly the same load.
"""

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from switchyard.sre import paths

DEFAULT_SYMBOLS: tuple[str, ...] = ("BTC", "ETH", "7203", "6758", "9984")
ORDER_KINDS: tuple[str, ...] = ("limit", "market", "ioc")
ACK_MODES: tuple[str, ...] = ("fast", "durable")
LOAD_MODES: tuple[str, ...] = ("open", "closed")
ENDPOINTS: tuple[str, ...] = ("orders", "events")

RATE_PER_SEC_MAX = 1_000_000.0  # far beyond any loopback target; a typo guard
DURATION_SEC_MAX = 7 * 24 * 3600.0  # a week-long soak is the longest run we plan for
CONNECTIONS_MAX = 4_096  # the gateway's HTTP_CONNECTIONS_MAX; more only measures refusals
ACCOUNTS_MAX = 100_000  # one JWT minted per account up front


class ProfileError(ValueError):
    """A profile is invalid; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class Phase:
    """A stretch of the run: constant rate (rate_from == rate_to) or a linear ramp."""

    name: str
    duration_sec: float
    rate_from_per_sec: float
    rate_to_per_sec: float

    @property
    def request_count(self) -> int:
        return round((self.rate_from_per_sec + self.rate_to_per_sec) / 2 * self.duration_sec)


@dataclass(frozen=True, slots=True)
class Profile:
    """A validated load profile."""

    name: str
    path: str
    description: str
    endpoint: str
    ack_mode: str
    mode: str
    connections: int
    phases: tuple[Phase, ...]
    accounts: int
    symbol_weights: dict[str, float]
    order_mix: dict[str, float]
    cancel_ratio: float
    qty_min: int
    qty_max: int
    price_offset_ticks_min: int
    price_offset_ticks_max: int
    timeout_sec: float
    seed: int
    slo_profile: str
    warmup_sec: float = 0.0
    tags: tuple[str, ...] = field(default=())

    @property
    def duration_sec(self) -> float:
        return sum(phase.duration_sec for phase in self.phases)

    @property
    def request_count(self) -> int:
        return sum(phase.request_count for phase in self.phases)

    @property
    def rate_asked_per_sec(self) -> float:
        """The mean rate the schedule asks for over the whole run."""
        return self.request_count / self.duration_sec

    def with_overrides(
        self,
        *,
        rate_per_sec: float | None = None,
        duration_sec: float | None = None,
        connections: int | None = None,
        mode: str | None = None,
        ack_mode: str | None = None,
        accounts: int | None = None,
        warmup_sec: float | None = None,
    ) -> "Profile":
        """A copy with command-line overrides applied and checked like the file's values."""
        phases = self.phases
        if rate_per_sec is not None:
            _check_range("rate", rate_per_sec, 0.001, RATE_PER_SEC_MAX, self.path)
            total = duration_sec if duration_sec is not None else self.duration_sec
            phases = (Phase("constant", total, rate_per_sec, rate_per_sec),)
        elif duration_sec is not None:
            _check_range("duration", duration_sec, 0.001, DURATION_SEC_MAX, self.path)
            scale = duration_sec / self.duration_sec
            phases = tuple(replace(p, duration_sec=p.duration_sec * scale) for p in phases)
        if warmup_sec is None:
            # Keep warm-up the same share of the run when its length changes.
            warmup_sec = self.warmup_sec * sum(p.duration_sec for p in phases) / self.duration_sec
        updated = replace(
            self,
            phases=phases,
            connections=connections if connections is not None else self.connections,
            mode=mode if mode is not None else self.mode,
            ack_mode=ack_mode if ack_mode is not None else self.ack_mode,
            accounts=accounts if accounts is not None else self.accounts,
            warmup_sec=warmup_sec,
        )
        _check_profile(updated)
        return updated

    def describe(self) -> dict[str, Any]:
        """The profile as recorded in a result document."""
        return {
            "name": self.name,
            "path": self.path,
            "endpoint": self.endpoint,
            "ackMode": self.ack_mode,
            "mode": self.mode,
            "connections": self.connections,
            "accounts": self.accounts,
            "durationSec": round(self.duration_sec, 3),
            "warmupSec": self.warmup_sec,
            "requestCount": self.request_count,
            "phases": [
                {
                    "name": p.name,
                    "durationSec": round(p.duration_sec, 3),
                    "rateFromPerSec": p.rate_from_per_sec,
                    "rateToPerSec": p.rate_to_per_sec,
                }
                for p in self.phases
            ],
            "symbolWeights": dict(self.symbol_weights),
            "orderMix": dict(self.order_mix),
            "cancelRatio": self.cancel_ratio,
            "seed": self.seed,
            "sloProfile": self.slo_profile,
        }


def resolve_profile_path(name_or_path: str) -> Path:
    """`steady` means bench/profiles/steady.yaml; anything with a slash or suffix is a path."""
    if "/" in name_or_path or name_or_path.endswith((".yaml", ".yml")):
        return Path(name_or_path)
    return paths.profiles_dir() / f"{name_or_path}.yaml"


def load_profile(name_or_path: str) -> Profile:
    """Read and validate a profile file."""
    path = resolve_profile_path(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ProfileError(f"{path}: cannot read profile: {error}") from None
    except yaml.YAMLError as error:
        raise ProfileError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise ProfileError(f"{path}: expected a mapping at the top level")
    return parse_profile(raw, str(path))


def parse_profile(raw: Mapping[str, Any], origin: str) -> Profile:
    """Build a Profile from parsed YAML; every error names `origin` and the field."""
    reader = _Reader(raw, origin)
    load = reader.mapping("load")
    target = reader.mapping("target")
    qty = reader.mapping("qty")
    offsets = reader.mapping("price_offset_ticks")
    profile = Profile(
        name=reader.text("name"),
        path=origin,
        description=str(raw.get("description", "")),
        endpoint=_Reader(target, origin, "target.").choice("endpoint", ENDPOINTS, "orders"),
        ack_mode=_Reader(target, origin, "target.").choice("ack", ACK_MODES, "fast"),
        mode=_Reader(load, origin, "load.").choice("mode", LOAD_MODES, "open"),
        connections=_Reader(load, origin, "load.").integer("connections", 1, CONNECTIONS_MAX),
        phases=_parse_phases(load.get("phases"), origin),
        accounts=reader.integer("accounts", 1, ACCOUNTS_MAX),
        symbol_weights=_parse_weights(raw.get("symbols"), origin, "symbols"),
        order_mix=_parse_weights(raw.get("order_mix"), origin, "order_mix", allowed=ORDER_KINDS),
        cancel_ratio=reader.number("cancel_ratio", 0.0, 0.95, default=0.0),
        qty_min=_Reader(qty, origin, "qty.").integer("min", 1, 10**9),
        qty_max=_Reader(qty, origin, "qty.").integer("max", 1, 10**9),
        price_offset_ticks_min=_Reader(offsets, origin, "price_offset_ticks.").integer(
            "min", -(10**6), 10**6
        ),
        price_offset_ticks_max=_Reader(offsets, origin, "price_offset_ticks.").integer(
            "max", -(10**6), 10**6
        ),
        timeout_sec=reader.number("timeout_sec", 0.01, 600.0, default=5.0),
        seed=reader.integer("seed", 0, 2**63 - 1, default=1),
        slo_profile=str(raw.get("slo_profile", "strict")),
        warmup_sec=_Reader(load, origin, "load.").number("warmup_sec", 0.0, 3600.0, default=0.0),
        tags=tuple(str(tag) for tag in raw.get("tags", ()) or ()),
    )
    _check_profile(profile)
    return profile


def _check_profile(profile: Profile) -> None:
    where = profile.path
    if profile.qty_min > profile.qty_max:
        raise ProfileError(f"{where}: qty.min {profile.qty_min} > qty.max {profile.qty_max}")
    if profile.price_offset_ticks_min > profile.price_offset_ticks_max:
        raise ProfileError(f"{where}: price_offset_ticks.min > price_offset_ticks.max")
    if profile.warmup_sec >= profile.duration_sec:
        raise ProfileError(
            f"{where}: load.warmup_sec {profile.warmup_sec} must be shorter than the run "
            f"({profile.duration_sec} s)"
        )
    if profile.request_count < 1:
        raise ProfileError(f"{where}: the phases ask for no requests at all")
    if profile.mode not in LOAD_MODES:
        raise ProfileError(f"{where}: load.mode {profile.mode!r} not in {LOAD_MODES}")
    if profile.ack_mode not in ACK_MODES:
        raise ProfileError(f"{where}: target.ack {profile.ack_mode!r} not in {ACK_MODES}")
    _check_range("connections", profile.connections, 1, CONNECTIONS_MAX, where)
    _check_range("accounts", profile.accounts, 1, ACCOUNTS_MAX, where)


def _check_range(name: str, value: float, low: float, high: float, where: str) -> None:
    if not low <= value <= high:
        raise ProfileError(f"{where}: {name}={value} outside [{low}, {high}]")


def _parse_phases(raw: Any, origin: str) -> tuple[Phase, ...]:
    if not isinstance(raw, list) or not raw:
        raise ProfileError(f"{origin}: load.phases must be a non-empty list")
    phases = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ProfileError(f"{origin}: load.phases[{index}] must be a mapping")
        reader = _Reader(item, origin, f"load.phases[{index}].")
        duration = reader.number("duration_sec", 0.001, DURATION_SEC_MAX)
        if "rate_per_sec" in item:
            rate_from = rate_to = reader.number("rate_per_sec", 0.0, RATE_PER_SEC_MAX)
        else:
            rate_from = reader.number("rate_from_per_sec", 0.0, RATE_PER_SEC_MAX)
            rate_to = reader.number("rate_to_per_sec", 0.0, RATE_PER_SEC_MAX)
        phases.append(Phase(str(item.get("name", f"phase{index}")), duration, rate_from, rate_to))
    return tuple(phases)


def _parse_weights(
    raw: Any, origin: str, field_name: str, allowed: tuple[str, ...] | None = None
) -> dict[str, float]:
    if raw is None and field_name == "symbols":
        return {symbol: 1.0 / len(DEFAULT_SYMBOLS) for symbol in DEFAULT_SYMBOLS}
    if not isinstance(raw, dict) or not raw:
        raise ProfileError(f"{origin}: {field_name} must be a non-empty mapping of weights")
    weights: dict[str, float] = {}
    for key, value in raw.items():
        name = str(key)
        if allowed is not None and name not in allowed:
            raise ProfileError(f"{origin}: {field_name}.{name} is not one of {allowed}")
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise ProfileError(f"{origin}: {field_name}.{name}={value!r} must be a number >= 0")
        weights[name] = float(value)
    total = sum(weights.values())
    if total <= 0:
        raise ProfileError(f"{origin}: {field_name} weights sum to zero")
    return {name: weight / total for name, weight in weights.items()}


class _Reader:
    """Typed access to one mapping of a profile, with errors naming the field."""

    def __init__(self, raw: Mapping[str, Any], origin: str, prefix: str = "") -> None:
        self._raw = raw
        self._origin = origin
        self._prefix = prefix

    def _fail(self, name: str, expected: str) -> ProfileError:
        value = self._raw.get(name)
        return ProfileError(f"{self._origin}: {self._prefix}{name}={value!r}: expected {expected}")

    def mapping(self, name: str) -> Mapping[str, Any]:
        value = self._raw.get(name, {})
        if not isinstance(value, dict):
            raise self._fail(name, "a mapping")
        return value

    def text(self, name: str) -> str:
        value = self._raw.get(name)
        if not isinstance(value, str) or not value:
            raise self._fail(name, "a non-empty string")
        return value

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self._raw.get(name, default)
        if value not in allowed:
            raise self._fail(name, f"one of {', '.join(allowed)}")
        return str(value)

    def integer(self, name: str, low: int, high: int, default: int | None = None) -> int:
        value = self._raw.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise self._fail(name, f"an integer in [{low}, {high}]")
        return value

    def number(self, name: str, low: float, high: float, default: float | None = None) -> float:
        value = self._raw.get(name, default)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise self._fail(name, f"a number in [{low}, {high}]")
        if not low <= float(value) <= high:
            raise self._fail(name, f"a number in [{low}, {high}]")
        return float(value)


def iter_offsets_ns(phases: tuple[Phase, ...]) -> Iterator[int]:
    """Intended send time of each request, in ns from the start of the run, non-decreasing.

    Within a ramp the k-th request is sent when the integral of the rate reaches k, so the
    arrival rate follows the ramp exactly (inverse of N(t) = r0*t + (r1-r0)*t^2/(2T)).
    """
    start_ns = 0
    for phase in phases:
        count = phase.request_count
        duration_ns = phase.duration_sec * 1e9
        r0 = phase.rate_from_per_sec / 1e9
        r1 = phase.rate_to_per_sec / 1e9
        slope = (r1 - r0) / duration_ns
        for k in range(count):
            if abs(slope) < 1e-30:
                t = k / r0
            else:
                t = (-r0 + math.sqrt(max(r0 * r0 + 2 * slope * k, 0.0))) / slope
            yield start_ns + int(t)
        start_ns += int(duration_ns)
