import pytest

from switchyard.core import env


def test_integer_out_of_range_names_the_variable() -> None:
    var = env.EnvVar("X_TEST_LIMIT", "5", "test", env.integer(1, 10), "test")
    with pytest.raises(env.ConfigError, match=r"X_TEST_LIMIT='11': must be <= 10"):
        var.read({"X_TEST_LIMIT": "11"})


def test_integer_default_used_when_unset() -> None:
    var = env.EnvVar("X_TEST_LIMIT", "5", "test", env.integer(1, 10), "test")
    assert var.read({}) == 5


@pytest.mark.parametrize("raw", ["abc", "1.5", "", " "])
def test_integer_rejects_non_integers(raw: str) -> None:
    with pytest.raises(ValueError, match="integer"):
        env.integer()(raw)


def test_optional_integer_empty_is_none() -> None:
    assert env.optional_integer(0)("") is None
    assert env.optional_integer(0)("7") == 7


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("TRUE", True), ("off", False), ("", False)]
)
def test_boolean_accepts_common_spellings(raw: str, expected: bool) -> None:
    assert env.boolean(raw) is expected


def test_boolean_rejects_other_words() -> None:
    with pytest.raises(ValueError, match="expected one of"):
        env.boolean("maybe")


def test_csv_drops_blanks_and_refuses_duplicates() -> None:
    assert env.csv(" A, ,B ") == ("A", "B")
    with pytest.raises(ValueError, match="duplicate"):
        env.csv("A,A")


def test_int_map_parses_seed_syntax() -> None:
    assert env.int_map("acct1:10, acct2:20") == {"acct1": 10, "acct2": 20}


@pytest.mark.parametrize("raw", ["acct1", "acct1:0", "acct1:x", ":5", "a:1,a:2"])
def test_int_map_rejects_bad_entries(raw: str) -> None:
    with pytest.raises(ValueError):
        env.int_map(raw)


def test_number_rejects_nan() -> None:
    with pytest.raises(ValueError, match="finite"):
        env.number()("nan")
