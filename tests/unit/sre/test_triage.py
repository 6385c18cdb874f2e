"""Triage: the tokeniser handles operations text; BM25 ranks the right runbook first."""

import pytest

from switchyard.sre import paths, triage


def test_snake_case_and_metric_names_count_whole_and_by_part():
    tokens = triage.tokenize("switchyard_backpressure_refusals_total rose")
    assert "switchyard_backpressure_refusals_total" in tokens
    assert {"backpressure", "refusal", "total", "rose"} <= set(tokens)


def test_camel_case_and_codes_split():
    tokens = triage.tokenize("retryAfterMs BACKPRESSURE_WAL_AGE HTTPServer")
    assert {
        "retry_after_ms",
        "retry",
        "ms",
        "backpressure_wal_age",
        "wal",
        "age",
        "http",
        "server",
    } <= set(tokens)


def test_japanese_becomes_bigrams():
    assert triage.tokenize("ディスク容量") == ["ディ", "ィス", "スク", "ク容", "容量"]


def test_plural_and_ing_forms_fold_together():
    assert triage.tokenize("orders refusing") == triage.tokenize("order refused")


@pytest.fixture(scope="module")
def index():
    sections = triage.load_sections([paths.docs_dir() / "runbooks"], paths.repo_root())
    return triage.BM25(sections)


@pytest.mark.parametrize(
    ("incident", "expected_heading"),
    [
        ("orders answered 503 BACKPRESSURE_DISK_FREE, the volume is almost full", "Disk full"),
        ("gateway process exited after fdatasync returned EIO", "WAL fsync errors"),
        ("fsync失敗でゲートウェイが停止した", "WAL fsync errors"),
        ("ディスク容量不足で注文が拒否される", "Disk full"),
        ("Kafka brokers unreachable and outbox lag keeps growing", "Kafka down"),
        (
            "positions in the back office are stale, lastEventAt 10 minutes old",
            "Back office lagging",
        ),
        ("every order for BTC gets 409 NOT_OWNER", "NOT_OWNER storm"),
        ("/audit/verify reports ok false and the anchor differs", "Hash-chain mismatch"),
        ("etcdctl endpoint health fails, lease keepalive errors in the log", "etcd outage"),
        ("clients get 401 after we rotated JWT_HS256_SECRET", "401 spike"),
        ("p99 latency doubled after the deploy, tail ratio 20", "Latency p99 regression"),
        (
            "switchyard run exits: WAL corruption in segment 00000001 at offset 4096",
            "WAL corruption at startup",
        ),
    ],
)
def test_the_right_runbook_section_ranks_first(index, incident, expected_heading):
    hits = index.search(incident, top_k=3)
    assert hits, incident
    assert hits[0].section.heading.startswith(expected_heading), [h.section.trail for h in hits]


def test_hits_cite_file_line_and_heading(index):
    hit = index.search("disk full ENOSPC", top_k=1)[0]
    assert hit.section.path == "docs/runbooks/wal.md"
    lines = (paths.repo_root() / hit.section.path).read_text().splitlines()
    assert lines[hit.section.line - 1].lstrip("# ").startswith(hit.section.heading)


def test_bm25_prefers_rare_terms_and_short_sections():
    sections = [
        triage.Section(
            "long.md", 1, "L", "L", "", triage.tokenize("error " + "filler words here " * 30)
        ),
        triage.Section("short.md", 1, "S", "S", "", triage.tokenize("error disk")),
        triage.Section("rare.md", 1, "R", "R", "", triage.tokenize("kafka error")),
    ]
    hits = triage.BM25(sections).search("kafka error")
    # "kafka" is in one section, "error" in all three: the rare term decides the winner;
    # among equal term counts the shorter section wins.
    assert [h.section.path for h in hits] == ["rare.md", "short.md", "long.md"]


def test_no_match_gives_no_hits(index):
    assert index.search("zzzz qqqq") == []


def test_sections_split_on_headings_but_not_inside_code():
    text = "# T\nintro\n## One\nbody one\n```sh\n# not a heading\n```\n### Two\nbody two\n"
    sections = triage.split_sections(text, "x.md")
    assert [(s.line, s.trail) for s in sections] == [(1, "T"), (3, "T > One"), (8, "T > One > Two")]
