"""The end of a run says where to look: the MLflow run, the Data Docs, the bento and how to serve it."""

from __future__ import annotations

import json

from fitting_room.config import load_config
from fitting_room.pipeline.summary import mlflow_run_link, where_to_look


def test_a_local_store_points_at_make_ui_and_a_server_at_its_own_page():
    assert mlflow_run_link("sqlite:////x/mlflow.db", "3", "abc") == (
        "http://127.0.0.1:5000/#/experiments/3/runs/abc (after `make ui`)"
    )
    assert (
        mlflow_run_link("https://mlflow.example/", "3", "abc")
        == "https://mlflow.example/#/experiments/3/runs/abc"
    )
    assert (  # a link printed to the run's log never carries the server's password
        mlflow_run_link("https://ops:s3cr3t@mlflow.example", "3", "abc")
        == "https://ops:***@mlflow.example/#/experiments/3/runs/abc"
    )


def test_where_to_look_names_each_output_the_run_left_and_the_command_serving_the_bento(tmp_path):
    cfg = load_config(None, "smoke")
    docs = tmp_path / cfg.validation.reports_dir / "shoppers_data_docs"
    docs.mkdir(parents=True)
    (docs / "index.html").write_text("<html/>")
    current = tmp_path / cfg.serving.out_dir / "current-smoke.json"
    current.parent.mkdir(parents=True)
    current.write_text(json.dumps({"bento": "fitting-room-smoke:abc123"}))

    lines = where_to_look(cfg, tmp_path, "LINK")
    assert lines == [
        "MLflow run: LINK",
        f"Data Docs (shoppers): {cfg.validation.reports_dir}/shoppers_data_docs/index.html",
        "bento: fitting-room-smoke:abc123; serve it with `.venv/bin/fitting-room --profile smoke serve`",
    ]  # no images Data Docs: that stage left none


def test_a_run_that_stopped_early_lists_only_its_mlflow_run(tmp_path):
    assert where_to_look(load_config(None, "smoke"), tmp_path, "LINK") == ["MLflow run: LINK"]
