"""SIGKILL crash points for a real gateway under mixed load, and what must hold after restart.

    rig = GatewayCrashRig(tmp_path, seed=7)
    for _ in range(25):
        rig.kill_point()      # (re)start, check every earlier promise, load, SIGKILL
    rig.finish()              # check everything once more, clean restart, same state hash

What each kill point does: the gateway starts and recovers from the same data directory, the
checks below run against what clients were told before the crash, then worker threads send a
mix of durable-ACK and fast-ACK orders, risk denials, idempotent resends, cancels, replaces
and status reads (one account per worker) while one thread follows an SSE stream; after a
random delay the gateway is SIGKILLed (half of the time together with its WAL writer
process, which otherwise finishes what it had received). One point in eight kills the
gateway while it is still starting and recovering instead.

The promises checked after every restart (DESIGN §1, §3, §4; issue 10):
- an order whose ACK said `durable: true` (or whose durability a client saw: a DURABLE
  status answer, an SSE `order_accepted`) is present exactly once, with the same order id,
  accept seq and fields;
- an order answered `durable: false`, or not answered at all, is either present with exactly
  the requested fields or absent and reported UNKNOWN by `GET /orders/client/{cid}`: never
  half-applied; a refused request (4xx/5xx other than a 422 denial) left no order;
- no account holds an order nobody sent, no clientOrderId maps to two orders, and a resent
  request returns the original order (idempotency keys survive the crash);
- filled quantity never falls below what SSE (durable records only) showed, never exceeds
  the order's quantity;
- SSE resumed with `Last-Event-ID` from any point seen before the crash yields exactly the
  account's durable records after it (compared with the WAL audit trail): no gap, no
  duplicate, the same data.

Restarts go through a zygote: one process that imported the gateway once and forks a fresh
`switchyard run` (the same `cli.main.main(["run"])` call) per start, so a kill point costs
a fork instead of an interpreter start. A failure names the seed and the kill point; the
test replays it with CRASH_SEED (see tests/crash/test_gateway_kill_points.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from switchyard.testing.gateway_harness import Client, GatewayProcess, SSEReader, free_port

SYMBOLS = {"BTC": 65_000, "ETH": 3_500}  # reference prices of the venue's default specs
RISK_MAX_QTY = 50  # orders above this are denied (recorded 422s in the mix)
STARTUP_KILL_FRACTION = 0.125
LOAD_WORKERS = 4
LOAD_DELAY_MAX_S = 0.4
TERMINAL = frozenset({"FILLED", "CANCELED", "REJECTED", "DENIED", "EXPIRED"})
STATUSES = TERMINAL | {"ACCEPTED", "SENT", "PARTIALLY_FILLED", "CANCEL_REQUESTED"}
_ORDER_FIELDS = ("symbol", "side", "type", "timeInForce", "clientOrderId")


class CrashCheckError(AssertionError):
    """A promise did not hold after a restart; the message names seed, point and order."""


# --- the zygote: fork a gateway instead of starting an interpreter -----------------------


def zygote_main() -> int:
    """Import the gateway once, then fork one `switchyard run` per line read from stdin.

    In: `{"argv": [...], "env": {...}, "log": path}` per line. Out: `started PID` after each
    fork and `exited PID CODE` when a child ends (the zygote reaps its children).
    """
    import switchyard.app
    import switchyard.extensions
    import switchyard.venue.transports
    from switchyard.cli.main import build_parser, main

    del switchyard.app, switchyard.extensions, switchyard.venue.transports
    build_parser()  # imports every command module
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, _ignore_signal)
    out = sys.stdout
    stdin = sys.stdin.fileno()
    buffered = b""
    while True:
        ready, _, _ = select.select([stdin, wake_read], [], [])
        if wake_read in ready:
            os.read(wake_read, 4096)
            _reap_children(out)
        if stdin in ready:
            chunk = os.read(stdin, 65536)
            if not chunk:
                return 0
            buffered += chunk
            while b"\n" in buffered:
                line, buffered = buffered.split(b"\n", 1)
                pid = _fork_gateway(json.loads(line), main, (wake_read, wake_write))
                out.write(f"started {pid}\n")
                out.flush()


def _ignore_signal(signum: int, frame: FrameType | None) -> None:
    return None  # the wakeup fd does the work


def _reap_children(out: Any) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        out.write(f"exited {pid} {os.waitstatus_to_exitcode(status)}\n")
        out.flush()


def _fork_gateway(request: dict[str, Any], main: Any, wake: tuple[int, int]) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in wake:
            os.close(fd)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.environ.clear()
        os.environ.update(request["env"])
        code = int(main(request["argv"]) or 0)
    except SystemExit as error:
        code = error.code if isinstance(error.code, int) else 1
    except BaseException:  # noqa: BLE001 - the child's last words go to its log
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
    return 0  # unreachable: the child always leaves through os._exit


class Zygote:
    """The zygote process and a thread reading its `started`/`exited` lines."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "switchyard.testing.crash_harness", "zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._started: list[int] = []
        self.exit_codes: dict[int, int] = {}
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            kind, *values = raw.decode().split()
            with self._changed:
                if kind == "started":
                    self._started.append(int(values[0]))
                elif kind == "exited":
                    self.exit_codes[int(values[0])] = int(values[1])
                self._changed.notify_all()

    def fork(self, argv: list[str], env: Mapping[str, str], log_path: Path) -> int:
        assert self.process.stdin is not None
        line = json.dumps({"argv": argv, "env": dict(env), "log": str(log_path)})
        with self._changed:
            self.process.stdin.write(line.encode() + b"\n")
            self.process.stdin.flush()
            if not self._changed.wait_for(lambda: bool(self._started), timeout=30):
                raise RuntimeError("the zygote did not fork")
            return self._started.pop(0)

    def wait_exit(self, pid: int, timeout_s: float | None) -> int | None:
        with self._changed:
            self._changed.wait_for(lambda: pid in self.exit_codes, timeout=timeout_s)
            return self.exit_codes.get(pid)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()


class ForkedProcess:
    """The part of `subprocess.Popen` GatewayProcess uses, for a child of the zygote."""

    def __init__(self, zygote: Zygote, pid: int) -> None:
        self.zygote = zygote
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.zygote.wait_exit(self.pid, 0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = self.zygote.wait_exit(self.pid, timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(f"gateway {self.pid}", timeout or 0)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class ForkedGateway(GatewayProcess):
    """A GatewayProcess whose `start()` forks from a zygote; `kill()` can take its writer too."""

    def __init__(self, data_dir: Path, zygote: Zygote, **kwargs: Any) -> None:
        super().__init__(data_dir, **kwargs)
        self.zygote = zygote

    def start(self, *, wait: bool = True) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pid = self.zygote.fork(list(self.command), self.env, self.log_path)
        self.process = ForkedProcess(self.zygote, pid)  # type: ignore[assignment]
        if wait:
            self.wait_ready()

    def kill(self, *, with_writer: bool = False) -> None:
        """SIGKILL the gateway; with `with_writer`, its WAL writer process in the same instant."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        victims = [process.pid] + (child_pids(process.pid) if with_writer else [])
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait(timeout=10)


def child_pids(parent: int) -> list[int]:
    """Pids whose parent is `parent` (from /proc; the kernel here has no `children` file)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == parent:
            found.append(int(entry))
    return found


# --- what clients did and were told ---------------------------------------------------------


@dataclass
class Attempt:
    """One POST /orders and its answer (status 0: no answer, the gateway died first)."""

    account: str
    client_order_id: str
    body: dict[str, Any]
    durable_requested: bool
    status: int = 0
    answer: dict[str, Any] = field(default_factory=dict)

    @property
    def acknowledged_durable(self) -> bool:
        return self.status == 202 and self.answer.get("durable") is True

    @property
    def refused(self) -> bool:
        return self.status not in (0, 202, 422) or (
            self.status == 422 and "orderId" not in self.answer
        )


@dataclass
class AccountLog:
    """Everything one account's clients did and learned (one worker thread writes it)."""

    account: str
    attempts: list[Attempt] = field(default_factory=list)
    replaced: dict[str, set[tuple[int, int]]] = field(default_factory=dict)  # cid -> asked
    seen_durable: set[str] = field(default_factory=set)  # cids a DURABLE answer was seen for
    order_ids: dict[str, str] = field(default_factory=dict)  # cid -> order id answered
    violations: list[str] = field(default_factory=list)  # found while the load ran
    checked: bool = False  # counted in the figures already


@dataclass
class StreamLog:
    """The SSE events one account's stream delivered before the crash."""

    account: str
    from_seq: int
    events: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)


def order_body(rng: random.Random, client_order_id: str, *, deny: bool) -> dict[str, Any]:
    symbol = rng.choice(sorted(SYMBOLS))
    body: dict[str, Any] = {
        "symbol": symbol,
        "side": rng.choice(("BUY", "SELL")),
        "clientOrderId": client_order_id,
        "qty": RISK_MAX_QTY + rng.randint(1, 9) if deny else rng.randint(1, 5),
    }
    if rng.random() < 0.15:
        body.update(type="MARKET", timeInForce="IOC")
    else:
        band = SYMBOLS[symbol] // 500
        body.update(
            type="LIMIT",
            price=SYMBOLS[symbol] + rng.randint(-band, band),
            timeInForce=rng.choice(("GTC", "GTC", "GTC", "IOC")),
        )
    return body


class LoadWorker(threading.Thread):
    """Sends a seeded mix of requests for one account until stopped or the gateway dies."""

    def __init__(self, client: Client, log: AccountLog, rng: random.Random) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.log = log
        self.rng = rng
        self.stop = threading.Event()
        self.requests = 0

    def run(self) -> None:
        with contextlib.suppress(OSError):  # the gateway was killed: the load is over
            while not self.stop.is_set():
                self.requests += 1
                self.step()

    def step(self) -> None:
        roll = self.rng.random()
        log = self.log
        if roll < 0.40 or not log.attempts:
            self.submit(durable=True, deny=False)
        elif roll < 0.72:
            self.submit(durable=False, deny=False)
        elif roll < 0.76:
            self.submit(durable=self.rng.random() < 0.5, deny=True)
        elif roll < 0.82:
            self.resend()
        elif roll < 0.90:
            self.cancel()
        elif roll < 0.94:
            self.replace()
        else:
            self.read_status()

    def submit(self, *, durable: bool, deny: bool) -> None:
        cid = f"{self.log.account}-{len(self.log.attempts)}"
        self.send(Attempt(self.log.account, cid, order_body(self.rng, cid, deny=deny), durable))

    def send(self, attempt: Attempt) -> None:
        self.log.attempts.append(attempt)  # before sending: no answer is a possible outcome
        path = "/orders?ack=durable" if attempt.durable_requested else "/orders"
        result = self.client.post(path, attempt.body)
        attempt.answer = result.json() if result.body else {}
        attempt.status = result.status
        order_id = attempt.answer.get("orderId")
        if order_id is None:
            return
        known = self.log.order_ids.setdefault(attempt.client_order_id, order_id)
        if known != order_id:
            self.log.violations.append(
                f"{attempt.client_order_id} answered {order_id} after {known} (not idempotent)"
            )

    def resend(self) -> None:
        """The same request again (a client retry): must return the original order."""
        original = self.rng.choice(self.log.attempts)
        again = Attempt(
            original.account, original.client_order_id, original.body, self.rng.random() < 0.5
        )
        self.send(again)

    def _known_order(self) -> tuple[str, str] | None:
        if not self.log.order_ids:
            return None
        cid = self.rng.choice(sorted(self.log.order_ids))
        return cid, self.log.order_ids[cid]

    def cancel(self) -> None:
        known = self._known_order()
        if known is not None:
            self.client.post(f"/orders/{known[1]}/cancel")

    def replace(self) -> None:
        known = self._known_order()
        if known is None:
            return
        cid, order_id = known
        body = next(a.body for a in self.log.attempts if a.client_order_id == cid)
        if body["type"] != "LIMIT":
            return
        qty, price = self.rng.randint(1, 5), int(body["price"]) + self.rng.randint(-3, 3)
        self.log.replaced.setdefault(cid, set()).add((qty, price))
        self.client.post(f"/orders/{order_id}/replace", {"qty": qty, "price": price})

    def read_status(self) -> None:
        cid = self.rng.choice(self.log.attempts).client_order_id
        result = self.client.get(f"/orders/client/{cid}")
        if result.status == 200 and result.json().get("status") == "DURABLE":
            self.log.seen_durable.add(cid)


class StreamWatcher(threading.Thread):
    """Follows one account's SSE stream, recording every event with an id."""

    def __init__(self, reader: SSEReader, log: StreamLog) -> None:
        super().__init__(daemon=True)
        self.reader = reader
        self.log = log
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                event_id, name, data = self.reader.next_event(timeout_s=0.5)
            except TimeoutError:
                continue
            except (OSError, ValueError):
                return  # killed mid-event or connection gone
            if event_id is not None:
                self.log.events.append((event_id, name, data))


# --- the rig ---------------------------------------------------------------------------------


@dataclass
class KillPointFigures:
    """Counts over a rig's life, for docs/RELIABILITY.md and the test's report."""

    kill_points: int = 0
    startup_kills: int = 0
    writer_kills: int = 0
    requests: int = 0
    durable_acks: int = 0
    fast_acks: int = 0
    unanswered: int = 0
    present_after: int = 0
    unknown_after: int = 0
    stream_events_checked: int = 0
    restarts: int = 0
    kinds: Counter[str] = field(default_factory=Counter)


class GatewayCrashRig:
    """Drives kill points against one data directory (see the module docstring)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        seed: int,
        zygote: Zygote,
        env: Mapping[str, str] | None = None,
        workers: int = LOAD_WORKERS,
    ) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.workers = workers
        self.gateway = ForkedGateway(
            data_dir,
            zygote,
            env={
                "JWT_HS256_SECRET": f"crash-secret-{seed}-0123456789abcdef",
                "VENUE_LIQUIDITY": "on",
                "RISK_MAX_QTY": str(RISK_MAX_QTY),
                "WAL_SEGMENT_SIZE_BYTES": str(256 * 1024),  # rolls happen under load
                "LOG_LEVEL": "WARNING",
                **(env or {}),
            },
        )
        self.figures = KillPointFigures()
        self.accounts: dict[str, AccountLog] = {}  # every account ever loaded
        self.unchecked: list[str] = []  # accounts loaded since the last successful check
        self.streams: list[StreamLog] = []  # streams not yet checked
        self.round = 0

    # --- kill points ---------------------------------------------------------------------

    def kill_point(self) -> None:
        """One SIGKILL: during start-up and recovery, or under load after a checked restart."""
        self.round += 1
        self.figures.kill_points += 1
        if self._running():
            self.gateway.kill()
        if self.rng.random() < STARTUP_KILL_FRACTION:
            self._kill_during_startup()
            return
        self._start_and_check()
        self._load_and_kill()

    def _running(self) -> bool:
        process = self.gateway.process
        return process is not None and process.poll() is None

    def _kill_during_startup(self) -> None:
        self.figures.startup_kills += 1
        self.figures.kinds["startup"] += 1
        self.gateway.start(wait=False)
        time.sleep(self.rng.uniform(0.0, 0.5))
        self.gateway.kill(with_writer=self.rng.random() < 0.5)

    def _start_and_check(self) -> None:
        self.gateway.start()
        self.figures.restarts += 1
        self.check()

    def _load_and_kill(self) -> None:
        durable_seq = int(self.gateway.client().get("/stats").json()["wal_durable_seq"])
        logs = [AccountLog(f"r{self.seed}x{self.round}w{i}") for i in range(self.workers)]
        workers = [
            LoadWorker(self.gateway.client(log.account), log, random.Random(self.rng.random()))
            for log in logs
        ]
        stream_log = StreamLog(logs[0].account, durable_seq)
        reader = self.gateway.client(logs[0].account).stream(
            "/stream", headers={"last-event-id": str(durable_seq)}
        )
        watcher = StreamWatcher(reader, stream_log)
        for log in logs:
            self.accounts[log.account] = log
            self.unchecked.append(log.account)
        self.streams.append(stream_log)
        watcher.start()
        for worker in workers:
            worker.start()
        time.sleep(self.rng.uniform(0.0, LOAD_DELAY_MAX_S))
        with_writer = self.rng.random() < 0.5
        self.figures.writer_kills += with_writer
        self.figures.kinds["load+writer" if with_writer else "load"] += 1
        self.gateway.kill(with_writer=with_writer)
        threads: list[LoadWorker | StreamWatcher] = [*workers, watcher]
        for thread in threads:
            thread.stop.set()
        for thread in threads:
            thread.join(timeout=15)
            assert not thread.is_alive(), "a load thread hung after the kill"
        reader.close()
        self.figures.requests += sum(worker.requests for worker in workers)

    # --- checks ----------------------------------------------------------------------------

    def check(self, *, everything: bool = False) -> None:
        """Check the promises for the accounts loaded since the last check (or all of them)."""
        for stream in self.streams:  # what SSE showed was durable: it must survive
            seen = self.accounts[stream.account].seen_durable
            seen.update(d["clientOrderId"] for _, n, d in stream.events if n == "order_accepted")
        names = sorted(self.accounts) if everything else list(self.unchecked)
        if not everything and len(self.accounts) > len(names):
            earlier = sorted(set(self.accounts) - set(names))
            names.append(self.rng.choice(earlier))  # durability across later crashes too
        for name in names:
            self._check_account(self.accounts[name])
        for stream in self.streams:
            self._check_stream(stream)
        self.unchecked.clear()
        self.streams.clear()

    def _fail(self, message: str) -> CrashCheckError:
        return CrashCheckError(
            f"seed {self.seed} kill point {self.round}: {message}\n"
            f"--- gateway log tail ---\n{self.gateway.log()[-3000:]}"
        )

    def _check_account(self, log: AccountLog) -> None:
        if log.violations:
            raise self._fail("; ".join(log.violations))
        client = self.gateway.client(log.account)
        listed = client.get("/orders?status=all&limit=1000").json()["orders"]
        by_cid: dict[str, dict[str, Any]] = {}
        for order in listed:
            cid = order["clientOrderId"]
            if cid in by_cid:
                raise self._fail(f"{log.account}: clientOrderId {cid} maps to two orders")
            by_cid[cid] = order
        sent = {attempt.client_order_id for attempt in log.attempts}
        phantom = set(by_cid) - sent
        if phantom:
            raise self._fail(f"{log.account}: orders nobody sent: {sorted(phantom)[:5]}")
        for cid in sorted(sent):
            attempts = [a for a in log.attempts if a.client_order_id == cid]
            self._check_order(client, log, attempts, by_cid.get(cid))
        self._check_resend(client, log, by_cid)
        log.checked = True

    def _check_order(
        self,
        client: Client,
        log: AccountLog,
        attempts: list[Attempt],
        found: dict[str, Any] | None,
    ) -> None:
        first = attempts[0]
        cid = first.client_order_id
        figures = self.figures if not log.checked else KillPointFigures()
        figures.durable_acks += sum(a.acknowledged_durable for a in attempts)
        figures.fast_acks += sum(a.status == 202 and not a.acknowledged_durable for a in attempts)
        figures.unanswered += sum(a.status == 0 for a in attempts)
        must_exist = cid in log.seen_durable or any(a.acknowledged_durable for a in attempts)
        answered = {a.answer["orderId"] for a in attempts if "orderId" in a.answer}
        if found is None:
            figures.unknown_after += 1
            if must_exist:
                raise self._fail(f"durably acknowledged order {cid} {answered} is gone")
            status = client.get(f"/orders/client/{cid}").json()
            if status["status"] != "UNKNOWN":
                raise self._fail(f"{cid} is not listed but its status says {status}")
            return
        figures.present_after += 1
        if all(a.refused for a in attempts):
            raise self._fail(f"refused request {cid} left an order: {found}")
        if answered and answered != {found["orderId"]}:
            raise self._fail(f"{cid} was answered {answered} but holds {found['orderId']}")
        self._check_fields(log, first, found)

    def _check_fields(self, log: AccountLog, attempt: Attempt, found: dict[str, Any]) -> None:
        body = attempt.body
        cid = attempt.client_order_id
        for name in _ORDER_FIELDS:
            if found[name] != body.get(name, "GTC" if name == "timeInForce" else None):
                raise self._fail(f"{cid}: {name} is {found[name]!r}, the request said {body}")
        if found["accountId"] != log.account:
            raise self._fail(f"{cid} belongs to {found['accountId']}, not {log.account}")
        accepted = {a.answer.get("acceptSeq") for a in log.attempts if a.client_order_id == cid}
        accepted.discard(None)
        if accepted and accepted != {found["acceptSeq"]}:
            raise self._fail(f"{cid}: acceptSeq {found['acceptSeq']}, answered {accepted}")
        asked = {(body["qty"], body.get("price"))} | log.replaced.get(cid, set())
        if (found["qty"], found["price"]) not in asked:
            raise self._fail(f"{cid}: qty/price {found['qty']}/{found['price']} never asked")
        if found["status"] not in STATUSES:
            raise self._fail(f"{cid}: unknown status {found['status']}")
        if not 0 <= found["filledQty"] <= found["qty"]:
            raise self._fail(f"{cid}: filled {found['filledQty']} of {found['qty']}")
        if found["status"] == "DENIED" and body["qty"] <= RISK_MAX_QTY:
            raise self._fail(f"{cid} was denied without a reason to: {found}")

    def _check_resend(self, client: Client, log: AccountLog, by_cid: dict[str, Any]) -> None:
        """A client retry after the crash gets the original order back, and changes nothing."""
        durable = sorted({a.client_order_id for a in log.attempts if a.acknowledged_durable})
        for cid in self.rng.sample(durable, min(3, len(durable))):
            body = next(a.body for a in log.attempts if a.client_order_id == cid)
            result = client.post("/orders", body)
            if result.json().get("orderId") != by_cid[cid]["orderId"]:
                raise self._fail(f"resending {cid} after the crash answered {result}")

    def _check_stream(self, stream: StreamLog) -> None:
        """Resume from a random point seen before the crash: exactly the WAL's records after it."""
        seen = stream.events
        points = [stream.from_seq] + [event_id for event_id, _, _ in seen]
        resume = self.rng.choice(points)
        client = self.gateway.client(stream.account)
        trail = _audit_trail(client, stream.account, resume)
        before = [(i, n, d) for i, n, d in seen if i > resume]
        wal_seqs = [view["seq"] for view in trail]
        for index, (event_id, name, _) in enumerate(before):
            if index >= len(wal_seqs) or wal_seqs[index] != event_id:
                where = str(wal_seqs[index]) if index < len(wal_seqs) else "nothing"
                raise self._fail(
                    f"{stream.account}: SSE showed {event_id} {name} before the crash (event "
                    f"{index} after {resume}); the WAL has {where} there: a durable record "
                    "was published and then lost"
                )
        reader = client.stream("/stream", headers={"last-event-id": str(resume)})
        try:
            for index, view in enumerate(trail):
                got_id, got_name, data = _next_with_id(reader)
                if got_id != view["seq"] or data != view:
                    raise self._fail(
                        f"SSE resumed after {resume} gave {got_id} {got_name} where the WAL "
                        f"has {view['seq']} {view['eventType']} (index {index})"
                    )
                if index < len(before) and before[index][2] != data:
                    raise self._fail(f"SSE event {got_id} changed across the crash")
        finally:
            reader.close()
        self.figures.stream_events_checked += len(trail)
        self._check_fills_seen(client, seen)

    def _check_fills_seen(
        self, client: Client, seen: list[tuple[int, str, dict[str, Any]]]
    ) -> None:
        filled: dict[str, int] = {}
        for _, _, data in seen:
            if "filledQty" in data and "orderId" in data:
                filled[data["orderId"]] = max(filled.get(data["orderId"], 0), data["filledQty"])
        for order_id, quantity in sorted(filled.items()):
            now = client.get(f"/orders/{order_id}").json()
            if now.get("filledQty", -1) < quantity:
                raise self._fail(f"{order_id} showed filled {quantity} on SSE, now {now}")

    # --- the end -----------------------------------------------------------------------------

    def finish(self) -> dict[str, Any]:
        """Start, check every account, verify the chain, stop cleanly and compare state hashes."""
        if self._running():
            self.gateway.kill()
        self._start_and_check()
        self.check(everything=True)
        ops = self.gateway.client("crash-ops", role="ops")
        verified = ops.get("/audit/verify").json()
        if not verified.get("ok"):
            raise self._fail(f"the hash chain does not verify: {verified}")
        # Quiesce before comparing: no open order left for the market makers to fill.
        ops.post("/api/admin/kill-switch", {"scope": "*", "active": True, "cancelOpen": True})
        _wait_settled(ops)
        before = ops.get("/api/admin").json()
        code = self.gateway.stop()
        if code != 0:
            raise self._fail(f"graceful stop exited {code}")
        self.gateway.start()
        after = self.gateway.client("crash-ops", role="ops").get("/api/admin").json()
        self.gateway.stop()
        if after["recoveredStateHash"] != before["stateHash"]:
            raise self._fail(f"replay rebuilt {after['recoveredStateHash']}, ran {before}")
        return {"verified": verified, "last_seq": before.get("lastSeq")}


# --- the back office and the venue ---------------------------------------------------------


class CrossingLoad(threading.Thread):
    """Durable orders from a few accounts around the reference price: fills, rests, cancels."""

    def __init__(self, gateway: GatewayProcess, rng: random.Random, accounts: int = 3) -> None:
        super().__init__(daemon=True)
        self.clients = [gateway.client(f"x{index}") for index in range(accounts)]
        self.rng = rng
        self.stop = threading.Event()
        self.acked: list[dict[str, Any]] = []  # durable answers
        self.refused = 0
        self.sent = 0

    def run(self) -> None:
        while not self.stop.is_set():
            alice = self.rng.choice(self.clients)
            body = order_body(self.rng, f"c{self.sent}-{self.rng.random():.6f}", deny=False)
            self.sent += 1
            try:
                result = alice.post("/orders?ack=durable", body)
            except OSError:
                self.refused += 1
                time.sleep(0.05)
                continue
            if result.status == 202:
                self.acked.append(result.json())
                if self.rng.random() < 0.2:
                    alice.post(f"/orders/{result.json()['orderId']}/cancel")
            else:
                self.refused += 1  # 503 VENUE_UNAVAILABLE while the venue is away
                time.sleep(0.01)


def _finished(client: Client, order_id: str) -> Callable[[], bool]:
    return lambda: client.get(f"/orders/{order_id}").json()["status"] in TERMINAL


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise CrashCheckError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(0.05)


class BackofficeCrashRig:
    """SIGKILL `switchyard backoffice` (tailing a live gateway's WAL) under load, restart it,
    and at the end check it converged: everything applied once, /reconcile finds nothing."""

    def __init__(self, data_dir: Path, *, seed: int, zygote: Zygote) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        secret = f"backoffice-crash-{seed}-0123456789abcdef"
        self.gateway = ForkedGateway(
            data_dir / "gw",
            zygote,
            env={"JWT_HS256_SECRET": secret, "VENUE_LIQUIDITY": "on", "LOG_LEVEL": "WARNING"},
        )
        port = free_port()
        self.backoffice = ForkedGateway(
            data_dir / "gw",
            zygote,
            port=port,
            command=("backoffice",),
            env={
                "JWT_HS256_SECRET": secret,
                "BACKOFFICE_PORT": str(port),
                "APP_DB_URL": f"sqlite:///{data_dir / 'backoffice.db'}",
                "GATEWAY_URL": f"http://127.0.0.1:{self.gateway.port}",
                "LOG_LEVEL": "WARNING",
            },
        )
        self.kill_points = 0

    def run(self, points: int) -> dict[str, Any]:
        try:
            self.gateway.start()
            self.backoffice.start()
            load = CrossingLoad(self.gateway, random.Random(self.seed))
            load.start()
            try:
                for _ in range(points):
                    time.sleep(self.rng.uniform(0.05, 0.5))
                    self.backoffice.kill()
                    self.kill_points += 1
                    if self.rng.random() < 0.3:
                        time.sleep(self.rng.uniform(0.0, 0.5))  # stays down a while
                    self.backoffice.start()
            finally:
                load.stop.set()
                load.join(timeout=30)
            return self._converged(load)
        finally:  # whatever failed: no process of the rig outlives it
            self.backoffice.kill()
            self.gateway.kill(with_writer=True)

    def _converged(self, load: CrossingLoad) -> dict[str, Any]:
        ops_gateway = self.gateway.client("crash-ops", role="ops")
        _wait_settled(ops_gateway)
        durable = int(ops_gateway.get("/api/admin").json()["durableSeq"])
        public = Client(self.backoffice.port, None)

        def applied() -> bool:
            sources = public.get("/health").json().get("sources", {})
            return any(v.get("appliedThroughSeq", 0) >= durable for v in sources.values())

        wait_until(applied, 60, f"the back office to apply through seq {durable}")
        token = self.gateway.token("crash-ops", role="ops")
        answer = Client(self.backoffice.port, token).get("/reconcile")
        body = answer.json()
        if answer.status != 200 or not body.get("ok") or body.get("mismatches"):
            raise CrashCheckError(
                f"seed {self.seed}: back office did not converge: {body}\n"
                f"--- log ---\n{self.backoffice.log()[-3000:]}"
            )
        health = public.get("/health").json()
        if health["backlog"]["quarantined"]:
            raise CrashCheckError(f"seed {self.seed}: quarantined events after crashes: {health}")
        return {
            "kill_points": self.kill_points,
            "orders": len(load.acked),
            "events": health["events"],
            "duplicates_skipped": health["duplicates"],
            "durable_seq": durable,
        }


class VenueCrashRig:
    """SIGKILL the TCP venue (`switchyard venue`) under load and bring it back on its port;
    the gateway reconnects and reconciles. Checks: no durable order lost or half-applied,
    fills never shrink or exceed the quantity, nothing stays stuck once the venue is back
    (every live order can be canceled to CANCELED), and a clean restart rebuilds the same
    state hash."""

    def __init__(self, data_dir: Path, *, seed: int, zygote: Zygote) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.venue_port = free_port()
        self.venue = ForkedGateway(
            data_dir / "venue",
            zygote,
            port=self.venue_port,
            command=("venue", "--port", str(self.venue_port), "--metrics-port", "0"),
            env={"VENUE_LIQUIDITY": "on", "LOG_LEVEL": "WARNING"},
        )
        self.gateway = ForkedGateway(
            data_dir / "gw",
            zygote,
            env={
                "JWT_HS256_SECRET": f"venue-crash-{seed}-0123456789abcdef0123456789",
                "EXCHANGE_TRANSPORT": "tcp",
                "EXCHANGE_TCP_HOST": "127.0.0.1",
                "EXCHANGE_TCP_PORT": str(self.venue_port),
                "LOG_LEVEL": "WARNING",
            },
        )
        self.kill_points = 0

    def start_venue(self) -> None:
        self.venue.start(wait=False)

        def listening() -> bool:
            try:
                socket.create_connection(("127.0.0.1", self.venue_port), timeout=0.2).close()
            except OSError:
                assert self.venue.process is not None
                if self.venue.process.poll() is not None:
                    raise CrashCheckError(f"venue exited:\n{self.venue.log()}") from None
                return False
            return True

        wait_until(listening, 30, "the venue to listen")

    def run(self, points: int) -> dict[str, Any]:
        try:
            self.start_venue()
            self.gateway.start()
            load = CrossingLoad(self.gateway, random.Random(self.seed))
            load.start()
            try:
                for _ in range(points):
                    time.sleep(self.rng.uniform(0.1, 0.6))
                    self.venue.kill()
                    self.kill_points += 1
                    time.sleep(self.rng.uniform(0.0, 0.4))
                    self.start_venue()
            finally:
                load.stop.set()
                load.join(timeout=30)
            return self._settled(load)
        finally:  # whatever failed: no process of the rig outlives it
            self.gateway.kill(with_writer=True)
            self.venue.kill()

    def _settled(self, load: CrossingLoad) -> dict[str, Any]:
        ops = self.gateway.client("crash-ops", role="ops")
        wait_until(lambda: bool(ops.get("/stats").json()["venue_up"]), 30, "the venue link")
        resting = load.clients[0]
        for index in range(3):  # orders the restarted venue holds: their cancels must finish
            body = {
                "symbol": "BTC",
                "side": "BUY",
                "type": "LIMIT",
                "qty": 1,
                "price": SYMBOLS["BTC"] * 97 // 100,
                "clientOrderId": f"rest-{index}",
            }
            result = resting.post("/orders?ack=durable", body)
            if result.status != 202:
                raise CrashCheckError(f"seed {self.seed}: venue back, order refused: {result}")
        live = []
        for index, alice in enumerate(load.clients):
            for order in alice.get("/orders?status=all&limit=1000").json()["orders"]:
                if not 0 <= order["filledQty"] <= order["qty"]:
                    raise CrashCheckError(f"seed {self.seed}: x{index} {order}")
                if order["status"] not in TERMINAL:
                    live.append((alice, order["orderId"]))
        listed = {
            o["orderId"]
            for c in load.clients
            for o in c.get("/orders?status=all&limit=1000").json()["orders"]
        }
        for body in load.acked:  # the newest 1000 per account are listed; ask for the rest
            if (
                body["orderId"] not in listed
                and ops.get(f"/orders/{body['orderId']}").status != 200
            ):
                raise CrashCheckError(f"seed {self.seed}: durable order lost: {body}")
        for alice, order_id in live:
            alice.post(f"/orders/{order_id}/cancel")
        for alice, order_id in live:
            wait_until(
                _finished(alice, order_id), 30, f"{order_id} to finish after a cancel (stuck?)"
            )
        _wait_settled(ops)
        before = ops.get("/api/admin").json()
        self.gateway.stop()
        self.gateway.start()
        after = self.gateway.client("crash-ops", role="ops").get("/api/admin").json()
        if after["recoveredStateHash"] != before["stateHash"]:
            raise CrashCheckError(f"seed {self.seed}: replay differs after venue crashes")
        return {
            "kill_points": self.kill_points,
            "orders": len(load.acked),
            "refused_while_down": load.refused,
            "canceled_at_end": len(live),
        }


def _audit_trail(client: Client, account: str, after_seq: int) -> list[dict[str, Any]]:
    """The account's durable records after `after_seq`, from the WAL (GET .../events)."""
    views: list[dict[str, Any]] = []
    cursor: int | None = after_seq
    while cursor is not None:
        page = client.get(f"/accounts/{account}/events?afterSeq={cursor}&limit=1000").json()
        views.extend(page["events"])
        cursor = page.get("nextAfterSeq")
    return views


def _next_with_id(reader: SSEReader) -> tuple[int | None, str, dict[str, Any]]:
    while True:
        event_id, name, data = reader.next_event(timeout_s=10)
        if event_id is not None:
            return event_id, name, data


def _wait_settled(ops: Client, timeout_s: float = 10.0) -> None:
    """Until the venue reports of the restart's reconciliation are all durable."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        admin = ops.get("/api/admin").json()
        if admin["lastSeq"] == admin["durableSeq"]:
            time.sleep(0.3)
            again = ops.get("/api/admin").json()
            if again["lastSeq"] == admin["lastSeq"]:
                return
        time.sleep(0.05)


if __name__ == "__main__":
    if sys.argv[1:] == ["zygote"]:
        sys.exit(zygote_main())
    sys.stderr.write("usage: python -m switchyard.testing.crash_harness zygote\n")
    sys.exit(2)
