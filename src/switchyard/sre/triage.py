"""`switchyard triage`: rank runbook sections against an incident description (BM25).

Owns the Markdown sectioning (one document per heading, with its heading path), the
tokeniser and Okapi BM25. The tokeniser is built for operations text: `snake_case` metric
names and reason codes count whole and by part (`backpressure_wal_age` also gives
`backpressure`, `wal`, `age`), camelCase splits (`retryAfterMs`), a light suffix stripper
folds plurals and -ing/-ed, and Japanese (kanji, hiragana, katakana) becomes overlapping
character bigrams, the usual choice without a morphological analyser. Headings weigh double.
Each hit cites file, line and heading.
"""

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

K1 = 1.2  # term-frequency saturation (Robertson's usual value)
B = 0.75  # length normalisation
HEADING_WEIGHT = 2  # heading tokens are repeated this many times
EXCERPT_CHARS = 320

STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
        "not",
        "no",
        "do",
        "does",
        "did",
        "can",
        "could",
        "should",
        "would",
        "after",
        "before",
        "during",
        "up",
        "out",
        "than",
        "too",
        "very",
        "just",
        "also",
        "all",
        "any",
        "each",
        "been",
        "being",
    ]
)
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_WORD = re.compile(r"[A-Za-z0-9]+(?:[_.:/-][A-Za-z0-9]+)*")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u30fc々〆]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def _stem(word: str) -> str:
    if word.isdigit() or len(word) <= 3:
        return word
    for suffix, minimum in (("ing", 6), ("ed", 5), ("es", 5), ("s", 4)):
        if word.endswith(suffix) and len(word) >= minimum and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


def tokenize(text: str) -> list[str]:
    """Tokens of a text: whole identifiers, their parts, stems, Japanese bigrams."""
    normalised = unicodedata.normalize("NFKC", text)
    tokens: list[str] = []
    for match in _WORD.finditer(normalised):
        raw = match.group(0)
        parts = [p for chunk in re.split(r"[_.:/-]", raw) for p in _CAMEL.split(chunk) if p]
        lowered = [p.lower() for p in parts]
        if len(lowered) > 1:
            tokens.append("_".join(lowered))
        tokens.extend(_stem(p) for p in lowered if p not in STOP_WORDS)
    for match in _CJK.finditer(normalised):
        run = match.group(0)
        if len(run) == 1:
            tokens.append(run)
        tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
    return tokens


@dataclass(slots=True)
class Section:
    path: str
    line: int
    heading: str
    trail: str  # "Parent > Child"
    body: str
    tokens: list[str] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        slug = re.sub(r"[^\w\- ]", "", self.heading.lower()).strip().replace(" ", "-")
        return f"{self.path}#{slug}"


def split_sections(text: str, path: str) -> list[Section]:
    """One section per heading (text before the first heading is a section of the file)."""
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    current = Section(path, 1, Path(path).stem, Path(path).stem, "")
    body: list[str] = []
    in_fence = False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match is None:
            body.append(line)
            continue
        current.body = "\n".join(body).strip()
        sections.append(current)
        level, heading = len(match.group(1)), match.group(2)
        stack = [item for item in stack if item[0] < level] + [(level, heading)]
        current = Section(path, number, heading, " > ".join(h for _, h in stack), "")
        body = []
    current.body = "\n".join(body).strip()
    sections.append(current)
    return [s for s in sections if s.body or s.line > 1]


def load_sections(roots: Iterable[Path], base: Path) -> list[Section]:
    """Sections of every Markdown file under the roots, tokenised."""
    sections = []
    for root in roots:
        # An index page (README.md) lists every incident's words: it would outrank the page
        # it points to, so directories are searched without their index pages.
        files = (
            sorted(f for f in root.rglob("*.md") if f.name != "README.md")
            if root.is_dir()
            else [root]
        )
        for file in files:
            try:
                shown = str(file.resolve().relative_to(base.resolve()))
            except ValueError:
                shown = str(file)
            for section in split_sections(file.read_text(encoding="utf-8"), shown):
                section.tokens = tokenize(section.trail) * HEADING_WEIGHT + tokenize(section.body)
                sections.append(section)
    return sections


@dataclass(frozen=True, slots=True)
class Hit:
    section: Section
    score: float
    matched: tuple[str, ...]


class BM25:
    """Okapi BM25 over a fixed list of sections."""

    def __init__(self, sections: list[Section]) -> None:
        assert sections, "nothing to search"
        self.sections = sections
        self.lengths = [len(s.tokens) for s in sections]
        self.average_length = sum(self.lengths) / len(sections) or 1.0
        self.frequencies = [Counter(s.tokens) for s in sections]
        document_frequency: Counter[str] = Counter()
        for frequency in self.frequencies:
            document_frequency.update(frequency.keys())
        n = len(sections)
        self.idf = {
            term: math.log(1 + (n - df + 0.5) / (df + 0.5))
            for term, df in document_frequency.items()
        }

    def search(self, query: str, top_k: int = 5) -> list[Hit]:
        terms = list(dict.fromkeys(tokenize(query)))  # each query term once, order kept
        hits = []
        for index, frequency in enumerate(self.frequencies):
            score = 0.0
            matched = []
            norm = K1 * (1 - B + B * self.lengths[index] / self.average_length)
            for term in terms:
                tf = frequency.get(term, 0)
                if tf:
                    score += self.idf[term] * tf * (K1 + 1) / (tf + norm)
                    matched.append(term)
            if score > 0:
                hits.append(Hit(self.sections[index], score, tuple(matched)))
        hits.sort(key=lambda hit: (-hit.score, hit.section.path, hit.section.line))
        return hits[:top_k]


def excerpt(section: Section, matched: tuple[str, ...]) -> str:
    """The first body lines that contain a matched term (or the start of the body)."""
    lines = [line.strip() for line in section.body.splitlines() if line.strip()]
    chosen = [line for line in lines if set(tokenize(line)) & set(matched)] or lines
    text = " ".join(chosen)
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def describe(hits: list[Hit]) -> list[dict[str, Any]]:
    return [
        {
            "rank": rank,
            "score": round(hit.score, 3),
            "file": hit.section.path,
            "line": hit.section.line,
            "heading": hit.section.trail,
            "anchor": hit.section.anchor,
            "matched": list(hit.matched),
            "excerpt": excerpt(hit.section, hit.matched),
        }
        for rank, hit in enumerate(hits, start=1)
    ]


def markdown(query: str, hits: list[Hit], corpus_size: int) -> str:
    lines = [
        "## Triage",
        "",
        f"> {query.strip()}",
        "",
        f"{len(hits)} runbook sections (of {corpus_size}) ranked by BM25:",
        "",
    ]
    for item in describe(hits):
        lines += [
            f"{item['rank']}. **{item['heading']}** — `{item['file']}:{item['line']}` "
            f"(score {item['score']}; matched {', '.join(item['matched'][:8])})",
            f"   {item['excerpt']}",
            "",
        ]
    if not hits:
        lines.append("No runbook section matches; escalate to the on-call engineer and write one.")
    lines += [
        "First minutes, whatever the hit: `curl -s :8080/health`, `curl -s :8080/stats`, "
        "check `/metrics` for `switchyard_*` refusals and WAL timings, read the newest "
        "log lines, and escalate after 15 minutes without a diagnosis."
    ]
    return "\n".join(lines) + "\n"
