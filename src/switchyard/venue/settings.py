"""Venue settings: every environment variable the venue and its transports read.

Owns the declarations (core.env.declare) and `VenueSettings`, the parsed, validated set.
`EXCHANGE_*` names are the seed's; `VENUE_*` are new. Reads only the mapping passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from switchyard.book.spec import SymbolSpec, parse_symbol_specs
from switchyard.core.enums import SelfTradePolicy
from switchyard.core.env import boolean, choice, declare, integer, number, text
from switchyard.core.limits import VENUE_FINAL_ORDERS_RETAINED_MAX as FINAL_ORDERS_RETAINED_MAX

SECTION = "venue"

VENUE_SYMBOLS = declare(
    "VENUE_SYMBOLS",
    "BTC,ETH,7203,6758,9984",
    "Symbols the venue trades: SYM or SYM:reference:tick:lot:band_bps (ticks, lots, bps)",
    parse_symbol_specs,
    section=SECTION,
)
VENUE_LIQUIDITY = declare(
    "VENUE_LIQUIDITY",
    "on",
    "Simulated market makers quote every symbol (off: an empty book, for deterministic tests)",
    boolean,
    section=SECTION,
)
VENUE_MM_SPREAD_BPS = declare(
    "VENUE_MM_SPREAD_BPS",
    "10",
    "Market makers' quoted spread around the reference price, in basis points (min 2 ticks)",
    number(0.0, 10_000.0),
    section=SECTION,
)
VENUE_MM_LEVEL_STEP_BPS = declare(
    "VENUE_MM_LEVEL_STEP_BPS",
    "5",
    "Distance between two quoted price levels, in basis points (min 1 tick)",
    number(0.0, 10_000.0),
    section=SECTION,
)
VENUE_MM_DEPTH = declare(
    "VENUE_MM_DEPTH",
    "5",
    "Price levels quoted on each side per symbol",
    integer(1, 100),
    section=SECTION,
)
VENUE_MM_QUOTE_LOTS = declare(
    "VENUE_MM_QUOTE_LOTS",
    "10",
    "Mean quote size per level, in lot-size units (each quote is 50-150 % of it)",
    integer(1, 1_000_000),
    section=SECTION,
)
VENUE_MM_VOLATILITY_BPS = declare(
    "VENUE_MM_VOLATILITY_BPS",
    "2",
    "Standard deviation of the reference price's random walk per tick, in basis points",
    number(0.0, 1_000.0),
    section=SECTION,
)
VENUE_MM_TICK_MS = declare(
    "VENUE_MM_TICK_MS",
    "200",
    "Market-maker and GTD-expiry timer period, in milliseconds",
    integer(10, 60_000),
    section=SECTION,
)
VENUE_SEED = declare(
    "VENUE_SEED",
    "42",
    "Seed of the simulated liquidity's PRNG (same seed, same quotes)",
    integer(0),
    section=SECTION,
)
VENUE_STP_POLICY = declare(
    "VENUE_STP_POLICY",
    "CANCEL_RESTING",
    "Self-trade prevention by account: CANCEL_RESTING, CANCEL_INCOMING, CANCEL_BOTH or ALLOW",
    choice(*SelfTradePolicy.__members__),
    section=SECTION,
)
EXCHANGE_TRANSPORT = declare(
    "EXCHANGE_TRANSPORT",
    "sim",
    "How the gateway reaches the venue: sim (in-process) or tcp (`switchyard venue`)",
    choice("sim", "tcp"),
    section=SECTION,
)
EXCHANGE_SIM_DELAY_MS = declare(
    "EXCHANGE_SIM_DELAY_MS",
    "0",
    "Artificial latency of the in-process venue before it handles a request, in milliseconds",
    number(0.0, 60_000.0),
    section=SECTION,
)
EXCHANGE_TCP_HOST = declare(
    "EXCHANGE_TCP_HOST",
    "127.0.0.1",
    "Host of the TCP venue the gateway connects to",
    text,
    section=SECTION,
)
EXCHANGE_TCP_PORT = declare(
    "EXCHANGE_TCP_PORT",
    "9901",
    "TCP port of the venue (`switchyard venue` listens on it; the gateway connects to it)",
    integer(1, 65_535),
    section=SECTION,
)
EXCHANGE_TCP_BIND = declare(
    "EXCHANGE_TCP_BIND",
    "127.0.0.1",
    "Address `switchyard venue` listens on (0.0.0.0 for every interface)",
    text,
    section=SECTION,
)
EXCHANGE_TCP_SESSION = declare(
    "EXCHANGE_TCP_SESSION",
    "gateway",
    "Session name the gateway gives the TCP venue; a reconnect with it gets its orders' reports",
    text,
    section=SECTION,
)
VENUE_FINAL_ORDERS_RETAINED_MAX = declare(
    "VENUE_FINAL_ORDERS_RETAINED_MAX",
    str(FINAL_ORDERS_RETAINED_MAX),
    "Finished orders the venue remembers (for duplicate ids and STATUS), oldest forgotten first; "
    "bounds its memory (~130 B each)",
    integer(1, 10_000_000),
    section=SECTION,
)
VENUE_METRICS_PORT = declare(
    "VENUE_METRICS_PORT",
    "9902",
    "Prometheus metrics port of `switchyard venue` (0 = off)",
    integer(0, 65_535),
    section=SECTION,
)


@dataclass(frozen=True, slots=True)
class LiquidityConfig:
    """How the simulated market makers quote."""

    spread_bps: float = 10.0
    level_step_bps: float = 5.0
    depth: int = 5
    quote_lots: int = 10
    volatility_bps: float = 2.0


@dataclass(frozen=True, slots=True)
class VenueSettings:
    """Everything the venue and its transports are configured with."""

    specs: tuple[SymbolSpec, ...]
    liquidity: bool
    liquidity_config: LiquidityConfig
    tick_ms: int
    seed: int
    stp_policy: SelfTradePolicy
    transport: str
    sim_delay_ms: float
    tcp_host: str
    tcp_port: int
    tcp_bind: str
    tcp_session: str
    metrics_port: int
    final_retained_max: int = FINAL_ORDERS_RETAINED_MAX

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> VenueSettings:
        """Parse every venue variable; a bad value raises ConfigError naming it."""
        session = EXCHANGE_TCP_SESSION.read(environ)
        if not session or len(session) > 64 or not session.isprintable():
            from switchyard.core.env import ConfigError

            raise ConfigError(f"EXCHANGE_TCP_SESSION={session!r}: 1..64 printable characters")
        return cls(
            specs=VENUE_SYMBOLS.read(environ),
            liquidity=VENUE_LIQUIDITY.read(environ),
            liquidity_config=LiquidityConfig(
                spread_bps=VENUE_MM_SPREAD_BPS.read(environ),
                level_step_bps=VENUE_MM_LEVEL_STEP_BPS.read(environ),
                depth=VENUE_MM_DEPTH.read(environ),
                quote_lots=VENUE_MM_QUOTE_LOTS.read(environ),
                volatility_bps=VENUE_MM_VOLATILITY_BPS.read(environ),
            ),
            tick_ms=VENUE_MM_TICK_MS.read(environ),
            seed=VENUE_SEED.read(environ),
            stp_policy=SelfTradePolicy[VENUE_STP_POLICY.read(environ)],
            transport=EXCHANGE_TRANSPORT.read(environ),
            sim_delay_ms=EXCHANGE_SIM_DELAY_MS.read(environ),
            tcp_host=EXCHANGE_TCP_HOST.read(environ),
            tcp_port=EXCHANGE_TCP_PORT.read(environ),
            tcp_bind=EXCHANGE_TCP_BIND.read(environ),
            tcp_session=session,
            metrics_port=VENUE_METRICS_PORT.read(environ),
            final_retained_max=VENUE_FINAL_ORDERS_RETAINED_MAX.read(environ),
        )
