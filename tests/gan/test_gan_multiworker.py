"""Training across worker processes: two real workers on 127.0.0.1 against one process.

Each scenario starts real ``fitting-room train-gan`` worker processes through
``train_local_workers`` (what ``train-gan --local-workers N`` calls) on the tiny smoke GAN.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import mlflow
import numpy as np
import pytest
from gan_builders import PARAMS, smoke_config

from fitting_room.config.gan import ClusterConfig
from fitting_room.errors import FittingRoomError
from fitting_room.gan.cluster import Cluster, peer_failure, resolve_cluster

# A 2-worker step differs from the single-process step only in the order floats are summed
# (per-replica means averaged, gradients all-reduced, batch-norm moments summed across
# workers): ~1e-4 after one step, growing through the adversarial feedback to ~1e-3 by the
# sixth (measured); 1e-2 still catches a wrong batch split, noise draw or gradient scale,
# which change the losses by 1e-1 or more from the first step.
LOSS_TOLERANCE = 1e-2
STEPS = 6


def _cli_args(tmp: Path, *overrides: str) -> list[str]:
    args = ["--params", str(PARAMS), "--profile", "smoke"]
    for item in [
        f"gan.model_dir={tmp / 'models' / 'gan'}",
        f"gan.checkpoint_dir={tmp / 'models' / 'gan_checkpoints'}",
        f"tracking.artifact_root={tmp / 'mlartifacts'}",
        "gan.training.monitor_images_per_class=0",
        "gan.cluster.peer_timeout_s=10",
        *overrides,
    ]:
        args += ["--set", item]
    return args


def _env(mlflow_uri: str) -> dict[str, str]:
    # one intra-op thread per worker: two workers share CI's two cores without oversubscribing
    return {**os.environ, "MLFLOW_TRACKING_URI": mlflow_uri, "TF_NUM_INTRAOP_THREADS": "1"}


def test_params_workers_make_a_cluster_and_name_the_chief():
    cluster = resolve_cluster(ClusterConfig(workers=["10.0.0.1:2222", "10.0.0.2:2222"], task_index=1), {})
    assert cluster == Cluster(("10.0.0.1:2222", "10.0.0.2:2222"), 1, 60.0)
    assert not cluster.is_chief and cluster.describe(0) == "worker 0 (10.0.0.1:2222)"


def test_without_workers_or_tf_config_training_stays_in_one_process():
    assert resolve_cluster(ClusterConfig(), {}) is None
    one = '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}'
    assert resolve_cluster(ClusterConfig(), {"TF_CONFIG": one}) is None


def test_tf_config_with_a_separate_chief_puts_it_first():
    tf_config = (
        '{"cluster": {"chief": ["c:1"], "worker": ["w:1", "w:2"]}, "task": {"type": "worker", "index": 1}}'
    )
    cluster = resolve_cluster(ClusterConfig(), {"TF_CONFIG": tf_config})
    assert cluster.workers == ("c:1", "w:1", "w:2") and cluster.task_index == 2


@pytest.mark.parametrize(
    ("tf_config", "match"),
    [
        ("{not json", "TF_CONFIG: expected"),
        ('{"cluster": {"worker": ["a:1"], "ps": ["p:1"]}, "task": {"type": "worker", "index": 0}}', "ps"),
        ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 5}}', "worker:5"),
    ],
)
def test_a_bad_tf_config_fails_naming_it(tf_config, match):
    with pytest.raises(FittingRoomError, match=match):
        resolve_cluster(ClusterConfig(), {"TF_CONFIG": tf_config})


def test_cluster_params_are_checked_when_loaded(tmp_path):
    from fitting_room.config import ConfigError

    with pytest.raises(ConfigError, match="gan.cluster.workers"):
        smoke_config(tmp_path, "gan.cluster.workers=[nohost]")
    with pytest.raises(ConfigError, match="task_index 2 but only 2 workers"):
        smoke_config(tmp_path, 'gan.cluster.workers=["a:1", "b:2"]', "gan.cluster.task_index=2")


def test_local_workers_from_the_command_line_need_at_least_two(tmp_path):
    from typer.testing import CliRunner

    from fitting_room.cli import app

    args = ["--params", str(PARAMS), "--profile", "smoke", "train-gan", "--local-workers", "1"]
    result = CliRunner().invoke(app, args)
    assert "--local-workers 1: a cluster needs at least 2 workers" in str(result.exception)


def test_a_lost_peer_is_named_in_the_error():
    import tensorflow as tf

    cluster = Cluster(("127.0.0.1:1", "127.0.0.1:2"), 0)
    err = tf.errors.UnavailableError(
        None, None, "Graph execution error:\n\nfrom remote target /job:worker/replica:0/task:1 while calling"
    )
    message = str(peer_failure(cluster, err))
    assert "on worker 0 (127.0.0.1:1): lost worker 1 (127.0.0.1:2)" in message
    assert "task:1" in message  # TensorFlow's own line, for whoever digs further


@pytest.mark.slow
def test_two_workers_train_like_one_process_with_the_same_global_batch(tmp_path, shapes_dir, mlflow_uri):
    from fitting_room.gan.generate import generate, load_generator
    from fitting_room.gan.launch import train_local_workers
    from fitting_room.gan.train import train_gan

    every_step = [f"gan.training.steps={STEPS}", "gan.training.steps_per_epoch=1"]
    runs = train_local_workers(
        2,
        _cli_args(tmp_path / "two", *every_step),
        tmp_path / "logs",
        ["--images-dir", str(shapes_dir)],
        env=_env(mlflow_uri),
    )
    chief, other = (run.result for run in runs)
    assert chief["step"] == other["step"] == STEPS and chief["workers"] == 2
    assert chief["state_digest"] == other["state_digest"]  # identical weights, optimizers, RNG, step

    generator = load_generator(tmp_path / "two" / "models" / "gan")  # the chief's model loads
    assert generate(generator, np.array([0, 1, 2]), np.array([1, 2, 3])).shape == (3, 28, 28, 1)
    runs_logged = mlflow.search_runs(search_all_experiments=True, filter_string="tags.stage = 'train_gan'")
    assert len(runs_logged) == 1  # the chief's run only

    alone = train_gan(
        smoke_config(tmp_path / "one", "gan.training.monitor_images_per_class=0", *every_step),
        shapes_dir,
        use_mlflow=False,
    )
    assert alone.workers == 1 and len(alone.history) == len(chief["history"]) == STEPS
    for key in ("d_loss", "g_loss"):
        ours = np.array([h[key] for h in chief["history"]])
        single = np.array([h[key] for h in alone.history])
        np.testing.assert_allclose(ours, single, rtol=LOSS_TOLERANCE, atol=LOSS_TOLERANCE, err_msg=key)
        assert not np.array_equal(ours, np.roll(ours, 1))  # the losses move: the check can fail


@pytest.mark.slow
def test_a_killed_worker_fails_the_run_naming_it_and_a_rerun_resumes(tmp_path, shapes_dir, mlflow_uri):
    from fitting_room.gan.checkpoint import read_checkpoint_meta
    from fitting_room.gan.launch import train_local_workers

    ckpt = tmp_path / "models" / "gan_checkpoints"
    args = _cli_args(tmp_path, "gan.training.steps=100000", "gan.training.checkpoint_every=2")
    killed: dict[str, float] = {}

    def after_the_second_checkpoint() -> bool:
        if (read_checkpoint_meta(ckpt) or {}).get("step", 0) >= 4:
            killed["at"] = time.monotonic()
            return True
        return False

    with pytest.raises(FittingRoomError) as err:
        train_local_workers(
            2,
            args,
            tmp_path / "logs",
            ["--images-dir", str(shapes_dir)],
            env=_env(mlflow_uri),
            kill_when=(1, after_the_second_checkpoint),
        )
    waited = time.monotonic() - killed["at"]
    message = str(err.value)
    assert "worker 1 (127.0.0.1:" in message and "was killed by SIGKILL" in message
    # the survivor found out by itself, within its peer timeout, and named the lost worker
    assert "worker 0 exited with code 2" in message and "lost worker 1 (127.0.0.1:" in message
    assert waited < 10 + 30, f"the survivor took {waited:.0f} s to fail"

    kept = read_checkpoint_meta(ckpt)["step"]
    runs = train_local_workers(
        2,
        _cli_args(tmp_path, f"gan.training.steps={kept + 2}", "gan.training.checkpoint_every=2"),
        tmp_path / "logs",
        ["--images-dir", str(shapes_dir)],
        env=_env(mlflow_uri),
    )
    assert [run.result["start_step"] for run in runs] == [kept, kept]
    assert [run.result["step"] for run in runs] == [kept + 2, kept + 2]
    assert runs[0].result["state_digest"] == runs[1].result["state_digest"]
    assert read_checkpoint_meta(ckpt)["step"] == kept + 2
