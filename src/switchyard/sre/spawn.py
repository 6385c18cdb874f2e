"""Starting and stopping local servers for a bench run: the stand-ins and `switchyard run`.

A spawned server runs in its own process (its own interpreter lock), optionally pinned to one
CPU so the generator can have the other. It is always stopped when the `with` block ends,
with SIGTERM and then SIGKILL after a grace period. Used by `bench --spawn`, by
`bench --tool-ceiling`, and by the tests.
"""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from switchyard.sre.httpclient import RequestFailed, Target, fetch

READY_TIMEOUT_S = 30.0  # the gateway replays its WAL before it listens; 30 s covers a big one
STOP_GRACE_S = 10.0  # graceful shutdown flushes and fsyncs the WAL; then SIGKILL
HEALTH_POLL_S = 0.1


class SpawnError(RuntimeError):
    """The server did not start or did not become ready; the message says why."""


@dataclass(frozen=True, slots=True)
class Spawned:
    process: subprocess.Popen[bytes]
    target: Target
    label: str
    data_dir: Path | None = None


def _pin(pid: int, cpu: int | None) -> None:
    if cpu is not None and cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(pid, {cpu})


@contextlib.contextmanager
def constant_server(cpu: int | None = None) -> Iterator[Spawned]:
    """The constant-202 server on the gateway's HTTP stack, or the stand-in if that stack is
    missing or fails a probe request (the label then says which, and why)."""
    with contextlib.ExitStack() as stack:
        spawned = stack.enter_context(standin("constant", cpu, extra=["--stack", "auto"]))
        problem = _probe_constant(spawned.target)
        if problem is None:
            yield spawned
            return
        stack.close()
        with standin("constant", cpu, extra=["--stack", "standin"]) as fallback:
            note = f"{fallback.label} (adapters.http failed a probe: {problem})"
            yield Spawned(fallback.process, fallback.target, note)


def _probe_constant(target: Target) -> str | None:
    async def probe() -> str | None:
        try:
            response = await fetch(target, "POST", "/orders", body=b"{}", timeout_s=2.0)
        except RequestFailed as error:
            return str(error)
        return None if response.status == 202 else f"answered {response.status}"

    return asyncio.run(probe())


@contextlib.contextmanager
def standin(
    mode: str,
    cpu: int | None = None,
    secret_file: Path | None = None,
    extra: list[str] | None = None,
    port: int = 0,
) -> Iterator[Spawned]:
    """Run `python -m switchyard.sre.standin` (on a free port by default) until the block ends."""
    argv = [sys.executable, "-m", "switchyard.sre.standin", "--mode", mode, "--port", str(port)]
    if secret_file is not None:
        argv += ["--secret-file", str(secret_file)]
    argv += extra or []
    process = subprocess.Popen(  # noqa: S603 - our own module
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        _pin(process.pid, cpu)
        assert process.stdout is not None
        line = process.stdout.readline().decode().strip()
        if not line.startswith("READY "):
            raise SpawnError(f"stand-in server did not start (said {line!r})")
        fields = line.split()
        port = int(fields[1])
        stack = fields[2] if len(fields) > 2 else "standin"
        label = f"{stack}-constant-202" if mode == "constant" else "standin-fake-gateway"
        yield Spawned(process, Target("127.0.0.1", port), label)
    finally:
        _stop(process)


@contextlib.contextmanager
def gateway(port: int, cpu: int | None = None, data_dir: Path | None = None) -> Iterator[Spawned]:
    """Run `switchyard run` with a fresh data dir (unless given) until the block ends."""
    with contextlib.ExitStack() as stack:
        if data_dir is None:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sy-bench-")))
        environ = dict(os.environ, GATEWAY_PORT=str(port), SWITCHYARD_DATA_DIR=str(data_dir))
        argv = [sys.executable, "-m", "switchyard", "run"]
        log_path = data_dir / "gateway.log"
        log = stack.enter_context(log_path.open("wb"))
        process = subprocess.Popen(  # noqa: S603 - our own console script
            argv, env=environ, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            _pin(process.pid, cpu)
            target = Target("127.0.0.1", port)
            _wait_healthy(process, target, log_path)
            yield Spawned(process, target, "gateway", data_dir)
            if process.poll() is not None:
                # It died during the run: say so with its last words, before the data dir goes.
                tail = log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
                sys.stderr.write(
                    f"switchyard: the spawned gateway exited with status {process.returncode} "
                    f"during the run; log tail:\n{tail}\n"
                )
        finally:
            _stop(process)


def _wait_healthy(process: subprocess.Popen[bytes], target: Target, log_path: Path) -> None:
    async def poll() -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_TIMEOUT_S
        while loop.time() < deadline:
            if process.poll() is not None:
                return False
            try:
                response = await fetch(target, "GET", "/health", timeout_s=1.0)
                if response.status in (200, 503):  # 503 = up but unhealthy: still listening
                    return True
            except RequestFailed:
                pass
            await asyncio.sleep(HEALTH_POLL_S)
        return False

    if not asyncio.run(poll()):
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
        raise SpawnError(f"gateway did not become healthy at {target.url}; log tail:\n{tail}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_GRACE_S)
    if process.stdout is not None:
        process.stdout.close()
