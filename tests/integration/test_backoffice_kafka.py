"""End to end through Kafka: WAL -> outbox -> tansu -> back office (consumer group) -> books.

After the flow: positions equal the sum of fills, the ledger balances, /reconcile against the
gateway's view is clean, and `rebuild` from the topic equals the live books.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.fixtures.backoffice import (
    SOURCE,
    BackofficeProcessless,
    StubGateway,
    WALWriter,
    gateway_view,
    order_flow,
)
from tests.fixtures.kafka import TansuBroker, create_topic

from switchyard.backoffice.rebuild import rebuild
from switchyard.outbox import Outbox, OutboxSettings

pytestmark = pytest.mark.integration


def outbox_settings(bootstrap: str, topic: str, offset_path: Path) -> OutboxSettings:
    return OutboxSettings(
        bootstrap_servers=bootstrap,
        topic=topic,
        client_id="test-outbox",
        topic_partitions=3,
        offset_path=offset_path,
        backoff_base_ms=50,
        backoff_max_ms=500,
        delivery_timeout_ms=3000,
        linger_ms=1,
        inflight_max=5000,
        offset_flush_ms=20,
        poll_interval_ms=2,
        compression="lz4",
    )


@pytest.fixture
def kafka_env(
    backoffice_env: dict[str, str],
    kafka_broker: TansuBroker,
    kafka_topic: str,
    stub_gateway: StubGateway,
) -> dict[str, str]:
    create_topic(kafka_broker.bootstrap, kafka_topic, partitions=3)
    return dict(
        backoffice_env,
        KAFKA_BOOTSTRAP_SERVERS=kafka_broker.bootstrap,
        KAFKA_TOPIC=kafka_topic,
        KAFKA_GROUP_ID=f"bo-{kafka_topic}",
        GATEWAY_URL=stub_gateway.url,
    )


@pytest.fixture
def pipeline(
    tmp_path: Path, kafka_env: dict[str, str]
) -> Iterator[tuple[WALWriter, Outbox, BackofficeProcessless]]:
    wal = WALWriter(tmp_path / "wal")
    settings = outbox_settings(
        kafka_env["KAFKA_BOOTSTRAP_SERVERS"],
        kafka_env["KAFKA_TOPIC"],
        tmp_path / "outbox" / "offset",
    )
    outbox = Outbox(settings, wal_dir=wal.wal_dir, hmac_key=None, engine_id="eng1")
    outbox.start()
    backoffice = BackofficeProcessless(kafka_env, tmp_path)
    yield wal, outbox, backoffice
    backoffice.close()
    outbox.close_blocking(5.0)


def test_kafka_pipeline_books_reconcile_and_rebuild(
    pipeline: tuple[WALWriter, Outbox, BackofficeProcessless], stub_gateway: StubGateway
) -> None:
    wal, outbox, backoffice = pipeline
    items, expected = order_flow(seed=71, orders=200)
    wal.append_all(items)
    backoffice.wait_applied(SOURCE, len(items), timeout_s=60)
    assert outbox.acked_seq == len(items)
    ops = backoffice.token("operator", role="ops")
    _, body = backoffice.get("/positions", ops)
    positions = {(p["accountId"], p["symbol"]): p["qty"] for p in body["positions"] if p["qty"]}  # type: ignore[union-attr,index]
    assert positions == {k: v for k, v in expected.positions.items() if v}
    stub_gateway.view = gateway_view(items)  # type: ignore[arg-type]
    status, result = backoffice.get("/reconcile", ops)
    assert status == 200
    assert result["mismatches"] == []
    assert result["ok"] is True
    report = rebuild(backoffice.settings)
    summary = {k: v for k, v in report.as_dict().items() if k != "tables"}
    assert report.as_dict()["tables"] == {}, summary
    assert report.equal
    assert report.events_applied == len(items)


def test_kafka_pipeline_account_reconcile_sees_only_its_mismatches(
    pipeline: tuple[WALWriter, Outbox, BackofficeProcessless], stub_gateway: StubGateway
) -> None:
    wal, _, backoffice = pipeline
    items, _ = order_flow(seed=72, orders=40)
    wal.append_all(items)
    backoffice.wait_applied(SOURCE, len(items), timeout_s=60)
    view = gateway_view(items)  # type: ignore[arg-type]
    other = next(p for p in view["positions"] if p["accountId"] != "acct-1")  # type: ignore[attr-defined]
    other["qty"] += 3
    stub_gateway.view = view
    _, mine = backoffice.get("/reconcile", backoffice.token("acct-1"))
    assert mine["ok"] is True
    _, ops = backoffice.get("/reconcile", backoffice.token("operator", role="ops"))
    assert [m["kind"] for m in ops["mismatches"]] == ["POSITION"]  # type: ignore[union-attr,index]
