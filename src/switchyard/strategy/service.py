"""`ConfigService`: the strategy config as the gateway sees it, kept in step with the database.

Owns the last good config (what the runner trades with and GET shows), the storage status
(`starting` until the first database answer, then `db` or `unavailable`), the periodic
refresh (every STRATEGY_CONFIG_REFRESH_MS) and the writes PUT asks for. Every database call
runs on one dedicated thread (`strategy-db`), never on the event loop: the loop hands a call
over and gets the result back as a future, so a slow or dead database costs the loop
nothing. At most `DB_CALLS_PENDING_MAX` calls wait for that thread; beyond it a write is
refused at once (503 STRATEGY_DB_BUSY) and a refresh is skipped.

When the database fails, the service keeps the last good config (the runner keeps trading
with it, or stays stopped), says so in its status, and retries at each refresh; a write
answers 503. A stored row that breaks the rules (edited by hand, or naming a symbol the
venue no longer trades) is refused the same way: the last good config stays. Must not
touch trading state; the runner applies configs through `on_change`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, TypeVar

from switchyard.core.ports import Clock
from switchyard.runtime.latency import LatencyRecorder

from .config import EDITABLE, StrategyConfig, Venue, parse_update
from .settings import StrategySettings

if TYPE_CHECKING:
    from .store import ConfigStore, Conflict, HistoryEntry, StoredConfig

log = logging.getLogger("switchyard.strategy")
T = TypeVar("T")

DB_CALLS_PENDING_MAX: Final = 16  # calls waiting for the database thread
SEED_ACTOR: Final = "env"  # who wrote version 1 (the env values)
UNAVAILABLE: Final = "STRATEGY_DB_UNAVAILABLE"  # the seed's message
INVALID_ROW: Final = "STRATEGY_CONFIG_INVALID"


class Storage(StrEnum):
    STARTING = "starting"  # the first database call has not answered yet
    DB = "db"  # the last call succeeded; the config is the stored one
    UNAVAILABLE = "unavailable"  # the last call failed; the last good config is kept


@dataclass(slots=True)
class StorageStatus:
    state: Storage = Storage.STARTING
    message: str | None = None  # why it is unavailable
    error_at_ms: int | None = None  # when the last failure happened
    unavailable_since_ms: int | None = None  # first failure of the current outage
    last_ok_at_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Stored:
    config: StrategyConfig


@dataclass(frozen=True, slots=True)
class VersionConflict:
    current_version: int | None  # None: the row is gone


@dataclass(frozen=True, slots=True)
class Unavailable:
    message: str
    busy: bool = False  # refused before reaching the database (too many calls waiting)


@dataclass(frozen=True, slots=True)
class History:
    entries: list[HistoryEntry]


UpdateResult = Stored | VersionConflict | Unavailable


class _Busy(Exception):
    pass


class ConfigService:
    """See the module docstring. Used on the event loop; the store lives on its thread."""

    def __init__(
        self,
        *,
        settings: StrategySettings,
        venue: Callable[[], Venue],
        clock: Clock,
        on_change: Callable[[StrategyConfig], None],
        store_factory: Callable[[], ConfigStore] | None = None,
    ) -> None:
        # config and collaborators
        self.settings = settings
        self._venue = venue
        self._clock = clock
        self._on_change = on_change
        self._store_factory = store_factory or self._default_store
        # state
        self.config = settings.seed  # the last good config (version 0 until stored)
        self.status = StorageStatus()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="strategy-db")
        self._store: ConfigStore | None = None  # created and used on the database thread
        self._opened = False  # the store answered open() once (touched on its thread)
        self._pending = 0
        self._first_answer: asyncio.Future[None] | None = None
        self._refresh_handle: asyncio.TimerHandle | None = None
        self._refreshing = False
        self._closed = False
        self._tasks: set[asyncio.Task[Any]] = set()
        # counters (read at scrape time)
        self.counters: dict[str, int] = {
            "updates": 0,  # seed: strategy_config_update_total
            "update_failed": 0,  # seed: strategy_config_update_failed_total
            "validation_failed": 0,  # seed: strategy_config_validation_failed_total
            "fallbacks": 0,  # seed: strategy_storage_fallback_total (transitions to unavailable)
            "conflicts": 0,
            "busy": 0,
            "refreshes": 0,
            "refresh_failed": 0,
            "refresh_skipped": 0,
            "invalid_rows": 0,
            "changes_applied": 0,
        }
        self.db_latency = LatencyRecorder("strategy_db", "strategy config database call")

    def _default_store(self) -> ConfigStore:
        from .store import ConfigStore  # SQLAlchemy is imported on the database thread

        settings = self.settings
        return ConfigStore(
            url=settings.db_url,
            account_id=settings.account_id,
            timeout_ms=settings.db_timeout_ms,
        )

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Open the store (migrations, first row) off the loop, then refresh periodically."""
        loop = asyncio.get_running_loop()
        self._first_answer = loop.create_future()
        self.spawn(self._refresh())

    async def wait_started(self) -> None:
        """Until the first database call answered (or failed)."""
        assert self._first_answer is not None, "start() first"
        await asyncio.shield(self._first_answer)

    @property
    def started(self) -> bool:
        return self._first_answer is not None and self._first_answer.done()

    async def close(self) -> None:
        self._closed = True
        if self._refresh_handle is not None:
            self._refresh_handle.cancel()
        for task in list(self._tasks):
            task.cancel()
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.settings.db_timeout_ms / 1000 * 2):
                await loop.run_in_executor(self._executor, self._close_store)
        except TimeoutError:
            log.warning("event=strategy_db_close_timeout: the database thread is still busy")
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _close_store(self) -> None:
        if self._store is not None:
            self._store.close()

    def spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        """A task the service owns: cancelled at close, its failure logged, never silent."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("event=strategy_task_failed error=%r", task.exception())

    # --- the database thread -------------------------------------------------------------------

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        """Run `function(store, *args)` on the database thread; raises _Busy when full."""
        if self._pending >= DB_CALLS_PENDING_MAX:
            raise _Busy
        self._pending += 1
        loop = asyncio.get_running_loop()
        started = self._clock.mono_ns()
        try:
            return await loop.run_in_executor(self._executor, self._with_store, function, args)
        finally:
            self._pending -= 1
            self.db_latency.record_ns(self._clock.mono_ns() - started)

    def _with_store(self, function: Callable[..., T], args: tuple[Any, ...]) -> T:
        if self._store is None:
            self._store = self._store_factory()
        return function(self._store, *args)

    def _open_or_load(self, store: ConfigStore, now_ms: int) -> StoredConfig | str:
        """(database thread) The stored row, opening the store first; an error's text."""
        from .store import StoreUnavailable

        try:
            if not self._opened:
                stored = store.open(self.settings.seed.values(), actor=SEED_ACTOR, now_ms=now_ms)
                self._opened = True
                return stored
            found = store.load()
            if found is None:  # the row was deleted: seed it again, as at the first start
                return store.open(self.settings.seed.values(), actor=SEED_ACTOR, now_ms=now_ms)
            return found
        except StoreUnavailable as error:
            return str(error)

    def _update_row(
        self, store: ConfigStore, expected: int, values: dict[str, Any], actor: str, now_ms: int
    ) -> StoredConfig | Conflict | str:
        from .store import StoreUnavailable

        try:
            if not self._opened:
                store.open(self.settings.seed.values(), actor=SEED_ACTOR, now_ms=now_ms)
                self._opened = True
            return store.update(
                expected_version=expected, values=values, actor=actor, now_ms=now_ms
            )
        except StoreUnavailable as error:
            return str(error)

    def _read_history(self, store: ConfigStore, limit: int) -> list[HistoryEntry] | str:
        from .store import StoreUnavailable

        try:
            return store.history(limit)
        except StoreUnavailable as error:
            return str(error)

    # --- refresh -------------------------------------------------------------------------------

    async def _refresh(self) -> None:
        if self._refreshing or self._closed:
            self.counters["refresh_skipped"] += 1
            return
        self._refreshing = True
        try:
            self.counters["refreshes"] += 1
            answer = await self._call(self._open_or_load, self._now_ms())
            if isinstance(answer, str):
                self.counters["refresh_failed"] += 1
                self._failed(answer)
            else:
                self._take(answer)
        except _Busy:
            self.counters["refresh_skipped"] += 1
        finally:
            self._refreshing = False
            if self._first_answer is not None and not self._first_answer.done():
                self._first_answer.set_result(None)
            self._schedule_refresh()

    def _schedule_refresh(self) -> None:
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        self._refresh_handle = loop.call_later(
            self.settings.refresh_ms / 1000, lambda: self.spawn(self._refresh())
        )

    def _take(self, stored: StoredConfig) -> StrategyConfig | None:
        """Validate a stored row and make it the good config; None (and status) if invalid."""
        parsed = parse_update({"version": stored.version, **stored.values}, self._venue())
        if isinstance(parsed, list):
            self.counters["invalid_rows"] += 1
            problems = "; ".join(f"{e.field}: {e.message}" for e in parsed)
            self._failed(f"{INVALID_ROW}: stored version {stored.version}: {problems}")
            return None
        _, values = parsed
        config = StrategyConfig(
            **values,
            version=stored.version,
            updated_at_ms=stored.updated_at_ms,
            updated_by=stored.updated_by,
        )
        self._ok()
        if config != self.config:
            changed = config.version != self.config.version or not config.same_values(self.config)
            self.config = config
            if changed:
                self.counters["changes_applied"] += 1
                self._on_change(config)
        return config

    def _ok(self) -> None:
        status = self.status
        if status.state is Storage.UNAVAILABLE:
            log.warning(
                "event=strategy_db_back after=%s: config version %d",
                status.message,
                self.config.version,
            )
        status.state = Storage.DB
        status.message = None
        status.unavailable_since_ms = None
        status.last_ok_at_ms = self._now_ms()

    def _failed(self, message: str) -> None:
        status = self.status
        now_ms = self._now_ms()
        if status.state is not Storage.UNAVAILABLE:
            self.counters["fallbacks"] += 1
            status.unavailable_since_ms = now_ms
            log.warning(
                "event=strategy_db_unavailable error=%r: keeping config version %d (enabled=%s)",
                message,
                self.config.version,
                self.config.enabled,
            )
        status.state = Storage.UNAVAILABLE
        status.message = message if message.startswith(INVALID_ROW) else f"{UNAVAILABLE}: {message}"
        status.error_at_ms = now_ms

    # --- requests ------------------------------------------------------------------------------

    async def update(
        self, *, expected_version: int, values: dict[str, Any], actor: str
    ) -> UpdateResult:
        """Store new editable values if the row is still at `expected_version`."""
        row = _camel(values)
        try:
            answer = await self._call(
                self._update_row, expected_version, row, actor, self._now_ms()
            )
        except _Busy:
            self.counters["busy"] += 1
            return Unavailable("too many strategy config calls are waiting; retry", busy=True)
        if isinstance(answer, str):
            self.counters["update_failed"] += 1
            self._failed(answer)
            return Unavailable(self.status.message or answer)
        from .store import Conflict

        if isinstance(answer, Conflict):
            self.counters["conflicts"] += 1
            return VersionConflict(answer.current_version)
        config = self._take(answer)
        assert config is not None, f"values that passed the rules were refused: {answer}"
        self.counters["updates"] += 1
        log.info("event=strategy_config_updated version=%d by=%s", config.version, actor)
        return Stored(config)

    async def history(self, limit: int) -> History | Unavailable:
        try:
            answer = await self._call(self._read_history, limit)
        except _Busy:
            self.counters["busy"] += 1
            return Unavailable("too many strategy config calls are waiting; retry", busy=True)
        if isinstance(answer, str):
            self._failed(answer)
            return Unavailable(self.status.message or answer)
        self._ok()
        return History(answer)

    def note_validation_failed(self) -> None:
        self.counters["validation_failed"] += 1

    def _now_ms(self) -> int:
        return self._clock.wall_ns() // 1_000_000


def _camel(values: dict[str, Any]) -> dict[str, Any]:
    """Attribute-named values (from config.parse_update) as the stored camelCase fields."""
    by_attr = {attr: name for name, attr in EDITABLE.items()}
    config_values = {by_attr[attr]: value for attr, value in values.items()}
    config_values["symbols"] = list(config_values["symbols"])
    return config_values
