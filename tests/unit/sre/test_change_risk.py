"""Change risk: scoring by size and by what a change touches, on a real git repository."""

import subprocess

import pytest

from switchyard.sre import change_risk
from switchyard.sre.change_risk import FileChange


def _git(repo, *args):
    subprocess.run(
        ["git", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@t.test",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t.test",
            "PATH": "/usr/bin:/bin",
        },
    )


@pytest.fixture
def repo(tmp_path):
    _git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "README.md").write_text("hello\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "base")
    _git(tmp_path, "checkout", "-q", "-b", "feature")
    return tmp_path


def _commit_files(repo, files):
    for path, lines in files.items():
        target = repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("".join(f"line {i}\n" for i in range(lines)))
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "change")


def test_a_docs_change_is_low_risk(repo):
    _commit_files(repo, {"docs/runbooks/extra.md": 20})
    assessment = change_risk.assess(change_risk.git_numstat("main", repo))
    assert assessment.level == "low"
    assert assessment.score == 0


def test_a_wal_change_with_tests_is_medium(repo):
    _commit_files(repo, {"src/switchyard/wal/journal.py": 80, "tests/unit/wal/test_journal.py": 40})
    data = change_risk.report(change_risk.assess(change_risk.git_numstat("main", repo)), "main")
    assert data["riskLevel"] == "medium"
    assert [f["area"] for f in data["factors"]] == ["wal"]
    assert any("crash" in item for item in data["recommendations"])


def test_sequencer_and_wal_without_tests_is_critical(repo):
    _commit_files(
        repo,
        {
            "src/switchyard/wal/journal.py": 150,
            "src/switchyard/pipeline/sequencer.py": 150,
            "src/switchyard/core/events.py": 30,
        },
    )
    data = change_risk.report(change_risk.assess(change_risk.git_numstat("main", repo)), "main")
    areas = {f["area"] for f in data["factors"]}
    assert areas == {"wal", "sequencer", "wal-record-layout", "size", "tests"}
    assert data["riskLevel"] == "critical"
    assert "make check-full" in " ".join(data["rollout"])


def test_an_unknown_base_is_a_git_error(repo):
    with pytest.raises(change_risk.GitError, match="no-such-rev"):
        change_risk.git_numstat("no-such-rev", repo)


def test_numstat_parsing_counts_binary_files_without_lines():
    changes = change_risk.parse_numstat("10\t2\tsrc/a.py\n-\t-\tdocs/plot.png\n")
    assert changes == [FileChange("src/a.py", 10, 2), FileChange("docs/plot.png", 0, 0)]


@pytest.mark.parametrize(
    ("changes", "level"),
    [
        ([FileChange(f"docs/f{i}.md", 30, 0) for i in range(25)], "high"),  # size + spread
        ([FileChange("pyproject.toml", 2, 1), FileChange("requirements.lock", 3, 3)], "low"),
        (
            [
                FileChange("src/switchyard/risk/rules.py", 20, 5),
                FileChange("src/switchyard/book/book.py", 10, 2),
            ],
            "medium",
        ),
        (
            [
                FileChange("src/switchyard/risk/rules.py", 30, 5),  # same, 57 lines and no tests
                FileChange("src/switchyard/book/book.py", 20, 2),
            ],
            "high",
        ),
    ],
)
def test_levels(changes, level):
    assert change_risk.assess(changes).level == level
