"""Side effects of GAN training, each in its own Keras callback: stopping, checkpoints, logs."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np


def _finite(logs: dict[str, Any] | None) -> bool:
    return all(math.isfinite(float(v)) for v in (logs or {}).values())


class Clock(keras.callbacks.Callback):
    """Seconds since training set-up began, read by the budget and the class-loss schedule.

    Alone, a process reads its own clock. Workers of a cluster would each read their own and
    disagree about the step the budget ends at: one would stop while the others wait for it
    in the next all-reduce. Given ``agree`` (the chief's reading, broadcast), the clock is
    read once per batch, first among the callbacks, and every worker decides on that number.
    """

    def __init__(self, agree: Callable[[float], float] | None = None):
        super().__init__()
        self._start = time.monotonic()
        self._agree = agree
        self._agreed = 0.0

    def __call__(self) -> float:
        return time.monotonic() - self._start if self._agree is None else self._agreed

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self._agree is not None:
            self._agreed = self._agree(time.monotonic() - self._start)


class StopConditions(keras.callbacks.Callback):
    """Stop at the step limit, at the wall-clock budget, or at the first non-finite loss."""

    def __init__(self, max_steps: int, budget_seconds: float, clock: Callable[[], float] | None = None):
        super().__init__()
        self.max_steps = max_steps
        self.budget_seconds = budget_seconds
        self.clock = clock or Clock()
        self.reason = "steps"
        self.bad_step: int | None = None

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        step = int(self.model.step.numpy())
        if not _finite(logs):
            self.reason, self.bad_step = "non_finite_loss", step
            self.model.stop_training = True
        elif step >= self.max_steps:
            self.reason = "steps"
            self.model.stop_training = True
        elif self.clock() > self.budget_seconds:
            self.reason = "budget"
            self.model.stop_training = True


class Checkpointer(keras.callbacks.Callback):
    """Save the resume state every ``every`` steps, but only while losses are finite."""

    def __init__(self, save: Callable[[], Any], every: int):
        super().__init__()
        self.save = save
        self.every = every
        self.last_saved: int | None = None

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        step = int(self.model.step.numpy())
        if step % self.every == 0 and _finite(logs):
            self.save()
            self.last_saved = step


class ProgressBar(keras.callbacks.Callback):
    """A tqdm bar over the run's limit: the wall-clock budget or the step limit, whichever is nearer.

    Training stops at the first of ``max_steps`` and ``budget_seconds`` (:class:`StopConditions`),
    so the bar shows the larger of the two fractions done: its ETA is the time left of the
    budget when the clock binds (the usual case) and the steps' ETA when the step limit does.
    The postfix names the step reached and the latest losses.
    """

    def __init__(self, max_steps: int, budget_seconds: float, initial_step: int):
        super().__init__()
        self.max_steps, self.budget_seconds, self.initial_step = max_steps, budget_seconds, initial_step
        self.bar: Any = None
        self._losses: dict[str, str] = {}
        self._start = time.monotonic()

    def fraction_done(self, step: int) -> float:
        """Share of this run done at ``step``: the larger of time used and steps taken (0-1)."""
        by_time = (time.monotonic() - self._start) / max(self.budget_seconds, 1e-9)
        by_steps = (step - self.initial_step) / max(self.max_steps - self.initial_step, 1)
        return min(max(by_time, by_steps), 1.0)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        import sys

        from tqdm.auto import tqdm

        # In DVC/Prefect/CI logs every redraw is a new line of text: redraw rarely there.
        every = 2 if sys.stderr.isatty() else 60
        self._start = time.monotonic()
        minutes, seconds = divmod(round(self.budget_seconds), 60)
        self.bar = tqdm(
            total=round(self.budget_seconds),
            desc="train-gan",
            mininterval=every,
            # e.g. "train-gan:  45%|█████     | 13:30 elapsed, 16:30 left of 30:00, step=6486/100000, ..."
            bar_format=f"{{desc}}: {{percentage:3.0f}}%|{{bar:20}}| {{elapsed}} elapsed, {{remaining}} left "
            f"of {minutes:02d}:{seconds:02d}{{postfix}}",
        )

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        step = int(self.model.step.numpy())
        if batch % 20 == 0:  # reading the losses syncs with the device: not every step
            self._losses = {k: f"{float(v):.3f}" for k, v in (logs or {}).items()}
            self.bar.set_postfix({"step": f"{step}/{self.max_steps}", **self._losses}, refresh=False)
        # tqdm redraws at most every ``mininterval`` seconds however often n moves
        self.bar.update(self.fraction_done(step) * self.bar.total - self.bar.n)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.bar is not None:
            step = int(self.model.step.numpy())  # the last line names the step training ended at
            self.bar.set_postfix({"step": f"{step}/{self.max_steps}", **self._losses}, refresh=False)
            self.bar.close()


class EpochLogger(keras.callbacks.Callback):
    """Per epoch: losses, images/s and the monitor's quick quality metric into ``history``
    and MLflow, plus a per-class sample grid image artifact."""

    def __init__(
        self,
        batch_size: int,
        sample: Callable[[], tuple[np.ndarray, np.ndarray]],
        monitor: Callable[[], dict[str, float]] | None,
        use_mlflow: bool,
        grid_dir: Path | None = None,
    ):
        super().__init__()
        self.batch_size = batch_size
        self.sample, self.monitor = sample, monitor
        self.use_mlflow = use_mlflow
        self.grid_dir = grid_dir
        self.history: list[dict[str, float]] = []

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._t0 = time.monotonic()
        self._step0 = int(self.model.step.numpy())

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        step = int(self.model.step.numpy())
        seconds = max(time.monotonic() - self._t0, 1e-9)
        record = {k: float(v) for k, v in (logs or {}).items()}
        record["images_per_second"] = (step - self._step0) * self.batch_size / seconds
        if self.monitor is not None and _finite(logs):
            record.update(self.monitor())
        record["step"] = step
        self.history.append(record)
        if self.use_mlflow:
            self._log(record, step)

    def _log(self, record: dict[str, float], step: int) -> None:
        import mlflow
        from PIL import Image

        from fitting_room.gan.generate import image_grid

        mlflow.log_metrics({k: v for k, v in record.items() if k != "step"}, step=step)
        images, labels = self.sample()
        mlflow.log_image(Image.fromarray(image_grid(images, labels)), f"samples/step_{step:07d}.png")
