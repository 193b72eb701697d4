"""``fitting-room ingest`` runs each stage end to end and records it in MLflow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from data_builders import (
    MODCLOTH_LINE,
    RTR_LINE,
    garment_photo,
    make_catalog,
    make_fashion_mnist,
    write_jsonl,
)
from typer.testing import CliRunner

from fitting_room.cli import app

PROJECT_PARAMS = Path(__file__).resolve().parents[2] / "params.yaml"
# the smallest params file the config accepts: every other section has defaults, so these
# tests do not depend on how other stages tune the project's params.yaml
MINIMAL_PARAMS = "data:\n  shoppers:\n    sources: [{name: renttherunway, path: rtr.json}]\n"


@pytest.fixture(autouse=True)
def params_file(tmp_path) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(MINIMAL_PARAMS)
    return path


def invoke(*args: str, params: Path = Path("params.yaml")):
    result = CliRunner().invoke(app, ["--params", str(params), *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def finished_run(stage: str):
    import mlflow

    runs = mlflow.search_runs(experiment_names=["fitting-room"], filter_string=f"tags.stage = '{stage}'")
    assert len(runs) == 1
    assert runs.loc[0, "status"] == "FINISHED"
    return runs.loc[0]


def test_ingest_images_from_a_catalog_logs_counts_to_mlflow(tmp_path, monkeypatch, mlflow_uri):
    monkeypatch.chdir(tmp_path)  # the embedded artifact store lives under the working folder
    rows, images = [], {}
    for c in ("dress", "coat"):
        for i in range(5):
            images[f"{c}{i}.png"] = garment_photo(size=(48, 64))
            rows.append({"item_id": f"{c}{i}", "image": f"{c}{i}.png", "category": c})
    folder = make_catalog(tmp_path / "shop", rows, images)
    result = invoke(
        "--set", "data.images.source=catalog",
        "--set", f"data.images.catalog.dir={folder}",
        "--set", "data.images.resolution=32",
        "--set", "data.images.channels=3",
        "--set", "data.images.catalog.test_fraction=0.2",
        "--set", f"data.images.out_dir={tmp_path / 'images'}",
        "ingest", "images",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["train_rows"] == 8
    run = finished_run("ingest_images")
    assert (run["metrics.train_rows"], run["metrics.test_rows"], run["metrics.quarantined"]) == (8, 2, 0)
    assert run["metrics.seconds"] > 0


def test_ingest_shoppers_logs_rows_per_source(tmp_path, monkeypatch, mlflow_uri):
    monkeypatch.chdir(tmp_path)
    rtr = write_jsonl(tmp_path / "rtr.json.gz", [RTR_LINE] * 3)
    mod = write_jsonl(tmp_path / "mod.json", [MODCLOTH_LINE] * 2)
    sources = f"[{{name: renttherunway, path: {rtr}}}, {{name: modcloth, path: {mod}}}]"
    result = invoke(
        "--set", f"data.shoppers.sources={sources}",
        "--set", f"data.shoppers.out_dir={tmp_path / 'shoppers'}",
        "ingest", "shoppers",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "shoppers" / "transactions.parquet").is_file()
    run = finished_run("ingest_shoppers")
    assert (run["metrics.rows"], run["metrics.rows_renttherunway"], run["metrics.rows_modcloth"]) == (5, 3, 2)


def test_console_command_turns_a_checksum_mismatch_into_one_line_and_exit_code_2(tmp_path, mlflow_uri):
    make_fashion_mnist(tmp_path / "fm")  # synthetic files cannot match the official checksums
    command = [
        sys.executable, "-m", "fitting_room", "--params", "params.yaml",
        "--set", f"data.images.fashion_mnist.path={tmp_path / 'fm'}",
        "--set", f"data.images.out_dir={tmp_path / 'images'}",
        "ingest", "images",
    ]  # fmt: skip
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, env=os.environ, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "error: " in done.stderr and "train-images-idx3-ubyte.gz: SHA-256 mismatch" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "images").exists()


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist").is_dir(), reason="no Debian Fashion-MNIST")
def test_smoke_profile_ingests_the_real_debian_files(tmp_path, monkeypatch, mlflow_uri):
    monkeypatch.chdir(tmp_path)
    result = invoke(
        "--profile", "smoke", "--set", f"data.images.out_dir={tmp_path}/images", "ingest", "images",
        params=PROJECT_PARAMS,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert finished_run("ingest_images")["metrics.train_rows"] == 2000
