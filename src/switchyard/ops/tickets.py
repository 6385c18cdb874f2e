"""One-time stream tickets: how a browser's EventSource authenticates an SSE stream.

EventSource cannot send an Authorization header. Putting the bearer token itself in the URL
would leak a long-lived credential into URLs (history, proxies, logs). Instead the UI trades
its token (sent in the header of `POST /ui/api/stream-ticket`) for a ticket that is random
(256 bits), valid for a few seconds, usable once, and only by the stream endpoints
(`adapters.api_common.authenticate_stream`). The ticket stands for the same principal, and
never outlives the token it came from. A stream reconnecting after an error asks for a new
ticket (the UI does that, resuming with `lastEventId`).

Bounded: at most TICKETS_MAX outstanding; expired ones are swept on each issue, and beyond
the bound an issue is refused (the caller answers 503). Lives on the event loop.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Final

from switchyard.adapters.auth import Principal

TICKET_TTL_S: Final = (
    30.0  # long enough to open a stream after asking; short enough to be useless later
)
TICKETS_MAX: Final = 4_096  # outstanding (issued and not yet used or expired)
TICKET_LENGTH_MAX: Final = 64  # characters; longer query values are refused unparsed


class StreamTickets:
    """Issue and redeem single-use stream tickets."""

    __slots__ = ("_now_s", "_tickets", "issued_total", "redeemed_total", "refused_total")

    def __init__(self, now_s: Callable[[], float] = time.monotonic) -> None:
        self._now_s = now_s
        self._tickets: dict[str, tuple[Principal, float]] = {}  # ticket -> (who, expires at)
        self.issued_total = 0
        self.redeemed_total = 0
        self.refused_total = 0  # unknown, reused or expired tickets presented

    def __len__(self) -> int:
        return len(self._tickets)

    def issue(self, principal: Principal, *, wall_now_s: float) -> tuple[str, float] | None:
        """A new ticket and its lifetime in seconds; None when too many are outstanding.

        `wall_now_s` is the wall clock, to cap the lifetime at the token's own `exp`.
        """
        now = self._now_s()
        if len(self._tickets) >= TICKETS_MAX:
            self._sweep(now)
            if len(self._tickets) >= TICKETS_MAX:
                return None
        ttl_s = min(TICKET_TTL_S, principal.expires_at_s - wall_now_s)
        if ttl_s <= 0:
            return None
        ticket = secrets.token_urlsafe(32)
        assert len(ticket) <= TICKET_LENGTH_MAX
        self._tickets[ticket] = (principal, now + ttl_s)
        self.issued_total += 1
        return ticket, ttl_s

    def redeem(self, ticket: str) -> Principal | None:
        """The principal of a valid ticket, which is used up; None otherwise."""
        entry = self._tickets.pop(ticket, None) if len(ticket) <= TICKET_LENGTH_MAX else None
        if entry is None or entry[1] < self._now_s():
            self.refused_total += 1
            return None
        self.redeemed_total += 1
        return entry[0]

    def _sweep(self, now: float) -> None:
        expired = [ticket for ticket, (_, expires) in self._tickets.items() if expires < now]
        for ticket in expired:
            del self._tickets[ticket]
