"""Result documents: the contracts accept real results and reject broken ones."""

import pytest

from switchyard.sre import documents

from .conftest_helpers import bench_document, canary_document


def test_real_results_are_valid_against_their_contracts():
    assert documents.schema_errors(bench_document()) == []
    assert documents.schema_errors(canary_document()) == []


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("latencyUs",), {"p50": 1}, "latencyUs"),
        (("generator",), "locust", "generator"),
        (("counts", "errorRatePercent"), 150, "counts/errorRatePercent"),
        (("schema",), "bench.v1", "schema"),
        (("extra",), 1, "Additional properties"),
    ],
)
def test_broken_bench_results_are_rejected_naming_the_field(path, value, expected):
    document = bench_document()
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    errors = documents.schema_errors(document)
    assert errors
    assert any(expected in error for error in errors)


def test_a_document_without_schema_is_rejected():
    document = bench_document()
    del document["schema"]
    assert documents.schema_errors(document) == ["schema: unknown or missing document schema None"]


def test_write_then_read_round_trips(tmp_path):
    path = tmp_path / "sub" / "r.json"
    documents.write_document(path, bench_document())
    assert documents.read_document(path) == bench_document()


def test_unreadable_document_names_the_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(documents.DocumentError, match="bad.json"):
        documents.read_document(path)


def test_iso_utc_has_microseconds_and_z():
    assert documents.iso_utc(1_764_151_200_123_456_789) == "2025-11-26T10:00:00.123457Z"
