"""The README stays true: its settings table is exactly what the code declares."""

from __future__ import annotations

from pathlib import Path

from switchyard.cli.cmd_env import markdown_table

ROOT = Path(__file__).resolve().parents[3]


def test_readme_settings_table_matches_the_declarations() -> None:
    text = (ROOT / "README.md").read_text()
    start = text.index("<!-- env-table:start -->\n") + len("<!-- env-table:start -->\n")
    end = text.index("<!-- env-table:end -->")
    assert text[start:end] == markdown_table(), "run `make readme-env` to regenerate the table"


def test_readme_quick_start_is_make_run_and_make_test() -> None:
    text = (ROOT / "README.md").read_text()
    quick = text[text.index("## Quick start") :]
    block = quick[quick.index("```sh") : quick.index("```", quick.index("```sh") + 5)]
    commands = [line.split("#")[0].strip() for line in block.splitlines()[1:] if line.strip()]
    assert commands == ["make run", "make test"]


def test_ci_runs_the_readme_test_command_with_services_required() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
    assert "SWITCHYARD_REQUIRE_SERVICES=1" in ci
