"""deploy/nginx: `nginx -t` on the shipped files, then nginx in front of a live gateway.

The live test copies the shipped configuration, changes only the listen address and the
upstream ports, and checks through nginx: the UI page and an asset, the order API, the
gateway's /api/ routes, an SSE stream that delivers a new order's events at once and resumes
with Last-Event-ID, the back office under /backoffice/, nginx's own 413 for an oversized body,
and /metrics refused to a non-internal address.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from switchyard.core import env
from switchyard.testing.gateway_harness import GatewayProcess
from tests.deploy import shipped
from tests.fixtures.prometheus import JWT_SECRET, ServiceProcess, http_get, wait_for
from tests.fixtures.services import free_port, require_service

pytestmark = pytest.mark.services

NGINX_DIR = shipped.DEPLOY / "nginx"
SSE_PATHS = ("/stream", "/market/stream", "/orders/e1-abc-12/stream", "/ui/api/dashboard/stream")


def _nginx() -> str:
    path = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(path).exists():
        require_service("nginx", "Debian package nginx not installed (make system-deps)")
    return path


def _nginx_test(conf: Path, prefix: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_nginx(), "-t", "-p", str(prefix), "-c", str(conf), "-g", f"pid {prefix}/nginx.pid;"],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_nginx_t_accepts_the_shipped_configuration(tmp_path: Path) -> None:
    result = _nginx_test(NGINX_DIR / "nginx.conf", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_nginx_t_rejects_a_broken_copy(tmp_path: Path) -> None:
    # The check above can fail: the same files with one directive misspelt do not pass.
    copy = tmp_path / "conf"
    shutil.copytree(NGINX_DIR, copy)
    site = copy / "switchyard.conf"
    site.write_text(site.read_text().replace("proxy_buffering off;", "proxy_bufering off;"))
    result = _nginx_test(copy / "nginx.conf", tmp_path)
    assert result.returncode != 0


def _site() -> str:
    return (NGINX_DIR / "switchyard.conf").read_text()


def _locations(site: str) -> dict[str, str]:
    """location header -> its block text (the site has no nested blocks)."""
    return {
        match.group(1).strip(): match.group(2)
        for match in re.finditer(r"location\s+([^{]+)\{([^}]*)\}", site)
    }


def test_every_sse_path_is_served_unbuffered_with_long_reads() -> None:
    locations = _locations(_site())
    sse = [header for header in locations if header.startswith("~") and "stream" in header]
    assert len(sse) == 1
    pattern = re.compile(sse[0].removeprefix("~").strip())
    for path in SSE_PATHS:
        assert pattern.match(path), path
    assert not pattern.match("/orders/e1-abc-12/events")
    block = locations[sse[0]]
    assert "proxy_buffering off;" in block
    assert "proxy_read_timeout 1h;" in block
    assert "gzip off;" in block


def test_body_limit_matches_the_gateway_default() -> None:
    declared = env.REGISTRY.get("GATEWAY_BODY_MAX_BYTES")
    if declared is None:  # declared by the gateway settings module
        import switchyard.config  # noqa: F401

        declared = env.REGISTRY["GATEWAY_BODY_MAX_BYTES"]
    match = re.search(r"client_max_body_size (\d+)k;", _site())
    assert match is not None
    assert int(match.group(1)) * 1024 == int(declared.default)


def test_compose_upstreams_name_the_same_upstreams_and_ports() -> None:
    def upstreams(text: str) -> dict[str, str]:
        return dict(re.findall(r"upstream (\w+) \{\s*server ([^;\s]+);", text))

    local = upstreams((NGINX_DIR / "upstreams.conf").read_text())
    compose = upstreams((NGINX_DIR / "upstreams.compose.conf").read_text())
    assert local == {
        "switchyard_gateway": "127.0.0.1:8080",
        "switchyard_backoffice": "127.0.0.1:8082",
    }
    assert compose == {
        "switchyard_gateway": "gateway:8080",
        "switchyard_backoffice": "backoffice:8082",
    }


# --- nginx in front of a live gateway and back office -------------------------------------


class NginxProcess:
    """nginx -g 'daemon off;' on a copy of deploy/nginx with test ports."""

    def __init__(self, workdir: Path, gateway_port: int, backoffice_port: int) -> None:
        self.port = free_port()
        self.workdir = workdir
        conf = workdir / "conf"
        shutil.copytree(NGINX_DIR, conf)
        site = conf / "switchyard.conf"
        text = site.read_text()
        assert "listen 80;" in text
        site.write_text(text.replace("listen 80;", f"listen 127.0.0.1:{self.port};"))
        upstreams = (conf / "upstreams.conf").read_text()
        upstreams = upstreams.replace("127.0.0.1:8080", f"127.0.0.1:{gateway_port}")
        upstreams = upstreams.replace("127.0.0.1:8082", f"127.0.0.1:{backoffice_port}")
        (conf / "upstreams.conf").write_text(upstreams)
        self.conf = conf / "nginx.conf"
        self.log_path = workdir / "nginx.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - Debian's nginx, test only
            [
                _nginx(),
                "-p",
                str(self.workdir),
                "-c",
                str(self.conf),
                "-g",
                f"daemon off; pid {self.workdir}/nginx.pid; error_log stderr warn;",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

        def listening() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"nginx exited: {self.log_path.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            except OSError:
                return False
            return True

        wait_for(listening, 15.0, "nginx listening")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


class Proxied:
    """The gateway, back office and nginx of one test module."""

    def __init__(self, gateway: GatewayProcess, nginx: NginxProcess) -> None:
        self.gateway = gateway
        self.nginx = nginx

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        account: str | None = "alice",
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        source: str | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(
            "127.0.0.1",
            self.nginx.port,
            timeout=10,
            source_address=(source, 0) if source else None,
        )
        sent = dict(headers or {})
        if account is not None:
            sent["Authorization"] = f"Bearer {self.gateway.token(account)}"
        payload = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        if payload is not None:
            sent.setdefault("Content-Type", "application/json")
        try:
            connection.request(method, path, body=payload, headers=sent)
            response = connection.getresponse()
            return (
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                response.read(),
            )
        finally:
            connection.close()

    @contextlib.contextmanager
    def stream(
        self, path: str, *, last_event_id: str | None = None
    ) -> Iterator[http.client.HTTPResponse]:
        connection = http.client.HTTPConnection("127.0.0.1", self.nginx.port, timeout=10)
        headers = {
            "Authorization": f"Bearer {self.gateway.token('alice')}",
            "Accept": "text/event-stream",
        }
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        try:
            connection.request("GET", path, headers=headers)
            yield connection.getresponse()
        finally:
            connection.close()


def _next_event(response: http.client.HTTPResponse) -> tuple[int | None, dict[str, Any]]:
    """The next SSE event with data: (id, data). http.client undoes nginx's chunking."""
    event_id: int | None = None
    data = ""
    while True:
        line = response.readline().decode()
        if not line:
            raise ConnectionError("stream ended")
        line = line.rstrip("\r\n")
        if line.startswith("id: "):
            event_id = int(line[4:])
        elif line.startswith("data: "):
            data += line[6:]
        elif line == "" and data:
            return event_id, json.loads(data)


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxied]:
    workdir = tmp_path_factory.mktemp("nginx")
    _nginx()
    environ = {"JWT_HS256_SECRET": JWT_SECRET, "VENUE_LIQUIDITY": "on"}
    backoffice_port = free_port()
    with GatewayProcess(workdir / "gateway", env=environ) as gateway:
        backoffice = ServiceProcess(
            "backoffice",
            ["-m", "switchyard", "backoffice"],
            {
                **gateway.env,
                "SWITCHYARD_DATA_DIR": str(workdir / "backoffice"),
                "BACKOFFICE_WAL_DIR": str(gateway.data_dir / "wal"),
                "BACKOFFICE_PORT": str(backoffice_port),
                "BACKOFFICE_HOST": "127.0.0.1",
                "GATEWAY_URL": f"http://127.0.0.1:{gateway.port}",
            },
            workdir,
        )
        nginx = NginxProcess(workdir, gateway.port, backoffice_port)
        backoffice.start()
        nginx.start()
        try:
            backoffice.wait_http(f"http://127.0.0.1:{backoffice_port}/health")
            yield Proxied(gateway, nginx)
        finally:
            nginx.stop()
            backoffice.stop()


def test_ui_page_and_its_assets_load_through_nginx(proxied: Proxied) -> None:
    status, headers, body = proxied.request("GET", "/", account=None)
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    scripts = re.findall(rb'src="(/ui/[^"]+\.js)"', body)
    assert scripts, body[:500]
    status, headers, _ = proxied.request("GET", scripts[0].decode(), account=None)
    assert status == 200
    assert "javascript" in headers["content-type"]
    assert proxied.request("GET", "/ui/api/info", account=None)[0] == 200


def test_order_api_through_nginx(proxied: Proxied) -> None:
    order = {"symbol": "BTC", "side": "BUY", "type": "MARKET", "qty": 1, "clientOrderId": "ng-1"}
    status, _, body = proxied.request("POST", "/orders?ack=durable", order)
    assert status == 202, body
    accepted = json.loads(body)
    assert accepted["durable"] is True
    status, _, body = proxied.request("GET", f"/orders/{accepted['orderId']}")
    assert status == 200
    assert json.loads(body)["clientOrderId"] == "ng-1"
    status, _, body = proxied.request("GET", "/api/admin")
    assert status == 200
    assert json.loads(body)["engineId"]


def test_sse_stream_delivers_new_events_at_once_and_resumes(proxied: Proxied) -> None:
    order = {"symbol": "ETH", "side": "BUY", "type": "LIMIT", "qty": 1, "price": 3_000}
    with proxied.stream("/stream") as stream:
        assert stream.status == 200
        assert stream.getheader("Content-Type", "").startswith("text/event-stream")
        started = time.monotonic()
        status, _, body = proxied.request("POST", "/orders", {**order, "clientOrderId": "ng-sse"})
        assert status == 202, body
        order_id = json.loads(body)["orderId"]
        seen: list[int] = []
        while True:  # events of earlier tests may come first; ours must arrive in time
            event_id, data = _next_event(stream)
            assert event_id is not None
            seen.append(event_id)
            if data.get("orderId") == order_id:
                break
        assert time.monotonic() - started < 5.0
    with proxied.stream("/stream", last_event_id=str(seen[0] - 1)) as resumed:
        assert _next_event(resumed)[0] == seen[0]  # Last-Event-ID passes through nginx


def test_back_office_under_its_prefix(proxied: Proxied) -> None:
    status, _, body = proxied.request("GET", "/backoffice/health", account=None)
    assert status == 200, body
    status, _, body = proxied.request("GET", "/backoffice/positions")
    assert status == 200, body
    assert "positions" in json.loads(body)


def test_oversized_body_is_refused_by_nginx_before_the_gateway(proxied: Proxied) -> None:
    before = proxied.gateway.client().get("/stats").json()["http_requests"]
    status, _, body = proxied.request("POST", "/orders", raw=b"x" * (65 * 1024))
    assert status == 413
    assert b"nginx" in body or b"413" in body
    after = proxied.gateway.client().get("/stats").json()["http_requests"]
    assert after == before + 1  # only our own /stats call reached the gateway


def test_metrics_are_internal_only(proxied: Proxied) -> None:
    assert proxied.request("GET", "/metrics", account=None)[0] == 200
    assert proxied.request("GET", "/health", account=None, source="127.0.0.2")[0] == 200
    assert proxied.request("GET", "/metrics", account=None, source="127.0.0.2")[0] == 403
    assert proxied.request("GET", "/stats", account=None, source="127.0.0.2")[0] == 403


def test_direct_gateway_still_answers(proxied: Proxied) -> None:
    # nginx is an addition, not a requirement: the gateway keeps serving its own port.
    assert http_get(f"http://127.0.0.1:{proxied.gateway.port}/health")[0] == 200
