"""The commit a run records: ``-dirty`` for changed code or params, not for what the pipeline writes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fitting_room.tracking.lineage import git_commit

DVC_YAML = """
stages:
  evaluate:
    cmd: python evaluate.py
    deps: [evaluate.py]
    outs: [models/gan]
    metrics:
      - reports/metrics.json:
          cache: false
"""


@pytest.fixture
def repo(tmp_path) -> Path:
    files = {
        "dvc.yaml": DVC_YAML,
        "dvc.lock": "schema: '2.0'\n",
        "evaluate.py": "print('hi')\n",
        "params.yaml": "seed: 1\n",
        "reports/metrics.json": "{}\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*git, "add", "-A"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "c"], cwd=tmp_path, check=True)
    return tmp_path


def head(repo: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()


def test_a_run_that_rewrites_dvc_lock_and_its_metrics_is_still_the_clean_commit(repo):
    (repo / "dvc.lock").write_text("schema: '2.0'\nstages: {}\n")
    (repo / "reports/metrics.json").write_text('{"fid": 5.5}\n')
    assert git_commit(repo) == head(repo)


@pytest.mark.parametrize("changed", ["evaluate.py", "params.yaml", "dvc.yaml"])
def test_changed_code_params_or_pipeline_is_dirty(repo, changed):
    (repo / changed).write_text((repo / changed).read_text() + "\n# edited\n")
    assert git_commit(repo) == f"{head(repo)}-dirty"


def test_outside_git_the_commit_is_unknown(tmp_path):
    assert git_commit(tmp_path) == "unknown"
