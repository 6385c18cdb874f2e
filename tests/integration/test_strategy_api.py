"""GET/PUT /api/strategy on a real gateway process, with its config in SQLite and in the real
PostgreSQL: every validation error, every auth case, stale versions, history, decisions, and
the database going away (and coming back, and missing at start)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.fixtures.services import require_service
from tests.fixtures.strategy import (
    INVALID,
    PGProxy,
    fresh_schema,
    move_away,
    move_back,
    pg_admin_dsn,
    sqlalchemy_url,
    valid_body,
)

from switchyard.testing.gateway_harness import Client, GatewayProcess, HTTPResult

pytestmark = pytest.mark.integration

ADMIN = "strategy-admin-token"
BASE_ENV = {
    "STRATEGY_ADMIN_TOKEN": ADMIN,
    "STRATEGY_CONFIG_REFRESH_MS": "200",
    "STRATEGY_DB_TIMEOUT_MS": "1000",
    "STRATEGY_SYMBOLS": "BTC,ETH",
}


@pytest.fixture(scope="module")
def pg_module_dsn() -> str:
    dsn = pg_admin_dsn()
    try:
        import psycopg

        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("select 1")
    except Exception as error:  # noqa: BLE001 - any failure means "not available"
        require_service("postgresql", f"{dsn}: {error}")
    return dsn


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    env = dict(BASE_ENV)
    if request.param == "sqlite":
        with GatewayProcess(tmp_path_factory.mktemp("strategy-sqlite"), env=env) as gw:
            yield gw
        return
    dsn = request.getfixturevalue("pg_module_dsn")
    with fresh_schema(dsn) as schema:
        env["APP_DB_URL"] = sqlalchemy_url(dsn, schema)
        with GatewayProcess(tmp_path_factory.mktemp("strategy-pg"), env=env) as gw:
            yield gw


def admin(gw: GatewayProcess) -> Client:
    return Client(gw.port, ADMIN)


def current(gw: GatewayProcess) -> dict[str, Any]:
    result = gw.client().get("/api/strategy")
    assert result.status == 200, result
    body: dict[str, Any] = result.json()
    return body


def editable(config: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k in valid_body() and k != "version"}


def wait_until(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


# --- reading -------------------------------------------------------------------------------


def test_get_shows_the_config_with_its_version_and_storage(gateway: GatewayProcess) -> None:
    body = current(gateway)
    assert list(body)[:6] == [
        "version",
        "enabled",
        "symbols",
        "tickMs",
        "maxOrdersPerMin",
        "cooldownMs",
    ]
    assert body["version"] >= 1
    assert body["accountId"] == "strategy"
    assert (body["storage"], body["storageHealthy"], body["storageMessage"]) == ("db", True, None)
    assert body["status"]["autoEnable"] is True
    assert set(editable(body)) | {"version"} == set(valid_body())


# --- writing -------------------------------------------------------------------------------


def test_a_put_of_exactly_what_get_returned_is_valid(gateway: GatewayProcess) -> None:
    shown = current(gateway)
    result = admin(gateway).put("/api/strategy", shown)
    assert result.status == 200, result
    assert result.json()["version"] == shown["version"]  # nothing changed: same version


def test_a_put_with_a_change_stores_the_next_version(gateway: GatewayProcess) -> None:
    shown = current(gateway)
    result = admin(gateway).put("/api/strategy", {**shown, "tickMs": shown["tickMs"] % 5000 + 250})
    assert result.status == 200, result
    stored = result.json()
    assert stored["version"] == shown["version"] + 1
    assert stored["tickMs"] == shown["tickMs"] % 5000 + 250
    assert stored["updatedBy"] == "admin@127.0.0.1"
    assert current(gateway)["version"] == stored["version"]


@pytest.mark.parametrize(("changes", "field", "message"), INVALID)
def test_every_validation_error_is_a_400_naming_the_field(
    gateway: GatewayProcess, changes: dict[str, Any], field: str, message: str
) -> None:
    shown = current(gateway)
    result = admin(gateway).put("/api/strategy", {**valid_body(shown["version"]), **changes})
    assert result.status == 400, result
    body = result.json()
    assert body["error"] == "INVALID_CONFIG"
    assert [e["field"] for e in body["errors"]] == [field]
    assert message in body["errors"][0]["message"]
    assert current(gateway)["version"] == shown["version"]


def test_every_problem_is_listed_in_one_answer(gateway: GatewayProcess) -> None:
    shown = current(gateway)
    body = {**shown, "tickMs": 5, "symbols": [], "cooldownMs": -1}
    del body["maxPosition"]
    result = admin(gateway).put("/api/strategy", body)
    assert result.status == 400
    fields = sorted(e["field"] for e in result.json()["errors"])
    assert fields == ["cooldownMs", "maxPosition", "symbols", "tickMs"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [(b"{not json", "malformed JSON"), (b"[1, 2]", "JSON object"), (b"", "JSON body")],
)
def test_a_body_that_is_not_a_config_object_is_a_400(
    gateway: GatewayProcess, raw: bytes, message: str
) -> None:
    result = admin(gateway).request(
        "PUT", "/api/strategy", raw_body=raw, headers={"content-type": "application/json"}
    )
    assert result.status == 400, result
    (error,) = result.json()["errors"]
    assert error["field"] is None
    assert message in error["message"]


def test_a_stale_version_is_a_409_and_changes_nothing(gateway: GatewayProcess) -> None:
    shown = current(gateway)
    client = admin(gateway)
    assert (
        client.put("/api/strategy", {**shown, "cooldownMs": shown["cooldownMs"] + 1}).status == 200
    )
    stale = client.put("/api/strategy", {**shown, "cooldownMs": 42})
    assert stale.status == 409, stale
    body = stale.json()
    assert body["error"] == "VERSION_CONFLICT"
    assert (body["currentVersion"], body["yourVersion"]) == (shown["version"] + 1, shown["version"])
    assert current(gateway)["cooldownMs"] == shown["cooldownMs"] + 1


# --- auth ----------------------------------------------------------------------------------


def test_a_put_without_the_admin_token_is_a_401(gateway: GatewayProcess) -> None:
    result = gateway.client().put("/api/strategy", current(gateway))
    assert result.status == 401
    assert result.json()["error"] == "ADMIN_TOKEN_REQUIRED"
    assert result.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Basic " + ADMIN, "Bearer", "Bearer  ", ADMIN])
def test_a_put_with_a_malformed_authorization_is_a_401(
    gateway: GatewayProcess, header: str
) -> None:
    result = gateway.client().put(
        "/api/strategy", current(gateway), headers={"authorization": header}
    )
    assert result.status == 401, result


def test_a_put_with_a_wrong_token_is_a_403(gateway: GatewayProcess) -> None:
    result = Client(gateway.port, ADMIN + "x").put("/api/strategy", current(gateway))
    assert result.status == 403
    assert result.json()["error"] == "ADMIN_TOKEN_INVALID"


def test_a_users_jwt_is_not_the_admin_token(gateway: GatewayProcess) -> None:
    assert gateway.client("alice", role="ops").put("/api/strategy", current(gateway)).status == 403


def test_the_scheme_is_case_insensitive(gateway: GatewayProcess) -> None:
    result = gateway.client().put(
        "/api/strategy", current(gateway), headers={"authorization": f"bearer {ADMIN}"}
    )
    assert result.status == 200, result


def test_auth_is_checked_before_the_body(gateway: GatewayProcess) -> None:
    assert gateway.client().put("/api/strategy", {"tickMs": "nonsense"}).status == 401


# --- history and decisions -------------------------------------------------------------------


def test_history_says_who_when_and_old_to_new(gateway: GatewayProcess) -> None:
    shown = current(gateway)
    result = admin(gateway).put(
        "/api/strategy",
        {**shown, "maxOrdersPerMin": shown["maxOrdersPerMin"] + 7},
        headers={"x-actor": "alice.ops"},
    )
    assert result.status == 200
    history = gateway.client().get("/api/strategy/history?limit=2")
    assert history.status == 200
    newest, previous = history.json()["history"]
    assert newest["version"] == shown["version"] + 1
    assert newest["changedBy"] == "alice.ops (admin)@127.0.0.1"
    assert newest["changes"] == {
        "maxOrdersPerMin": {"old": shown["maxOrdersPerMin"], "new": shown["maxOrdersPerMin"] + 7}
    }
    assert newest["old"] == editable(shown)
    assert previous["version"] == shown["version"]
    assert abs(newest["changedAtMs"] - time.time() * 1000) < 60_000
    first = gateway.client().get("/api/strategy/history?limit=1000").json()["history"][-1]
    assert (first["version"], first["changedBy"], first["old"]) == (1, "env", None)


@pytest.mark.parametrize(
    "path",
    [
        "/api/strategy/history?limit=0",
        "/api/strategy/history?limit=1001",
        "/api/strategy/decisions?limit=x",
        "/api/strategy/decisions?limit=%C2%B2",  # "2" superscript: a digit to str.isdigit
    ],
)
def test_a_bad_limit_is_a_400(gateway: GatewayProcess, path: str) -> None:
    result = gateway.client().get(path)
    assert result.status == 400
    assert result.json()["field"] == "limit"


def test_decisions_are_listed_newest_first_with_the_lists_bounds(gateway: GatewayProcess) -> None:
    body = gateway.client().get("/api/strategy/decisions?limit=5").json()
    assert set(body) == {"decisions", "kept", "capacity", "dropped"}
    assert body["capacity"] == 1000
    assert len(body["decisions"]) <= 5


# --- no admin token configured ---------------------------------------------------------------


def test_without_an_admin_token_anyone_may_write(tmp_path: Path) -> None:
    env = {**BASE_ENV, "STRATEGY_ADMIN_TOKEN": "", "APP_DB_USER": "backoffice"}
    with GatewayProcess(tmp_path, env=env) as gw:
        shown = current(gw)
        result = gw.client().put("/api/strategy", {**shown, "tickMs": 400})
        assert result.status == 200, result
        assert result.json()["updatedBy"] == "anonymous@127.0.0.1"
        assert "STRATEGY_ADMIN_TOKEN is not set" in gw.log()
        assert "retired_setting name=APP_DB_USER" in gw.log()  # the seed's, now in the URL


# --- the database going away ---------------------------------------------------------------


class Outage:
    """Cut and restore a gateway's config database (SQLite: its directory; PostgreSQL: a proxy)."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self.proxy: PGProxy | None = None
        self.schema: Any = None
        self.directory = tmp_path / "strategy-volume"
        self.away: Path | None = None

    def url(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.directory / 'config.db'}"
        dsn = pg_admin_dsn()
        self.schema = fresh_schema(dsn)
        schema = self.schema.__enter__()
        self.proxy = PGProxy.for_dsn(dsn).start()
        return sqlalchemy_url(self.proxy.dsn_through(dsn), schema)

    def cut(self) -> None:
        if self.proxy is not None:
            self.proxy.cut()
        else:
            self.away = move_away(self.directory)

    def restore(self) -> None:
        if self.proxy is not None:
            self.proxy.restore()
        else:
            assert self.away is not None
            move_back(self.away, self.directory)

    def close(self) -> None:
        if self.proxy is not None:
            self.proxy.close()
            self.schema.__exit__(None, None, None)


@pytest.fixture(params=["sqlite", "postgresql"])
def outage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outage]:
    if request.param == "postgresql":
        request.getfixturevalue("pg_module_dsn")
    subject = Outage(request.param, tmp_path)
    yield subject
    subject.close()


def health_of_strategy(gw: GatewayProcess) -> tuple[int, dict[str, Any]]:
    result = gw.client().get("/health")
    return result.status, result.json()["checks"]["strategy"]


def test_database_down_503_on_writes_last_good_config_kept_and_said_in_health(
    outage: Outage, tmp_path: Path
) -> None:
    env = {**BASE_ENV, "APP_DB_URL": outage.url()}
    with GatewayProcess(tmp_path / "gw", env=env) as gw:
        enabled = admin(gw).put("/api/strategy", {**current(gw), "enabled": True, "tickMs": 100})
        assert enabled.status == 200, enabled
        version = enabled.json()["version"]
        outage.cut()
        wait_until(lambda: current(gw)["storage"] == "unavailable")
        shown = current(gw)
        assert (shown["version"], shown["enabled"], shown["storageHealthy"]) == (
            version,
            True,
            False,
        )
        assert shown["storageMessage"].startswith("STRATEGY_DB_UNAVAILABLE")
        assert shown["storageErrorAtMs"] > 0
        refused = admin(gw).put("/api/strategy", {**shown, "tickMs": 300})
        assert refused.status == 503, refused
        assert refused.json()["error"] == "STRATEGY_DB_UNAVAILABLE"
        assert refused.headers["retry-after"] == "1"
        assert gw.client().get("/api/strategy/history").status == 503
        status, check = health_of_strategy(gw)
        assert (status, check["status"]) == (200, "degraded")
        assert f"last good config, version {version}" in check["reason"]
        ticks = current(gw)["status"]["ticks"]
        wait_until(lambda: current(gw)["status"]["ticks"] > ticks + 3)  # still trading
        assert current(gw)["status"]["running"] is True
        outage.restore()
        wait_until(lambda: current(gw)["storage"] == "db")
        assert health_of_strategy(gw)[1]["status"] == "healthy"
        again = admin(gw).put("/api/strategy", {**current(gw), "tickMs": 300})
        assert again.status == 200, again
        assert again.json()["version"] == version + 1


def test_database_down_at_start_serves_the_disabled_env_config(
    outage: Outage, tmp_path: Path
) -> None:
    env = {**BASE_ENV, "APP_DB_URL": outage.url()}
    if outage.kind == "sqlite":
        outage.directory.write_text("a file where the database directory should be")
    else:
        outage.cut()
    with GatewayProcess(tmp_path / "gw", env=env) as gw:
        shown = current(gw)
        assert (shown["version"], shown["enabled"], shown["storage"]) == (0, False, "unavailable")
        assert shown["symbols"] == ["BTC", "ETH"]
        assert admin(gw).put("/api/strategy", {**shown, "enabled": True}).status == 503
        assert health_of_strategy(gw)[1]["status"] == "degraded"
        assert gw.client().get("/health").status == 200  # the gateway serves orders meanwhile
        if outage.kind == "sqlite":
            outage.directory.unlink()
            outage.directory.mkdir()
        else:
            outage.restore()
        wait_until(lambda: current(gw)["version"] == 1)
        assert current(gw)["storage"] == "db"


def test_a_locked_database_does_not_stall_the_gateway(tmp_path: Path) -> None:
    """A PUT waits on the SQLite lock another process holds; meanwhile every other request is
    answered at once (the database call runs on its own thread)."""
    path = tmp_path / "locked.db"
    env = {**BASE_ENV, "APP_DB_URL": f"sqlite:///{path}", "STRATEGY_DB_TIMEOUT_MS": "3000"}
    with GatewayProcess(tmp_path / "gw", env=env) as gw:
        shown = current(gw)
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        answer: list[HTTPResult] = []
        writer = threading.Thread(
            target=lambda: answer.append(admin(gw).put("/api/strategy", {**shown, "tickMs": 700}))
        )
        writer.start()
        time.sleep(0.1)
        probe = gw.client()
        slowest = 0.0
        for _ in range(20):
            started = time.perf_counter()
            assert probe.get("/health").status == 200
            slowest = max(slowest, time.perf_counter() - started)
            time.sleep(0.02)
        assert not answer, "the PUT should still be waiting for the lock"
        holder.execute("COMMIT")
        holder.close()
        writer.join(timeout=10)
        assert answer[0].status == 200, answer
        assert slowest < 0.1, f"a request took {slowest * 1000:.0f} ms while the DB was locked"


def test_the_config_survives_a_restart(tmp_path: Path) -> None:
    with GatewayProcess(tmp_path, env=dict(BASE_ENV)) as gw:
        stored = admin(gw).put("/api/strategy", {**current(gw), "cooldownMs": 1234}).json()
        gw.stop()
        gw.start()
        shown = current(gw)
        assert (shown["version"], shown["cooldownMs"]) == (stored["version"], 1234)
        assert "Running upgrade" not in gw.log().split("listening")[-1]  # migrated once
