"""The etcd v3 client behind one small interface (`Etcd`), spoken through etcd's JSON gateway.

Why the JSON gateway and not a gRPC client: the ownership protocol needs etcd's own election
service (Campaign/Leader/Resign: lease-backed, run by etcd, not home-made), which none of the
Python clients that work with today's protobuf expose (aetcd 1.0 has KV, lease, watch and
lock only; etcd3 0.12 needs protobuf <= 3.20). etcd serves every v3 service, election
included, as JSON over HTTP on its client port (`/v3/...`), so one transport covers all of
it, fails over across ETCD_ENDPOINTS, runs on the gateway's own event loop with no gRPC
poller thread competing for the GIL, and every call takes its timeout at the call site.

This module owns the wire format (base64 keys and values, int64 as strings, proto3 JSON
defaults omitted) and endpoint failover. It knows nothing of engines or assignments.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

import orjson

from ._http import Endpoint, HTTPError, parse_endpoint, request, stream_lines

CAMPAIGN_TIMEOUT_S: Final = 24 * 3600.0  # a campaign blocks until elected; callers cancel it
_GRPC_UNAVAILABLE: Final = 14
_GRPC_NOT_FOUND: Final = 5


class EtcdError(Exception):
    """An etcd call failed. Operating error: callers back off and retry."""


class EtcdUnavailable(EtcdError):
    """No endpoint answered (refused, timed out, broken connection, no etcd leader)."""


class EtcdFailed(EtcdError):
    """etcd answered with an error (`code` is the gRPC status code)."""

    def __init__(self, message: str, *, status: int, code: int) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    lease: int


@dataclass(frozen=True, slots=True)
class LeaderKey:
    """What a won campaign holds: the election name, our candidate key and its revision."""

    name: str
    key: str
    rev: int
    lease: int
    elected_revision: int = 0  # store revision when the campaign was won


@dataclass(frozen=True, slots=True)
class WatchEvent:
    kind: Literal["PUT", "DELETE"]
    kv: KeyValue


@dataclass(frozen=True, slots=True)
class Compare:
    """One txn guard: `target` of `key` EQUAL `value` (a revision, or 0 for "absent")."""

    key: str
    target: Literal["CREATE", "MOD"]
    value: int


@dataclass(frozen=True, slots=True)
class Put:
    key: str
    value: bytes
    lease: int = 0


class Etcd(Protocol):
    """The operations the ownership protocol uses. Every call may raise EtcdError."""

    async def grant(self, ttl_s: int, *, timeout_s: float) -> tuple[int, int]:
        """A new lease: (lease id, granted TTL in seconds)."""
        ...

    async def keepalive(self, lease: int, *, timeout_s: float) -> int:
        """Refresh a lease; its TTL in seconds, 0 if the lease no longer exists."""
        ...

    async def revoke(self, lease: int, *, timeout_s: float) -> None:
        """Revoke a lease (its keys go with it); an unknown lease is not an error."""
        ...

    async def get(self, key: str, *, timeout_s: float) -> KeyValue | None: ...

    async def get_prefix(self, prefix: str, *, timeout_s: float) -> tuple[list[KeyValue], int]:
        """Every key under `prefix` and the store revision they were read at."""
        ...

    async def put(self, key: str, value: bytes, *, lease: int = 0, timeout_s: float) -> int:
        """Write; the new store revision."""
        ...

    async def delete(self, key: str, *, timeout_s: float) -> int:
        """Delete one key; how many were deleted (0 or 1)."""
        ...

    async def txn(
        self, compares: Sequence[Compare], puts: Sequence[Put], *, timeout_s: float
    ) -> tuple[bool, int]:
        """If every compare holds, apply the puts: (succeeded, store revision)."""
        ...

    async def campaign(self, name: str, *, lease: int, value: bytes) -> LeaderKey:
        """Block until elected leader of `name` (etcd's election service); cancel to stop."""
        ...

    async def leader(self, name: str, *, timeout_s: float) -> KeyValue | None:
        """The current leader's proclamation, or None when nobody leads."""
        ...

    async def resign(self, leader: LeaderKey, *, timeout_s: float) -> None: ...

    def watch_prefix(self, prefix: str, *, start_revision: int) -> AsyncIterator[list[WatchEvent]]:
        """Batches of changes under `prefix` from `start_revision`; raises EtcdError on loss."""
        ...

    @property
    def endpoint(self) -> str:
        """The endpoint that answered last (for logs and status)."""
        ...


def parse_endpoints(raw: Sequence[str]) -> tuple[Endpoint, ...]:
    """ETCD_ENDPOINTS entries -> endpoints (ValueError names the bad entry)."""
    return tuple(parse_endpoint(item) for item in raw)


def prefix_end(prefix: str) -> str:
    """The exclusive end of the range holding every key that starts with `prefix`."""
    assert prefix, "an empty prefix would mean the whole keyspace"
    assert prefix.isascii(), prefix
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class EtcdGateway:
    """`Etcd` over etcd's JSON gateway (`/v3/...` on the client port), with failover."""

    def __init__(self, endpoints: Sequence[Endpoint]) -> None:
        assert endpoints, "at least one etcd endpoint"
        self._endpoints = tuple(endpoints)
        self._preferred = 0  # index of the endpoint that answered last

    @property
    def endpoint(self) -> str:
        return self._endpoints[self._preferred].url

    # --- leases ---------------------------------------------------------------------------

    async def grant(self, ttl_s: int, *, timeout_s: float) -> tuple[int, int]:
        answer = await self._call("/v3/lease/grant", {"TTL": ttl_s}, timeout_s)
        if answer.get("error"):
            raise EtcdFailed(f"lease grant: {answer['error']}", status=200, code=0)
        return int(answer["ID"]), int(answer.get("TTL", 0))

    async def keepalive(self, lease: int, *, timeout_s: float) -> int:
        answer = await self._call("/v3/lease/keepalive", {"ID": str(lease)}, timeout_s)
        result = answer.get("result", answer)
        return max(0, int(result.get("TTL", 0)))

    async def revoke(self, lease: int, *, timeout_s: float) -> None:
        try:
            await self._call("/v3/lease/revoke", {"ID": str(lease)}, timeout_s)
        except EtcdFailed as error:
            if error.code != _GRPC_NOT_FOUND:
                raise

    # --- keys -----------------------------------------------------------------------------

    async def get(self, key: str, *, timeout_s: float) -> KeyValue | None:
        answer = await self._call("/v3/kv/range", {"key": _b64(key)}, timeout_s)
        kvs = answer.get("kvs") or []
        return _kv(kvs[0]) if kvs else None

    async def get_prefix(self, prefix: str, *, timeout_s: float) -> tuple[list[KeyValue], int]:
        body = {"key": _b64(prefix), "range_end": _b64(prefix_end(prefix))}
        answer = await self._call("/v3/kv/range", body, timeout_s)
        return [_kv(item) for item in answer.get("kvs") or []], _revision(answer)

    async def put(self, key: str, value: bytes, *, lease: int = 0, timeout_s: float) -> int:
        body: dict[str, Any] = {"key": _b64(key), "value": _b64(value)}
        if lease:
            body["lease"] = str(lease)
        return _revision(await self._call("/v3/kv/put", body, timeout_s))

    async def delete(self, key: str, *, timeout_s: float) -> int:
        answer = await self._call("/v3/kv/deleterange", {"key": _b64(key)}, timeout_s)
        return int(answer.get("deleted", 0))

    async def txn(
        self, compares: Sequence[Compare], puts: Sequence[Put], *, timeout_s: float
    ) -> tuple[bool, int]:
        body = {
            "compare": [_compare(item) for item in compares],
            "success": [{"request_put": _put(item)} for item in puts],
        }
        answer = await self._call("/v3/kv/txn", body, timeout_s)
        return bool(answer.get("succeeded", False)), _revision(answer)

    # --- election (etcd's v3election service) ---------------------------------------------

    async def campaign(self, name: str, *, lease: int, value: bytes) -> LeaderKey:
        body = {"name": _b64(name), "lease": str(lease), "value": _b64(value)}
        answer = await self._call("/v3/election/campaign", body, CAMPAIGN_TIMEOUT_S)
        return _leader_key(answer["leader"], _revision(answer))

    async def leader(self, name: str, *, timeout_s: float) -> KeyValue | None:
        try:
            answer = await self._call("/v3/election/leader", {"name": _b64(name)}, timeout_s)
        except EtcdFailed as error:
            if "no leader" in str(error):
                return None
            raise
        kv = answer.get("kv")
        return _kv(kv) if kv else None

    async def resign(self, leader: LeaderKey, *, timeout_s: float) -> None:
        body = {
            "leader": {
                "name": _b64(leader.name),
                "key": _b64(leader.key),
                "rev": str(leader.rev),
                "lease": str(leader.lease),
            }
        }
        await self._call("/v3/election/resign", body, timeout_s)

    # --- watch ----------------------------------------------------------------------------

    async def watch_prefix(
        self, prefix: str, *, start_revision: int
    ) -> AsyncIterator[list[WatchEvent]]:
        request_body = {
            "create_request": {
                "key": _b64(prefix),
                "range_end": _b64(prefix_end(prefix)),
                "start_revision": str(start_revision),
            }
        }
        endpoint = self._endpoints[self._preferred]
        lines = stream_lines(
            endpoint, "/v3/watch", orjson.dumps(request_body), connect_timeout_s=2.0
        )
        try:
            async for line in lines:
                result = orjson.loads(line).get("result") or {}
                if result.get("canceled") or int(result.get("compact_revision", 0)):
                    raise EtcdFailed(
                        f"watch canceled at {endpoint.url}: {result.get('cancel_reason', '')}"
                        f" (compacted to {result.get('compact_revision', 0)})",
                        status=200,
                        code=0,
                    )
                events = result.get("events")
                if events:
                    yield [_event(item) for item in events]
        except HTTPError as error:
            self._preferred = (self._preferred + 1) % len(self._endpoints)
            raise EtcdUnavailable(f"watch stream lost: {error}") from error
        except orjson.JSONDecodeError as error:
            raise EtcdUnavailable(f"watch stream from {endpoint.url}: bad JSON") from error
        finally:
            await lines.aclose()

    # --- transport ------------------------------------------------------------------------

    async def _call(self, path: str, body: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """POST to the preferred endpoint, then the others; the first real answer wins."""
        payload = orjson.dumps(body)
        failures: list[str] = []
        count = len(self._endpoints)
        for step in range(count):
            index = (self._preferred + step) % count
            endpoint = self._endpoints[index]
            try:
                reply = await request(endpoint, "POST", path, payload, timeout_s=timeout_s)
            except HTTPError as error:
                failures.append(str(error))
                continue
            answer = _decode(reply.body, endpoint, path)
            if reply.status == 200:
                self._preferred = index
                return answer
            code = int(answer.get("code", 0))
            message = str(answer.get("message") or answer.get("error") or reply.body[:200])
            if reply.status == 503 or code == _GRPC_UNAVAILABLE:
                failures.append(f"{endpoint.url}{path}: {message}")
                continue
            self._preferred = index
            raise EtcdFailed(f"{path}: {message}", status=reply.status, code=code)
        raise EtcdUnavailable("; ".join(failures))


def _decode(body: bytes, endpoint: Endpoint, path: str) -> dict[str, Any]:
    try:
        answer = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError as error:
        raise EtcdUnavailable(f"{endpoint.url}{path}: not JSON: {body[:100]!r}") from error
    if not isinstance(answer, dict):
        raise EtcdUnavailable(f"{endpoint.url}{path}: not a JSON object")
    return answer


def _b64(value: str | bytes) -> str:
    data = value.encode() if isinstance(value, str) else value
    return base64.b64encode(data).decode("ascii")


def _unb64(value: str | None) -> bytes:
    return base64.b64decode(value) if value else b""


def _revision(answer: dict[str, Any]) -> int:
    return int((answer.get("header") or {}).get("revision", 0))


def _kv(item: dict[str, Any]) -> KeyValue:
    return KeyValue(
        key=_unb64(item.get("key")).decode(),
        value=_unb64(item.get("value")),
        create_revision=int(item.get("create_revision", 0)),
        mod_revision=int(item.get("mod_revision", 0)),
        lease=int(item.get("lease", 0)),
    )


def _event(item: dict[str, Any]) -> WatchEvent:
    kind: Literal["PUT", "DELETE"] = "DELETE" if item.get("type") == "DELETE" else "PUT"
    return WatchEvent(kind, _kv(item.get("kv") or {}))


def _leader_key(item: dict[str, Any], elected_revision: int) -> LeaderKey:
    return LeaderKey(
        name=_unb64(item.get("name")).decode(),
        key=_unb64(item.get("key")).decode(),
        rev=int(item.get("rev", 0)),
        lease=int(item.get("lease", 0)),
        elected_revision=elected_revision,
    )


def _compare(item: Compare) -> dict[str, str]:
    field = "create_revision" if item.target == "CREATE" else "mod_revision"
    return {"target": item.target, "result": "EQUAL", "key": _b64(item.key), field: str(item.value)}


def _put(item: Put) -> dict[str, str]:
    body = {"key": _b64(item.key), "value": _b64(item.value)}
    if item.lease:
        body["lease"] = str(item.lease)
    return body
