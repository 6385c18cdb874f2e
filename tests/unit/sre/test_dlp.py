"""DLP: finds what it must, not what it must not, and the allow-list cannot cancel a category."""

import pytest

from switchyard.sre import dlp

from .conftest_helpers import DATA

# A realistic application log: what the gateway and its clients really write.
LOG = """\
2026-11-26T10:00:00.123Z level=info event=order_accepted seq=184467 client_order_id=b9f1-77 account=acct-0001 ts_ns=1764151200123456789 qty=10 price=6000123
2026-11-26T10:00:00.131Z level=info event=order_durable seq=184467 order_id=e1-3fa9c2-184467 batch=64 fsync_us=412
2026-11-26T10:00:01.002Z level=warn event=support_ticket contact=hanako.yamada@gmail.com phone=090-1234-5678 note="callback requested"
2026-11-26T10:00:02.500Z level=error event=payment_debug card="4539 5787 6362 1486" expiry=12/28
2026-11-26T10:00:03.000Z level=info event=kyc ssn=219-09-9999 country=US
2026-11-26T10:00:04.000Z level=info event=kyc_jp マイナンバー：１２３４５６７８９０１８
2026-11-26T10:00:05.000Z level=debug headers="Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhY2N0LTEiLCJleHAiOjE3NjQxNTEyMDB9.abcDEF123456789_-xyz"
2026-11-26T10:00:06.000Z level=debug aws_access_key_id=AKIAQ3EGVB5NZ2LDX7YU
"""

# What `switchyard wal dump` prints: JSON lines of records, ids and numbers only.
WAL_DUMP = """\
{"seq":1,"type":"OrderAccepted","tsNs":1764151200123456789,"orderId":"e1-3fa9c2-1","accountId":"acct-0001","symbol":"7203","side":"BUY","qty":100,"price":3001,"clientOrderId":"c-20261126-000001","idempotencyKey":"c-20261126-000001","acceptSeq":1}
{"seq":2,"type":"OrderFilled","tsNs":1764151200223456789,"orderId":"e1-3fa9c2-1","filledQty":100,"avgPrice":3001,"venueExecId":"v-123456789012","chainHash":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
{"seq":3,"type":"MarketEvent","tsNs":1764151200323456789,"key":"BTC","price":6000123,"volume":42,"eventId":"e1:3fa9c2:3"}
"""


def _scan(text, allow=None):
    return dlp.scan_text(text, allow or dlp.builtin_allow_list())


def _categories(result):
    return sorted(f.category for f in result.findings)


def test_finds_every_kind_of_personal_data_and_secret_in_a_log():
    result = _scan(LOG)
    assert _categories(result) == sorted(
        ["email", "phone", "credit_card", "us_ssn", "my_number", "jwt", "api_key"]
    )


def test_finds_nothing_in_a_wal_dump_of_ids_hashes_and_prices():
    assert _scan(WAL_DUMP).findings == []


def test_finds_nothing_in_our_own_result_documents():
    result = dlp.scan_paths([DATA], dlp.builtin_allow_list())
    assert result.files_scanned >= 3
    assert result.findings == []


@pytest.mark.parametrize(
    "text",
    [
        "order 4539 5787 6362 1487 rejected",  # fails Luhn
        "ts=1764151200123456 seq=4242424242424242",  # no issuer prefix / epoch micros
        "ssn 000-12-3456 and 666-12-3456 and 912-12-3456 and 123-00-4567",  # invalid areas
        "My Number 1234 5678 9019",  # wrong check digit
        "acceptSeq 123456789018 without any context",  # bare 12 digits, no keyword
        "version 2026-11-26 build 0.1.0 port 8080",  # dates and versions
        "password=changeme_placeholder_1234",  # placeholder, not a secret
        "user@example.com wrote to ops@mail.test",  # reserved documentation domains
    ],
)
def test_does_not_flag_look_alikes(text):
    assert _scan(text).findings == []


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("call 03-5555-1234", "phone"),
        ("call 0312345678", "phone"),
        ("tel +81 90 1234 5678", "phone"),
        ("uk +447911123456", "phone"),
        ("amex 3782 822463 10005", "credit_card"),
        ("ssn 219099999 on file", "us_ssn"),
        ("個人番号 123456789018", "my_number"),
        ("ghp_16C7e42F292c6912E7710c838347Ae178B4a", "api_key"),
        ("-----BEGIN RSA PRIVATE KEY-----", "private_key"),
        ("ｍａｉｌ：ｔａｒｏ＠ｃｏｒｐ．ｊｐ", "email"),
    ],
)
def test_flags_each_format(text, category):
    assert _categories(_scan(text)) == [category]


def test_a_phone_next_to_an_allow_listed_value_is_still_found(tmp_path):
    allow_file = tmp_path / "allow.yaml"
    allow_file.write_text(
        "allow:\n  - {category: phone, value: '0120-444-555', reason: our published support line}\n"
    )
    allow = dlp.load_allow_list(allow_file)
    result = _scan("support 0120-444-555 / customer mobile 080-9876-5432", allow)
    assert [f.masked() for f in result.findings] == ["***-****-5432"]
    assert result.allowed == {"phone": 1}


def test_a_pattern_that_would_cancel_a_category_is_refused(tmp_path):
    allow_file = tmp_path / "allow.yaml"
    allow_file.write_text("allow:\n  - {category: phone, pattern: '0\\d0-\\d{4}-\\d{4}'}\n")
    with pytest.raises(dlp.AllowListError, match="whole category"):
        dlp.load_allow_list(allow_file)


@pytest.mark.parametrize(
    ("category", "pattern"),
    [(category, pattern) for category in dlp.CATEGORIES for pattern in (".*", "[\\s\\S]+")]
    + [
        ("email", ".+@.+"),
        ("email", "[a-z.]+@gmail\\.com"),
        ("credit_card", "\\d+"),
        ("credit_card", "4\\d{15}"),
        ("us_ssn", "\\d{3}-\\d{2}-\\d{4}"),
        ("my_number", ".{14}"),
        ("api_key", "AKIA.*"),
        ("jwt", "eyJ.*"),
    ],
)
def test_catch_all_patterns_are_refused(category, pattern):
    with pytest.raises(dlp.AllowListError, match="whole category"):
        dlp.AllowList().add_pattern(category, pattern, "test")


def test_a_narrow_pattern_is_accepted_and_used():
    allow = dlp.builtin_allow_list()
    allow.add_pattern("phone", "0120-\\d{3}-\\d{3}", "test")  # toll-free support lines only
    result = _scan("support 0120-444-555 mobile 090-1234-5678", allow)
    assert [f.masked() for f in result.findings] == ["***-****-5678"]


def test_an_entry_without_category_is_refused(tmp_path):
    allow_file = tmp_path / "allow.yaml"
    allow_file.write_text("allow:\n  - {value: hanako.yamada@gmail.com}\n")
    with pytest.raises(dlp.AllowListError, match="category"):
        dlp.load_allow_list(allow_file)


def test_allow_by_fingerprint_exempts_only_that_value(tmp_path):
    target = _scan("contact=hanako.yamada@gmail.com").findings[0]
    allow_file = tmp_path / "allow.yaml"
    allow_file.write_text(f"allow:\n  - {{category: email, sha256: {target.fingerprint}}}\n")
    allow = dlp.load_allow_list(allow_file)
    result = _scan("contact=hanako.yamada@gmail.com cc=t.suzuki@corp-mail.co.jp", allow)
    assert len(result.findings) == 1
    assert result.findings[0].masked() == "t***@c***.jp"


def test_reports_never_contain_the_value():
    result = _scan(LOG)
    text = dlp.report_text(result) + str(dlp.report_json(result))
    for secret in (
        "hanako.yamada@gmail.com",
        "090-1234-5678",
        "4539 5787 6362 1486",
        "219-09-9999",
        "AKIAQ3EGVB5NZ2LDX7YU",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6",
    ):
        assert secret not in text


def test_binary_files_are_skipped_and_reported_unless_asked(tmp_path):
    segment = tmp_path / "00000001.wal"
    segment.write_bytes(b"\0" * 100 + b"hanako.yamada@gmail.com" + b"\0" * 100)
    skipped = dlp.scan_paths([tmp_path], dlp.builtin_allow_list())
    assert skipped.findings == []
    assert "binary" in skipped.skipped[0]
    included = dlp.scan_paths([tmp_path], dlp.builtin_allow_list(), include_binary=True)
    assert _categories(included) == ["email"]


def test_validators():
    assert dlp.luhn_ok("4539578763621486")
    assert not dlp.luhn_ok("4539578763621487")
    assert dlp.my_number_check_digit("12345678901") == 8
    assert dlp.ssn_ok("219-09-9999")
    assert not dlp.ssn_ok("219-00-9999")
    assert not dlp.ssn_ok("219-09-0000")
    assert dlp.jp_phone_ok("090-1234-5678")
    assert not dlp.jp_phone_ok("091-1234-5678")  # 11 digits but not a mobile/IP prefix
