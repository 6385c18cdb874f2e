"""Declared environment variables: name, default, meaning, and how to parse and check a value.

Every component declares its variables here at import time with `declare()`; the README's
table is checked against `REGISTRY` by a test, and a bad value raises `ConfigError` naming the
variable, the value and what was expected (startup then stops with that message).
Pure: values come from a mapping passed in, never from `os.environ` directly.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A setting has a value we cannot use. The message names the variable."""


@dataclass(frozen=True, slots=True)
class EnvVar(Generic[T]):
    name: str
    default: str  # as the user would type it; "" means unset
    help: str
    parse: Callable[[str], T]
    section: str

    def read(self, environ: Mapping[str, str]) -> T:
        raw = environ.get(self.name, self.default)
        try:
            return self.parse(raw)
        except (ValueError, TypeError) as error:
            raise ConfigError(f"{self.name}={raw!r}: {error}") from None


REGISTRY: dict[str, EnvVar[object]] = {}


def declare(
    name: str, default: str, help: str, parse: Callable[[str], T], *, section: str
) -> EnvVar[T]:
    """Declare a variable once; declaring the same name twice is a programming error."""
    assert name.isupper(), name
    assert name not in REGISTRY, f"{name} declared twice"
    var = EnvVar(name=name, default=default, help=help, parse=parse, section=section)
    REGISTRY[name] = var  # type: ignore[assignment]
    return var


# --- parsers ----------------------------------------------------------------------------


def integer(minimum: int | None = None, maximum: int | None = None) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        text = raw.strip().replace("_", "")
        if not text.lstrip("-").isdigit():
            raise ValueError("expected an integer")
        value = int(text)
        if minimum is not None and value < minimum:
            raise ValueError(f"must be >= {minimum}")
        if maximum is not None and value > maximum:
            raise ValueError(f"must be <= {maximum}")
        return value

    return parse


def optional_integer(
    minimum: int | None = None, maximum: int | None = None
) -> Callable[[str], int | None]:
    """Empty means unset (None): used for limits that are off unless configured."""
    parse_int = integer(minimum, maximum)

    def parse(raw: str) -> int | None:
        return None if raw.strip() == "" else parse_int(raw)

    return parse


def number(minimum: float | None = None, maximum: float | None = None) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        value = float(raw.strip())
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("expected a finite number")
        if minimum is not None and value < minimum:
            raise ValueError(f"must be >= {minimum}")
        if maximum is not None and value > maximum:
            raise ValueError(f"must be <= {maximum}")
        return value

    return parse


def optional_number(
    minimum: float | None = None, maximum: float | None = None
) -> Callable[[str], float | None]:
    parse_number = number(minimum, maximum)

    def parse(raw: str) -> float | None:
        return None if raw.strip() == "" else parse_number(raw)

    return parse


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def boolean(raw: str) -> bool:
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("expected one of 1/0, true/false, yes/no, on/off")


def text(raw: str) -> str:
    return raw.strip()


def csv(raw: str) -> tuple[str, ...]:
    """Comma-separated list; blanks dropped, order kept, duplicates refused."""
    items = tuple(item.strip() for item in raw.split(",") if item.strip())
    if len(set(items)) != len(items):
        raise ValueError("duplicate entries")
    return items


def choice(*allowed: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip()
        if value not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}")
        return value

    return parse


def int_map(raw: str) -> dict[str, int]:
    """`key:value,key2:value2` with integer values > 0 (the seed's per-account override syntax)."""
    result: dict[str, int] = {}
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        key, sep, value = entry.partition(":")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"entry {entry!r} is not key:value")
        number_value = integer(minimum=1)(value)
        if key in result:
            raise ValueError(f"key {key!r} appears twice")
        result[key] = number_value
    return result
