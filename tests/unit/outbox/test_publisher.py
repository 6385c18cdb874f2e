"""Outbox behaviour that needs no broker: settings, start before the WAL exists, stats."""

from pathlib import Path

import pytest

from switchyard.core.env import ConfigError
from switchyard.outbox import Outbox, OutboxSettings, OutboxState


def _settings(tmp_path: Path) -> OutboxSettings:
    return OutboxSettings.from_env({"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}, data_dir=tmp_path)


def test_outbox_from_env_none_without_kafka(tmp_path: Path) -> None:
    assert Outbox.from_env({}, tmp_path / "wal", None) is None


def test_outbox_settings_default_offset_path_under_data_dir(tmp_path: Path) -> None:
    assert _settings(tmp_path).offset_path == tmp_path / "outbox" / "offset"


def test_outbox_settings_backoff_base_above_max_names_both(tmp_path: Path) -> None:
    environ = {"OUTBOX_BACKOFF_BASE_MS": "9000", "OUTBOX_BACKOFF_MAX_MS": "100"}
    with pytest.raises(
        ConfigError, match="OUTBOX_BACKOFF_BASE_MS=9000 is above OUTBOX_BACKOFF_MAX_MS"
    ):
        OutboxSettings.from_env(environ, data_dir=tmp_path)


def test_outbox_settings_bad_compression_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="OUTBOX_COMPRESSION"):
        OutboxSettings.from_env({"OUTBOX_COMPRESSION": "brotli"}, data_dir=tmp_path)


def test_outbox_closed_before_the_wal_exists_stores_nothing(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    outbox = Outbox(settings, wal_dir=tmp_path / "wal", hmac_key=None)
    outbox.start()
    assert outbox.is_alive()
    outbox.close_blocking(5.0)
    assert outbox.state is OutboxState.STOPPED
    assert not settings.offset_path.exists()
    assert outbox.stats()["durableSeq"] == 0
