"""verify(), anchors and `switchyard wal verify|dump|anchor` on a real data directory."""

import json
from pathlib import Path

import pytest
from tests.fixtures.wal import (
    WAL_KEY,
    append_many,
    close,
    corrupt_byte,
    open_journal,
    segment_paths,
)

from switchyard.adapters.disk_os import OsDisk
from switchyard.cli.main import main
from switchyard.wal.anchor import Anchor, read_latest_anchor, write_anchor
from switchyard.wal.verify import verify


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    wal = tmp_path / "wal"
    journal, _ = open_journal(OsDisk(), str(wal))
    append_many(journal, 1, 40, commit_every=8)
    close(journal)
    monkeypatch.setenv("AUDIT_HMAC_KEY", WAL_KEY.decode())
    return tmp_path


def test_verify_checks_every_record_and_the_anchor(data_dir):
    result = verify(data_dir / "wal", WAL_KEY)
    assert result.ok
    assert (result.checked, result.last_seq, result.anchor_seq) == (40, 40, 40)


def test_verify_from_seq_with_limit(data_dir):
    result = verify(data_dir / "wal", WAL_KEY, from_seq=11, limit=5)
    assert (result.ok, result.checked, result.last_seq) == (True, 5, 15)


def test_verify_reports_mid_log_damage_with_file_and_offset(data_dir):
    segment = segment_paths(str(data_dir / "wal"))[0]
    corrupt_byte(segment, 300)
    result = verify(data_dir / "wal", WAL_KEY)
    assert not result.ok
    assert result.file == segment
    assert result.offset is not None
    assert result.offset <= 300


def test_verify_detects_a_rewritten_anchor(data_dir):
    wal = data_dir / "wal"
    anchor = read_latest_anchor(wal)
    assert anchor is not None
    forged = Anchor(anchor.seq, bytes(32), anchor.key_id, anchor.at_ns, anchor.wal_id, True)
    write_anchor(OsDisk(), str(wal), forged)
    result = verify(wal, WAL_KEY)
    assert not result.ok
    assert "anchor" in (result.error or "")


def test_verify_with_the_wrong_key_fails(data_dir):
    assert not verify(data_dir / "wal", b"wrong").ok


def test_cli_verify_prints_json_and_exits_zero(data_dir, capsys):
    assert main(["wal", "verify", "--data-dir", str(data_dir)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is True
    assert out["lastSeq"] == 40


def test_cli_verify_exits_one_on_damage(data_dir, capsys):
    corrupt_byte(segment_paths(str(data_dir / "wal"))[0], 300)
    assert main(["wal", "verify", "--data-dir", str(data_dir)]) == 1
    assert json.loads(capsys.readouterr().out)["ok"] is False


def test_cli_dump_filters_by_seq_range(data_dir, capsys):
    assert (
        main(["wal", "dump", "--data-dir", str(data_dir), "--from-seq", "3", "--to-seq", "4"]) == 0
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["seq"] for line in lines] == [3, 4]
    assert lines[0]["type"] == "MARKET_EVENT"


def test_cli_dump_refuses_an_unknown_type(data_dir, capsys):
    assert main(["wal", "dump", "--data-dir", str(data_dir), "--type", "NOPE"]) == 2


def test_cli_anchor_prints_and_writes(data_dir, capsys):
    assert main(["wal", "anchor", "--data-dir", str(data_dir)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["seq"] == 40
    assert printed["hashAlg"] == "HMAC-SHA256"
    assert main(["wal", "anchor", "--data-dir", str(data_dir), "--write"]) == 0
    assert json.loads(capsys.readouterr().out)["hash"] == printed["hash"]


def test_cli_uses_switchyard_data_dir(data_dir, monkeypatch, capsys):
    monkeypatch.setenv("SWITCHYARD_DATA_DIR", str(data_dir))
    assert main(["wal", "verify"]) == 0
