"""The listening server: shared state of its connections, the sweeper, start and shutdown.

The sweeper runs once a second: it advances the coarse clock used for deadlines, refreshes
the cached `date` header, and enforces head/body/idle deadlines. Shutdown stops accepting,
lets in-flight requests finish (bounded), then closes what is left.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections import Counter
from dataclasses import dataclass

from switchyard.core import limits as L

from .messages import EarlyCheck
from .protocol import HTTPProtocol
from .router import Router

_S_TO_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class HTTPLimits:
    body_max_bytes: int = L.HTTP_BODY_SIZE_MAX_BYTES
    head_max_bytes: int = L.HTTP_HEADER_SIZE_MAX_BYTES
    header_count_max: int = L.HTTP_HEADER_COUNT_MAX
    url_max_bytes: int = L.HTTP_URL_SIZE_MAX_BYTES
    header_timeout_ns: int = int(L.HTTP_HEADER_TIMEOUT_S * _S_TO_NS)
    body_timeout_ns: int = int(L.HTTP_BODY_TIMEOUT_S * _S_TO_NS)
    keepalive_idle_ns: int = int(L.HTTP_KEEPALIVE_IDLE_S * _S_TO_NS)
    connections_max: int = L.HTTP_CONNECTIONS_MAX
    pipeline_depth_max: int = L.HTTP_PIPELINE_DEPTH_MAX
    stream_buffer_max_bytes: int = L.HTTP_WRITE_BUFFER_HIGH_BYTES * 4
    sweep_interval_s: float = 1.0  # deadline resolution; tests shorten it

    def __post_init__(self) -> None:
        assert self.body_max_bytes > 0
        assert self.url_max_bytes < self.head_max_bytes
        assert self.connections_max > 0
        assert self.pipeline_depth_max > 0


class ServerState:
    """What all connections of one server share. Mutated only on the event loop."""

    __slots__ = (
        "_early_registered",
        "closing",
        "coarse_ns",
        "connections",
        "counters",
        "date_header",
        "dirty",
        "early",
        "flush_scheduled",
        "limits",
        "loop",
        "responses",
        "router",
    )

    def __init__(self, router: Router, limits: HTTPLimits) -> None:
        self.router = router
        self.limits = limits
        self.connections: set[HTTPProtocol] = set()
        self.counters: Counter[str] = Counter()
        self.responses: Counter[int] = Counter()  # responses written, by status code
        # path -> (method, check): the early checks in force (armed); the protocol reads this
        self.early: dict[bytes, tuple[bytes, EarlyCheck]] = {}
        self._early_registered: dict[bytes, tuple[bytes, EarlyCheck]] = {}
        self.dirty: list[HTTPProtocol] = []  # connections holding answers for this iteration
        self.flush_scheduled = False
        self.loop: asyncio.AbstractEventLoop | None = None  # asyncio's lookup costs a getpid()
        self.closing = False
        self.coarse_ns = time.monotonic_ns()
        self.date_header = b""
        self.tick()

    def answer_early(
        self, method: str, path: str, check: EarlyCheck, *, armed: bool = True
    ) -> None:
        """Ask `check(headers, body)` about every complete `method path` request (any query)
        before it is routed, while armed (`arm_early`): a Response answers it there and then,
        None routes it as usual. Disarmed, requests pay one dict test: arm it only while the
        check may answer (backpressure: while shedding).

        For refusals that must stay cheap under overload (backpressure sheds orders without
        building a Request, routing or running the handler). Only keep-alive requests with
        nothing pending on their connection are asked, so the answer is written at once and
        in order; the others, and everything `check` lets through, take the usual path. The
        answer must be what the route's handler would answer (the check owns that).
        """
        assert path.startswith("/"), path
        assert "?" not in path, path
        key = path.encode("latin-1")
        assert key not in self._early_registered, f"{method} {path}: one early check per path"
        self._early_registered[key] = (method.encode("latin-1"), check)
        self.arm_early(path, armed=armed)

    def arm_early(self, path: str, *, armed: bool) -> None:
        """Put the early check registered for `path` in force, or take it out."""
        key = path.encode("latin-1")
        if armed:
            self.early[key] = self._early_registered[key]
        else:
            self.early.pop(key, None)

    def mark_dirty(self, protocol: HTTPProtocol) -> None:
        """`protocol` holds answers: write them (all connections') at the end of this loop
        iteration, in the order the connections first held one."""
        self.dirty.append(protocol)
        if not self.flush_scheduled:
            self.flush_scheduled = True
            loop = self.loop
            if loop is None:
                self.loop = loop = asyncio.get_running_loop()
            loop.call_soon(self.flush)

    def flush(self) -> None:
        self.flush_scheduled = False
        dirty = self.dirty
        self.dirty = []
        for protocol in dirty:
            protocol.flush_out()

    def tick(self) -> None:
        """Advance the coarse clock and the date header; expire deadlines."""
        self.coarse_ns = now = time.monotonic_ns()
        self.date_header = b"date: %s\r\n" % email.utils.formatdate(usegmt=True).encode()
        expired = [c for c in self.connections if c.deadline_ns and c.deadline_ns <= now]
        for connection in expired:
            connection.on_deadline()


class HTTPServer:
    """One listening socket serving a Router."""

    def __init__(self, router: Router, limits: HTTPLimits | None = None) -> None:
        self.state = ServerState(router, limits or HTTPLimits())
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self.port = 0

    async def start(self, host: str, port: int, *, backlog: int = 1024) -> None:
        loop = asyncio.get_running_loop()
        state = self.state
        state.loop = loop
        self._server = await loop.create_server(
            lambda: HTTPProtocol(state), host, port, backlog=backlog, reuse_address=True
        )
        sockets = self._server.sockets
        self.port = sockets[0].getsockname()[1] if sockets else port
        self._schedule_sweep(loop)

    def _schedule_sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        interval = self.state.limits.sweep_interval_s

        def sweep() -> None:
            self.state.tick()
            self._sweeper = loop.call_later(interval, sweep)

        self._sweeper = loop.call_later(interval, sweep)

    async def shutdown(self, grace_s: float = 5.0) -> None:
        """Stop accepting, give in-flight requests `grace_s` to finish, close the rest."""
        state = self.state
        state.closing = True
        if self._server is not None:
            self._server.close()
        deadline = time.monotonic() + grace_s
        # A bounded grace-period poll at shutdown; nothing to signal on.
        while time.monotonic() < deadline and any(c.pending for c in state.connections):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        for connection in list(state.connections):
            connection.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is not None:
            await self._server.wait_closed()
