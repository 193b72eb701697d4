"""``fitting-room validate`` records every gate in MLflow and exits non-zero when data fails."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner
from validation_builders import make_images, make_transactions, write_images, write_transactions

from fitting_room.cli import app


def invoke(tmp_path: Path, *args: str):
    """Run the CLI on the smallest params file the config accepts (all else defaults), so these
    tests do not depend on how other stages tune the project's params.yaml."""
    params = tmp_path / "params.yaml"
    params.write_text(
        yaml.safe_dump(
            {
                "data": {
                    "images": {"out_dir": str(tmp_path / "images")},
                    "shoppers": {
                        "sources": [{"name": "renttherunway", "path": "rtr.json"}],
                        "out_dir": str(tmp_path / "shoppers"),
                    },
                },
                "validation": {
                    "reports_dir": str(tmp_path / "reports"),
                    "images": {"min_train_rows": 100, "min_test_rows": 20},
                },
            }
        )
    )
    result = CliRunner().invoke(app, ["--params", str(params), *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def stage_run(stage: str):
    import mlflow

    runs = mlflow.search_runs(experiment_names=["fitting-room"], filter_string=f"tags.stage = '{stage}'")
    assert len(runs) == 1
    return runs.loc[0]


def logged_files(run_id: str, path: str) -> list[str]:
    import mlflow

    return [Path(a.path).name for a in mlflow.MlflowClient().list_artifacts(run_id, path)]


def test_validate_images_passes_and_logs_report_and_counts(tmp_path, monkeypatch, mlflow_uri):
    monkeypatch.chdir(tmp_path)  # the embedded artifact store lives under the working folder
    write_images(tmp_path / "images", make_images(100, seed=1), make_images(20, seed=2))

    result = invoke(tmp_path, "validate", "images")

    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["train_rows"] == 100
    run = stage_run("validate_images")
    assert run["status"] == "FINISHED" and run["tags.validation_success"] == "true"
    assert (run["metrics.validation_success"], run["metrics.validation_test_rows"]) == (1.0, 20.0)
    assert "images.json" in logged_files(run["run_id"], "validate_images")
    assert "index.html" in logged_files(run["run_id"], "validate_images/data_docs")


def test_failing_shoppers_exit_non_zero_with_the_message_and_still_log(tmp_path, monkeypatch, mlflow_uri):
    monkeypatch.chdir(tmp_path)
    frame = make_transactions()
    frame.loc[0, "fit"] = "enormous"
    write_transactions(tmp_path / "shoppers", frame)

    result = invoke(tmp_path, "validate", "shoppers")

    assert result.exit_code == 2
    assert "shoppers validation failed" in result.output and "enormous (#0)" in result.output
    assert not (tmp_path / "shoppers" / "validated.parquet").exists()
    run = stage_run("validate_shoppers")
    assert run["status"] == "FAILED" and run["tags.validation_success"] == "false"
    assert (run["metrics.validation_success"], run["metrics.validation_failed_expectations"]) == (0.0, 1.0)
    assert "shoppers.json" in logged_files(run["run_id"], "validate_shoppers")
