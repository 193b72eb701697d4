"""What a stage shows while it runs: its own output, line by line as printed, and DVC's messages once."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fitting_room.config.ops import TaskRetriesConfig
from fitting_room.pipeline.dvc_stages import StageFailed, StageInterrupted, repro_stage

# Prints a line (without flushing: stdout into a pipe is block-buffered unless the runner sets
# PYTHONUNBUFFERED), then waits up to 20 s for the file the line sink creates on seeing it: the
# second line says whether the first reached the sink while the command was still running.
HANDSHAKE = """
import pathlib, sys, time
sys.stdout.write("first line\\n")
seen = pathlib.Path("seen")
deadline = time.monotonic() + 20
while not seen.exists() and time.monotonic() < deadline:
    time.sleep(0.05)
print("streamed" if seen.exists() else "buffered until the end")
pathlib.Path("out.txt").write_text("done")
"""


@pytest.fixture(scope="module")
def empty_project(tmp_path_factory) -> Path:
    """A git + DVC repository without stages, initialised once and copied by each test."""
    root = tmp_path_factory.mktemp("template") / "p"
    root.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=root, check=True)
    return root


@pytest.fixture
def dvc_project(empty_project, tmp_path, monkeypatch):
    """Makes a fresh project with one stage ``talk`` running a script, and works inside it.

    Inside, as the flow does (``stage_environment``): DVC resolves stage names against the
    working directory.
    """

    def make(script: str) -> Path:
        root = tmp_path / "p"
        shutil.copytree(empty_project, root)
        (root / "talk.py").write_text(script)
        stage = {
            "cmd": f"{sys.executable} talk.py",
            "deps": ["talk.py"],
            "outs": [{"out.txt": {"cache": False}}],
        }
        (root / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"talk": stage}}))
        monkeypatch.chdir(root)
        return root

    return make


@pytest.fixture
def lines() -> list[str]:
    return []


def test_stage_output_reaches_the_log_line_by_line_while_the_stage_runs(dvc_project, lines):
    root = dvc_project(HANDSHAKE)

    def sink(line: str) -> None:
        lines.append(line)
        if line == "first line":
            (root / "seen").touch()

    outcome = repro_stage("talk", root, log=sink)
    assert outcome.ran
    assert lines.index("first line") < lines.index("streamed")


def test_dvc_messages_reach_the_log_once_and_nothing_else_reaches_the_terminal(dvc_project, lines, capfd):
    root = dvc_project("open('out.txt', 'w').write('x')\nprint('hello from the stage')\n")
    repro_stage("talk", root, log=lines.append)
    assert lines.count("Running stage 'talk':") == 1
    assert "hello from the stage" in lines
    assert not any("git add" in line for line in lines)  # the flow says it once, at the end
    captured = capfd.readouterr()
    assert captured.out == "" and "hello" not in captured.err

    lines.clear()
    assert not repro_stage("talk", root, log=lines.append).ran
    assert lines == ["Stage 'talk' didn't change, skipping"]


def test_a_failed_stage_names_itself_and_ends_with_its_last_output_lines(dvc_project, lines):
    root = dvc_project(
        "import sys\nprint('reading shoppers')\nsys.exit('bad data: 25% impossible heights')\n",
    )
    with pytest.raises(StageFailed, match="stage 'talk' failed") as failed:
        repro_stage("talk", root, log=lines.append)
    assert str(failed.value).endswith("  | reading shoppers\n  | bad data: 25% impossible heights")


# Exits with CODE on its first attempt (counted in a file DVC does not track), succeeds after.
FIRST_ATTEMPT_FAILS = """
import pathlib, sys
attempts = pathlib.Path("attempts")
done = int(attempts.read_text()) if attempts.exists() else 0
attempts.write_text(str(done + 1))
if done == 0:
    print("error: MLflow tracking server went away" if CODE == 75 else "error: gate failed")
    sys.exit(CODE)
pathlib.Path("out.txt").write_text("done")
"""


@pytest.mark.parametrize("code", [75, 2])
def test_a_stage_exiting_75_is_interrupted_and_the_flow_retries_it_any_other_failure_it_does_not(
    dvc_project, code, monkeypatch
):
    """Exit 75 (a server went away): StageInterrupted, retried by the flow's stage task; exit 2
    (bad data, a failed gate): StageFailed, fails the same way again, never retried."""
    from prefect import flow

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2]))  # flows/ as a package
    from flows.training_pipeline import stage_task

    root = dvc_project(f"CODE = {code}\n{FIRST_ATTEMPT_FAILS}")
    with pytest.raises(StageFailed) as failed:
        repro_stage("talk", root, log=lambda line: None)
    assert isinstance(failed.value, StageInterrupted) == (code == 75)
    assert failed.value.exit_code == code
    (root / "attempts").unlink()

    stage = stage_task(TaskRetriesConfig(retries=2, delay_s=0))  # the flow's own stage task

    @flow
    def one_stage():
        return stage("talk", str(root))

    if code == 75:
        assert one_stage().ran
        assert (root / "attempts").read_text() == "2"
    else:
        with pytest.raises(StageFailed, match="stage 'talk' failed"):
            one_stage()
        assert (root / "attempts").read_text() == "1"


def test_without_a_log_the_stage_prints_to_the_terminal_as_dvc_repro_does(dvc_project, capfd):
    root = dvc_project("open('out.txt', 'w').write('x')\nprint('hello from the stage')\n")
    repro_stage("talk", root)
    assert "hello from the stage" in capfd.readouterr().out
