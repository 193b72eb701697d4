"""The evaluate-gan stage end to end on real MLflow: reports, registry aliases, gate, rollback, generate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from gan_builders import PARAMS, smoke_config
from typer.testing import CliRunner

from fitting_room.errors import GateFailed
from fitting_room.tracking.roles import registered_name

pytestmark = pytest.mark.slow  # shares one ~30 s smoke training (session fixture)

GATE = ["evaluation.gate.minimum={class_accuracy: 0.5}", "evaluation.gate.tolerance=0.1"]


def _cfg(work: Path, tmp: Path, *extra: str):
    return smoke_config(
        work,
        f"evaluation.reports_dir={tmp / 'reports'}",
        f"tracking.artifact_root={tmp / 'art'}",
        *GATE,
        *extra,
    )


def _client():
    import mlflow

    return mlflow.MlflowClient()


def test_first_good_generator_becomes_champion_with_metrics_and_plots(trained, tmp_path, mlflow_uri):
    from fitting_room.pipeline.evaluate_gan import evaluate_generator

    images, work = trained
    cfg = _cfg(work, tmp_path)
    result = evaluate_generator(cfg, images)
    assert (result.version, result.alias) == ("1", "champion")
    written = json.loads((tmp_path / "reports" / "metrics.json").read_text())
    for key in (
        "fid",
        "kid",
        "precision",
        "recall",
        "class_accuracy",
        "diversity_min_ratio",
        "real_floor_fid",
    ):
        assert np.isfinite(written[key]), key
    assert written["real_floor_fid"] < written["fid"]  # real images beat a 200-step generator
    rows = json.loads((tmp_path / "reports" / "plots" / "per_class.json").read_text())
    assert [r["class"] for r in rows] == ["bar", "dress", "ring"]
    assert (tmp_path / "reports" / "plots" / "samples.png").stat().st_size > 0
    version = _client().get_model_version(registered_name("generator", cfg.profile), "1")
    run = _client().get_run(version.run_id)
    assert run.data.metrics["fid"] == pytest.approx(written["fid"])  # the gate reads these


def test_gate_refuses_an_untrained_generator_and_keeps_the_champion(trained, tmp_path, mlflow_uri):
    from fitting_room.gan.train import train_gan
    from fitting_room.pipeline.evaluate_gan import evaluate_generator

    images, work = trained
    cfg = _cfg(work, tmp_path)
    evaluate_generator(cfg, images)
    untrained = _cfg(
        work,
        tmp_path,
        "gan.training.steps=0",
        f"gan.model_dir={tmp_path / 'untrained'}",
        f"gan.checkpoint_dir={tmp_path / 'untrained_ckpt'}",
    )
    train_gan(untrained, images, use_mlflow=False)

    with pytest.raises(
        GateFailed, match=r"(?s)version 2 .* registered as 'challenger'.*class_accuracy = .*FAILED"
    ):
        evaluate_generator(untrained, images)
    name = registered_name("generator", untrained.profile)
    assert name == "fitting-room-generator-smoke"  # the smoke profile owns its own registry names
    assert str(_client().get_model_version_by_alias(name, "champion").version) == "1"
    assert str(_client().get_model_version_by_alias(name, "challenger").version) == "2"
    assert _client().get_model_version(name, "2").tags["gate.passed"] == "false"


def _cli(tmp_path: Path, work: Path, *args: str):
    from fitting_room.cli import app

    sets = [
        f"gan.model_dir={work / 'models' / 'gan'}",
        f"tracking.artifact_root={tmp_path / 'art'}",
        f"evaluation.reports_dir={tmp_path / 'reports'}",
        *GATE,
    ]
    argv = ["--params", str(PARAMS), "--profile", "smoke"]
    for item in sets:
        argv += ["--set", item]
    return CliRunner().invoke(app, [*argv, *args])


def test_generate_writes_the_same_champion_images_for_the_same_seed(trained, tmp_path, mlflow_uri):
    from fitting_room.pipeline.evaluate_gan import evaluate_generator

    images, work = trained
    evaluate_generator(_cfg(work, tmp_path), images)
    for name in ("a.npz", "b.npz"):
        result = _cli(
            tmp_path,
            work,
            "generate",
            "--category",
            "dress",
            "--n",
            "5",
            "--seed",
            "3",
            "--out",
            str(tmp_path / name),
        )
        assert result.exit_code == 0, result.output
    a, b = np.load(tmp_path / "a.npz"), np.load(tmp_path / "b.npz")
    assert a["images"].shape == (5, 28, 28, 1) and a["images"].dtype == np.uint8
    assert (a["labels"] == 1).all()
    np.testing.assert_array_equal(a["images"], b["images"])

    result = _cli(tmp_path, work, "generate", "--category", "2", "--n", "4", "--out", str(tmp_path / "g.png"))
    assert result.exit_code == 0 and (tmp_path / "g.png").stat().st_size > 0
    result = _cli(tmp_path, work, "generate", "--category", "hat", "--out", str(tmp_path / "x.npz"))
    assert result.exit_code != 0 and "hat" in str(result.exception)


def test_rollback_moves_the_champion_back_and_leaves_an_audit_record(trained, tmp_path, mlflow_uri):
    from fitting_room.pipeline.evaluate_gan import evaluate_generator
    from fitting_room.tracking.promotion import alias_history

    images, work = trained
    cfg = _cfg(work, tmp_path)
    evaluate_generator(cfg, images)
    assert evaluate_generator(cfg, images).alias == "champion"  # same quality: within tolerance
    name = registered_name("generator", cfg.profile)
    assert str(_client().get_model_version_by_alias(name, "champion").version) == "2"

    result = _cli(tmp_path, work, "rollback", "generator", "--to", "1", "--reason", "bad samples")
    assert result.exit_code == 0, result.output
    assert str(_client().get_model_version_by_alias(name, "champion").version) == "1"
    last = alias_history(_client(), name)[-1]
    assert (last["action"], str(last["to_version"]), str(last["from_version"]), last["reason"]) == (
        "rollback",
        "1",
        "2",
        "bad samples",
    )


def test_a_champion_scored_with_other_evaluation_settings_is_rescored_with_the_new_ones(
    trained, tmp_path, mlflow_uri
):
    import mlflow

    from fitting_room.pipeline.evaluate_gan import evaluate_generator

    images, work = trained
    evaluate_generator(_cfg(work, tmp_path), images)
    other = _cfg(work, tmp_path, "evaluation.images_per_class=20")  # another evaluation: new digest
    result = evaluate_generator(other, images)
    name = registered_name("generator", other.profile)
    v1, v2 = (_client().get_model_version(name, v) for v in ("1", "2"))
    assert v1.tags["eval.digest"] != v2.tags["eval.digest"]
    rescored = mlflow.artifacts.load_dict(f"runs:/{v2.run_id}/gate_champion_metrics.json")
    # the same generator, scored the new way: the new version's figures, not v1's recorded ones
    assert rescored["fid"] == pytest.approx(result.metrics["fid"], rel=0.05)
    assert rescored["fid"] != pytest.approx(_client().get_run(v1.run_id).data.metrics["fid"], rel=1e-6)
    assert result.alias == "champion"
