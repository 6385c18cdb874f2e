"""`switchyard dlp`: find personal data and secrets in logs, WAL dumps and results.

Categories: email, credit_card (13-19 digits, known issuer prefix, Luhn), phone (Japanese
domestic and +81 numbers, E.164), us_ssn (area/group/serial rules), my_number (Japanese
individual number, check digit), api_key (well-known key formats and `secret=...`
assignments), jwt (three base64url parts whose header decodes to JSON with `alg`),
private_key (PEM headers). Lines are NFKC-normalised first, so full-width digits and at-signs
count.

The allow-list exempts single findings: an exact value, a SHA-256 fingerprint of the value,
or a regular expression that must match the *whole* value, always for one category. It is
checked before use: a pattern that exempts any of the category's probe values (ordinary
real-looking data) would cancel the category and is refused. A finding is judged alone, so
an allow-listed value on a line never hides another finding on that line (the seed's phone
rule was cancelled by its own allow-list). Reports mask every value; the fingerprint lets
you allow-list without writing the value down.
"""

import base64
import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CATEGORIES = (
    "email",
    "credit_card",
    "phone",
    "us_ssn",
    "my_number",
    "api_key",
    "jwt",
    "private_key",
)
SKIP_DIRS = frozenset(
    {
        ".git",
        ".venv",
        "node_modules",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".hypothesis",
    }
)
BINARY_SNIFF_BYTES = 8192
FILE_SIZE_MAX_BYTES = 256 * 1024 * 1024  # bigger files are reported as skipped, not read
LINE_LENGTH_MAX = 1_000_000  # a longer "line" (minified JSON) is scanned in pieces of this size

# Values nobody needs to protect: reserved example domains (RFC 2606/6761), the card
# networks' published test numbers, and the North American fictional 555-01xx range.
BUILTIN_ALLOW_PATTERNS: dict[str, tuple[str, ...]] = {
    "email": (r"[^@]+@(.+\.)?(example\.(com|org|net)|[a-z0-9-]+\.(test|invalid|localhost))",),
    "credit_card": (
        r"4111111111111111|4242424242424242|5555555555554444|5105105105105100|"
        r"378282246310005|371449635398431|6011111111111117|3530111333300000",
    ),
    "phone": (r"\+?1?-?\(?\d{3}\)?-?555-?01\d\d",),
}

# Ordinary real-looking values per category. An allow-list pattern that matches any of
# them would exempt data like everybody's: it is refused.
PROBES: dict[str, tuple[str, ...]] = {
    "email": ("hanako.yamada@gmail.com", "t.suzuki@corp-mail.co.jp", "ops@bank.example.jp"),
    "credit_card": ("4539578763621486", "5425233430109903", "374245455400126", "3566002020360505"),
    "phone": (
        "090-1234-5678",
        "080-9876-5432",
        "03-5555-1234",
        "06-6123-4567",
        "+81 90 1234 5678",
        "+14155552671",
        "+447911123456",
    ),
    "us_ssn": ("123-45-6789", "219-09-9999", "536-22-1234"),
    "my_number": ("1234-5678-9018", "9876-5432-1000", "4444-3333-2224"),
    "api_key": (
        "AKIAQ3EGVB5NZ2LDX7YU",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    ),
    "jwt": ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhY2N0LTEifQ.c2lnbmF0dXJlLXBhcnQtaGVyZQ",),
    "private_key": ("-----BEGIN PRIVATE KEY-----", "-----BEGIN RSA PRIVATE KEY-----"),
}


class AllowListError(ValueError):
    """The allow-list is invalid or would cancel a category; the message says which entry."""


@dataclass(frozen=True, slots=True)
class Finding:
    category: str
    path: str
    line: int
    column: int
    value: str = field(repr=False)  # never printed; masked() and fingerprint are

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.value.encode()).hexdigest()[:16]

    def masked(self) -> str:
        return mask(self.category, self.value)

    def describe(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "masked": self.masked(),
            "fingerprint": self.fingerprint,
        }


def mask(category: str, value: str) -> str:
    """A form of the value that identifies its shape, never the value."""
    if category == "email":
        local, _, domain = value.partition("@")
        head, _, tld = domain.rpartition(".")
        return f"{local[:1]}***@{head[:1]}***.{tld}"
    if category in ("credit_card", "phone", "us_ssn", "my_number"):
        digits = sum(ch.isdigit() for ch in value)
        seen = 0
        out = []
        for ch in value:
            if ch.isdigit():
                seen += 1
                out.append(ch if seen > digits - 4 else "*")
            else:
                out.append(ch)
        return "".join(out)
    if category == "private_key":
        return value
    return f"{value[:4]}…({len(value)} chars)"


# --- validators ------------------------------------------------------------------------


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        number = int(char)
        if index % 2 == 1:
            number = number * 2 - 9 if number > 4 else number * 2
        total += number
    return total % 10 == 0


_ISSUERS = re.compile(
    r"^(4\d{12}(\d{3})?(\d{3})?|5[1-5]\d{14}|2(2[2-9][1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720)\d{12}"
    r"|3[47]\d{13}|35(2[89]|[3-8]\d)\d{12}|3(0[0-5]|[68]\d)\d{11}|6(011|5\d\d|4[4-9]\d)\d{12}"
    r"|62\d{14,17})$"
)


def card_ok(value: str) -> bool:
    digits = _digits(value)
    return 13 <= len(digits) <= 19 and bool(_ISSUERS.match(digits)) and luhn_ok(digits)


def ssn_ok(value: str) -> bool:
    digits = _digits(value)
    if len(digits) != 9:
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def my_number_check_digit(first_eleven: str) -> int:
    """The check digit of a Japanese individual number (My Number) from its first 11 digits."""
    assert len(first_eleven) == 11
    total = 0
    for n in range(1, 12):  # P_n is the n-th digit counted from the right of the 11
        p = int(first_eleven[11 - n])
        q = n + 1 if n <= 6 else n - 5
        total += p * q
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def my_number_ok(value: str) -> bool:
    digits = _digits(value)
    return len(digits) == 12 and my_number_check_digit(digits[:11]) == int(digits[11])


def jp_phone_ok(value: str) -> bool:
    digits = _digits(value)
    if value.startswith("+81"):
        return 9 <= len(digits) - 2 <= 10 and digits[2] != "0"
    if len(digits) not in (10, 11) or digits[1] == "0":
        return False
    if len(digits) == 11:  # mobile, IP phone and 0800 toll-free are the 11-digit ones
        return digits[:3] in ("070", "080", "090", "050") or digits.startswith("0800")
    return True


def e164_ok(value: str) -> bool:
    digits = _digits(value)
    return 8 <= len(digits) <= 15 and not value.startswith("+81")


def jwt_ok(value: str) -> bool:
    header = value.split(".", 1)[0]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(decoded, dict) and "alg" in decoded


def secret_ok(value: str) -> bool:
    """A generic `secret = value` is a secret when the value looks random, not a word."""
    lowered = value.lower()
    if any(
        word in lowered
        for word in ("example", "placeholder", "changeme", "your_", "xxxx", "redacted", "dummy")
    ):
        return False
    classes = sum(bool(re.search(p, value)) for p in (r"[a-z]", r"[A-Z]", r"\d"))
    return classes >= 2 and len(set(value)) >= 8


@dataclass(frozen=True, slots=True)
class Detector:
    category: str
    pattern: re.Pattern[str]
    valid: Callable[[str], bool]
    group: int = 0  # which group holds the value


_NOT_DIGIT_BEFORE = r"(?<![\d+])(?<!\d[- ])"
_NOT_DIGIT_AFTER = r"(?![- ]?\d)"
_CONTEXT_MY_NUMBER = r"(?:マイナンバー|個人番号|my\s?number|mynumber|kojin\s?bango)"
_CONTEXT_SSN = r"(?:ssn|social\s+security(?:\s+number)?)"

DETECTORS: tuple[Detector, ...] = (
    Detector(
        "email",
        re.compile(
            r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}"
            r"[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.[A-Za-z]{2,24}"
            r"(?![\w-])"
        ),
        lambda v: True,
    ),
    Detector(
        "credit_card",
        re.compile(
            _NOT_DIGIT_BEFORE
            + r"(\d{4}[- ]?\d{4}[- ]?\d{4}[- ]?\d{1,7}|\d{4}[- ]?\d{6}[- ]?\d{5})"
            + _NOT_DIGIT_AFTER
        ),
        card_ok,
        1,
    ),
    Detector(
        "phone",
        re.compile(
            _NOT_DIGIT_BEFORE + r"(0\d{1,4}-\d{1,4}-\d{3,4}|0\d{9,10}|\+81[- ]?\d{1,4}[- ]?\d{1,4}"
            r"[- ]?\d{3,4})" + _NOT_DIGIT_AFTER
        ),
        jp_phone_ok,
        1,
    ),
    Detector(
        "phone",
        re.compile(r"(?<![\w+])(\+[1-9]\d{0,3}(?:[- ]?\d{1,5}){1,5})" + _NOT_DIGIT_AFTER),
        e164_ok,
        1,
    ),
    Detector(
        "us_ssn",
        re.compile(_NOT_DIGIT_BEFORE + r"(\d{3}-\d{2}-\d{4})" + _NOT_DIGIT_AFTER),
        ssn_ok,
        1,
    ),
    Detector(
        "us_ssn",
        re.compile(_CONTEXT_SSN + r"\W{0,5}(?:\w+\W{1,3}){0,2}(?<!\d)(\d{9})(?!\d)", re.IGNORECASE),
        ssn_ok,
        1,
    ),
    Detector(
        "my_number",
        re.compile(_NOT_DIGIT_BEFORE + r"(\d{4}[- ]\d{4}[- ]\d{4})" + _NOT_DIGIT_AFTER),
        my_number_ok,
        1,
    ),
    Detector(
        "my_number",
        re.compile(
            _CONTEXT_MY_NUMBER + r"\W{0,5}(?:\w+\W{1,3}){0,2}?(?<!\d)(\d{12})(?!\d)", re.IGNORECASE
        ),
        my_number_ok,
        1,
    ),
    Detector(
        "api_key",
        re.compile(
            r"(?<![A-Za-z0-9])(AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36,}"
            r"|github_pat_[A-Za-z0-9_]{40,}|xox[abprs]-[A-Za-z0-9-]{10,}|sk_live_[0-9A-Za-z]{16,}"
            r"|rk_live_[0-9A-Za-z]{16,}|AIza[0-9A-Za-z_-]{35}|sk-[A-Za-z0-9_-]{32,})"
            r"(?![A-Za-z0-9])"
        ),
        lambda v: True,
        1,
    ),
    Detector(
        "api_key",
        re.compile(
            r"(?i)(?:api[_-]?key|secret|token|password|passwd|access[_-]?key|private[_-]?key)"
            r"[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9_\-/+=.]{16,})"
        ),
        secret_ok,
        1,
    ),
    Detector(
        "jwt",
        re.compile(
            r"(?<![\w-])(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})(?![\w-])"
        ),
        jwt_ok,
        1,
    ),
    Detector(
        "private_key",
        re.compile(r"(-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----)"),
        lambda v: True,
        1,
    ),
)
# Detectors run in this order; a later finding overlapping an earlier one on the same line is
# the same text seen twice (a JWT after `token=`, a card inside a key) and is dropped.
DETECTION_ORDER = (
    "private_key",
    "jwt",
    "api_key",
    "credit_card",
    "my_number",
    "us_ssn",
    "phone",
    "email",
)


@dataclass(slots=True)
class AllowList:
    """Exemptions, per category: exact values, fingerprints, whole-value patterns."""

    values: dict[str, set[str]] = field(default_factory=dict)
    fingerprints: dict[str, set[str]] = field(default_factory=dict)
    patterns: dict[str, list[re.Pattern[str]]] = field(default_factory=dict)

    def allows(self, finding: Finding) -> bool:
        category = finding.category
        if finding.value in self.values.get(category, ()):
            return True
        if finding.fingerprint in self.fingerprints.get(category, ()):
            return True
        return any(p.fullmatch(finding.value) for p in self.patterns.get(category, ()))

    def add_pattern(self, category: str, pattern: str, where: str) -> None:
        try:
            compiled = re.compile(pattern)
        except re.error as error:
            raise AllowListError(
                f"{where}: pattern {pattern!r} does not compile: {error}"
            ) from None
        for probe in PROBES[category]:
            if compiled.fullmatch(probe):
                raise AllowListError(
                    f"{where}: pattern {pattern!r} matches the ordinary {category} value "
                    f"{mask(category, probe)!r}: it would exempt the whole category; allow "
                    "exact values or a narrower pattern instead"
                )
        self.patterns.setdefault(category, []).append(compiled)


def builtin_allow_list() -> AllowList:
    allow = AllowList()
    for category, patterns in BUILTIN_ALLOW_PATTERNS.items():
        for pattern in patterns:
            allow.add_pattern(category, pattern, "built-in allow-list")
    return allow


def load_allow_list(path: Path | None, builtin: bool = True) -> AllowList:
    """Read a YAML allow-list (`allow: [{category, value|sha256|pattern, reason}]`)."""
    allow = builtin_allow_list() if builtin else AllowList()
    if path is None:
        return allow
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise AllowListError(f"{path}: cannot read the allow-list: {error}") from None
    entries = raw.get("allow", []) if isinstance(raw, dict) else None
    if not isinstance(entries, list):
        raise AllowListError(f"{path}: expected `allow:` followed by a list of entries")
    for index, entry in enumerate(entries):
        _add_entry(allow, entry, f"{path}: allow[{index}]")
    return allow


def _add_entry(allow: AllowList, entry: Any, where: str) -> None:
    if not isinstance(entry, dict):
        raise AllowListError(f"{where}: expected a mapping")
    category = entry.get("category")
    if category not in CATEGORIES:
        raise AllowListError(
            f"{where}: category must be one of {', '.join(CATEGORIES)} "
            "(an entry always names one category)"
        )
    kinds = [key for key in ("value", "sha256", "pattern") if key in entry]
    if len(kinds) != 1:
        raise AllowListError(f"{where}: needs exactly one of value, sha256, pattern")
    text = str(entry[kinds[0]])
    if not text:
        raise AllowListError(f"{where}: {kinds[0]} is empty")
    if kinds[0] == "value":
        allow.values.setdefault(category, set()).add(unicodedata.normalize("NFKC", text))
    elif kinds[0] == "sha256":
        if not re.fullmatch(r"[0-9a-f]{16,64}", text):
            raise AllowListError(f"{where}: sha256 must be 16-64 lower-case hex characters")
        allow.fingerprints.setdefault(category, set()).add(text[:16])
    else:
        allow.add_pattern(category, text, where)


_ORDERED = sorted(DETECTORS, key=lambda d: DETECTION_ORDER.index(d.category))


def scan_line(text: str, path: str, line_number: int) -> list[Finding]:
    """Every finding on one line, overlaps resolved by DETECTION_ORDER."""
    normalised = unicodedata.normalize("NFKC", text)
    taken: list[tuple[int, int]] = []
    findings = []
    for detector in _ORDERED:
        for match in detector.pattern.finditer(normalised):
            start, end = match.span(detector.group)
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                continue
            value = match.group(detector.group)
            if not detector.valid(value):
                continue
            taken.append((start, end))
            findings.append(Finding(detector.category, path, line_number, start + 1, value))
    return sorted(findings, key=lambda f: f.column)


@dataclass(slots=True)
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    allowed: dict[str, int] = field(default_factory=dict)
    files_scanned: int = 0
    skipped: list[str] = field(default_factory=list)  # "path: why"


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and not SKIP_DIRS.intersection(child.relative_to(path).parts):
                    yield child
        else:
            yield path


def scan_paths(paths: Iterable[Path], allow: AllowList, include_binary: bool = False) -> ScanResult:
    """Scan files and directories (recursively); binary files only when asked."""
    result = ScanResult()
    for path in iter_files(paths):
        problem = _unreadable(path, include_binary)
        if problem:
            result.skipped.append(f"{path}: {problem}")
            continue
        result.files_scanned += 1
        with path.open("r", encoding="utf-8", errors="replace") as handle:
            _scan_stream(handle, str(path), allow, result)
    return result


def _unreadable(path: Path, include_binary: bool) -> str | None:
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(BINARY_SNIFF_BYTES)
    except OSError as error:
        return f"cannot read ({error.strerror})"
    if size > FILE_SIZE_MAX_BYTES:
        return f"larger than {FILE_SIZE_MAX_BYTES} bytes"
    if b"\0" in head and not include_binary:
        return "binary (scan `switchyard wal dump` output, or pass --include-binary)"
    return None


def _scan_stream(handle: Iterable[str], name: str, allow: AllowList, result: ScanResult) -> None:
    for line_number, line in enumerate(handle, start=1):
        for offset in range(0, max(len(line), 1), LINE_LENGTH_MAX):
            for finding in scan_line(line[offset : offset + LINE_LENGTH_MAX], name, line_number):
                if allow.allows(finding):
                    result.allowed[finding.category] = result.allowed.get(finding.category, 0) + 1
                else:
                    result.findings.append(finding)


def scan_text(text: str, allow: AllowList, name: str = "<text>") -> ScanResult:
    result = ScanResult(files_scanned=1)
    _scan_stream(text.splitlines(), name, allow, result)
    return result


def report_json(result: ScanResult) -> dict[str, Any]:
    by_category: dict[str, int] = {}
    for finding in result.findings:
        by_category[finding.category] = by_category.get(finding.category, 0) + 1
    return {
        "schema": "switchyard.dlp_report.v1",
        "findingCount": len(result.findings),
        "byCategory": by_category,
        "allowListed": result.allowed,
        "filesScanned": result.files_scanned,
        "skipped": result.skipped,
        "findings": [finding.describe() for finding in result.findings],
    }


def report_text(result: ScanResult) -> str:
    lines = [
        f"{f.path}:{f.line}:{f.column}: {f.category} {f.masked()} (sha256 {f.fingerprint})"
        for f in result.findings
    ]
    lines.extend(f"skipped {item}" for item in result.skipped)
    allowed = sum(result.allowed.values())
    lines.append(
        f"dlp: {len(result.findings)} findings in {result.files_scanned} files "
        f"({allowed} allow-listed, {len(result.skipped)} skipped)"
    )
    return "\n".join(lines) + "\n"
