"""The CLI checks the user's own inputs first: a typo in a path fails at once, naming the option,
before any model is loaded (here no model exists at all, so a late check would blame the model)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from fitting_room.cli.main import app

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> tuple[int, str]:
    """Exit code and everything the user would read (option errors print; our errors raise to run())."""
    result = CliRunner().invoke(app, ["--params", str(ROOT / "params.yaml"), "--profile", "smoke", *args])
    return result.exit_code, result.output + str(result.exception or "")


@pytest.mark.parametrize(
    ("out", "message"),
    [("grid.jpg", "use a .npz or .png"), ("missing-folder/grid.png", "does not exist")],
)
def test_generate_refuses_a_bad_out_before_loading_a_model(tmp_path, out, message):
    code, text = _run(
        "generate", "--category", "dress", "--out", str(tmp_path / out), "--model-uri", str(tmp_path)
    )
    assert code != 0 and "--out" in text and message in text


def test_generate_bounds_n():
    code, text = _run("generate", "--category", "dress", "--n", "100001", "--out", "x.png")
    assert code != 0 and "--n" in text


def test_advise_fit_names_a_missing_data_file(tmp_path):
    code, text = _run(
        "advise-fit", "--data", str(tmp_path / "nope.json"), "--out", str(tmp_path / "p.csv"),
        "--model-uri", str(tmp_path),
    )  # fmt: skip
    assert code != 0 and "--data" in text and "no such file" in text


def test_advise_fit_names_a_missing_out_folder(tmp_path):
    data = tmp_path / "in.json"
    data.write_text('{"fit": "fit", "item_id": "1", "size": 8}\n')
    code, text = _run(
        "advise-fit",
        "--data",
        str(data),
        "--out",
        str(tmp_path / "no" / "p.csv"),
        "--model-uri",
        str(tmp_path),
    )
    assert code != 0 and "--out" in text and "does not exist" in text


def test_rollback_names_its_targets_when_given_an_unknown_one():
    # the shopping guide is one model now: the old per-part targets are refused, naming the valid ones
    code, text = _run("rollback", "advisor", "--to", "1")
    assert code != 0 and "unknown target 'advisor'" in text and "generator | guide | bento | all" in text
