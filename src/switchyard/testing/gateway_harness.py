"""Run a real gateway process for tests: `switchyard run` on a free port with its own data dir.

    with GatewayProcess(tmp_path, env={"RISK_MAX_QTY": "50"}) as gw:
        client = gw.client("alice")
        status, body = client.post("/orders", {...})
        gw.kill()        # SIGKILL, like a crash
        gw.start()       # recovers from the same data dir

The client is a small keep-alive HTTP/1.1 client on a raw socket (stdlib only), so tests see
exactly the bytes the server sends.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from switchyard.adapters.auth import load_or_create_dev_secret, mint_token

START_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class HTTPResult:
    """One response: status, headers (lower-case names), raw body and its JSON."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"HTTPResult({self.status}, {self.body[:300]!r})"


class Client:
    """A keep-alive HTTP/1.1 client with a bearer token (or none)."""

    def __init__(self, port: int, token: str | None, timeout_s: float = 10.0) -> None:
        self.port = port
        self.token = token
        self.timeout_s = timeout_s
        self._sock: socket.socket | None = None
        self._buffer = b""

    def _connect(self) -> socket.socket:
        if self._sock is None:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout_s)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock = sock
            self._buffer = b""
        return self._sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __del__(self) -> None:  # tests drop clients freely; never leak their sockets
        self.close()

    def request(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        headers: Mapping[str, str] | None = None,
        raw_body: bytes | None = None,
    ) -> HTTPResult:
        payload = (
            raw_body
            if raw_body is not None
            else (b"" if body is None else json.dumps(body).encode())
        )
        lines = [f"{method} {path} HTTP/1.1", "host: 127.0.0.1"]
        if self.token is not None:
            lines.append(f"authorization: Bearer {self.token}")
        if payload or method in ("POST", "PUT"):
            lines.append(f"content-length: {len(payload)}")
            if body is not None:
                lines.append("content-type: application/json")
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
        for attempt in (1, 2):
            sock = self._connect()
            try:
                sock.sendall(data)
                return self._read_response(method)
            except (ConnectionError, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def get(self, path: str, **kwargs: Any) -> HTTPResult:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: object = None, **kwargs: Any) -> HTTPResult:
        return self.request("POST", path, body, **kwargs)

    def put(self, path: str, body: object = None, **kwargs: Any) -> HTTPResult:
        return self.request("PUT", path, body, **kwargs)

    def _read_response(self, method: str) -> HTTPResult:
        while b"\r\n\r\n" not in self._buffer:
            self._fill()
        head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if method == "HEAD":
            length = 0
        while len(self._buffer) < length:
            self._fill()
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        if headers.get("connection") == "close":
            self.close()
        return HTTPResult(status, headers, body)

    def _fill(self) -> None:
        assert self._sock is not None
        chunk = self._sock.recv(65536)
        if not chunk:
            self.close()
            raise ConnectionError("the server closed the connection")
        self._buffer += chunk

    def stream(self, path: str, *, headers: Mapping[str, str] | None = None) -> SSEReader:
        """Open an SSE stream on its own connection."""
        return SSEReader(self.port, path, self.token, headers or {}, self.timeout_s)


class SSEReader:
    """Reads SSE events: `next_event()` -> (id or None, event name, data dict)."""

    def __init__(
        self, port: int, path: str, token: str | None, headers: Mapping[str, str], timeout_s: float
    ) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
        lines = [f"GET {path} HTTP/1.1", "host: 127.0.0.1", "accept: text/event-stream"]
        if token is not None:
            lines.append(f"authorization: Bearer {token}")
        lines.extend(f"{k}: {v}" for k, v in headers.items())
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        self.status = int(head.split(b" ", 2)[1])

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("stream closed")
        self.buffer += chunk

    def next_event(self, timeout_s: float = 5.0) -> tuple[int | None, str, dict[str, Any]]:
        self.sock.settimeout(timeout_s)
        while True:
            while b"\n\n" not in self.buffer:
                self._fill()
            block, self.buffer = self.buffer.split(b"\n\n", 1)
            event_id: int | None = None
            name = "message"
            data = ""
            for line in block.decode().split("\n"):
                if line.startswith("id: "):
                    event_id = int(line[4:])
                elif line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    data += line[6:]
            if data:
                return event_id, name, json.loads(data)

    def close(self) -> None:
        self.sock.close()

    def __del__(self) -> None:
        self.sock.close()


class GatewayProcess:
    """A `switchyard run` subprocess with its own data dir and port."""

    def __init__(
        self,
        data_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        command: tuple[str, ...] = ("run",),
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.command = command
        self.env = {
            **os.environ,
            "SWITCHYARD_DATA_DIR": str(data_dir),
            "GATEWAY_PORT": str(self.port),
            "GATEWAY_HOST": "127.0.0.1",
            "VENUE_LIQUIDITY": "0",
            # 4 MiB segments: every start zero-fills a segment and a spare (64 MiB each by
            # default), which adds up over hundreds of restarts; small ones also exercise rolls.
            "WAL_SEGMENT_SIZE_BYTES": str(4 * 1024 * 1024),
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / f"gateway-{self.port}.log"

    def __enter__(self) -> GatewayProcess:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, *, wait: bool = True) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self.process = subprocess.Popen(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "switchyard", *self.command],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.process.returncode}:\n{self.log()}")
            probe = Client(self.port, None, timeout_s=1)
            with contextlib.suppress(OSError):
                status = probe.get("/health").status
                probe.close()
                if status in (200, 503):
                    return
            probe.close()
            time.sleep(0.05)
        raise TimeoutError(f"gateway not ready after {timeout_s}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except FileNotFoundError:
            return ""

    def secret(self) -> bytes:
        explicit = self.env.get("JWT_HS256_SECRET")
        if explicit:
            return explicit.encode()
        return load_or_create_dev_secret(self.data_dir / "secrets" / "jwt-hs256.key").encode()

    def token(self, account: str, *, role: str = "", ttl_s: int = 3600) -> str:
        return mint_token(self.secret(), account, role=role, ttl_s=ttl_s)

    def client(self, account: str | None = None, *, role: str = "") -> Client:
        token = self.token(account, role=role) if account is not None else None
        return Client(self.port, token)

    def kill(self) -> None:
        """SIGKILL: the process dies at once, as in a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, timeout_s: float = 15.0) -> int | None:
        """SIGTERM and wait (graceful shutdown); SIGKILL if it does not stop in time."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        return process.returncode

    @contextlib.contextmanager
    def running(self) -> Iterator[GatewayProcess]:
        self.start()
        try:
            yield self
        finally:
            self.stop()
