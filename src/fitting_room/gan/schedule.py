"""The auxiliary class-loss weight over training: everything about its late phase lives here.

A strong class loss makes class conditioning appear in a few hundred steps but narrows each
class; lowered late, recall rises (docs/gan.md). The late phase begins at ``aux_late_step``,
or once ``aux_late_budget_fraction`` of the wall-clock budget has passed, whichever comes
first, so a slower machine still reaches it. The step it began at is a model variable
(``ConditionalGAN.late_from``): checkpoints carry it and a resumed run stays in the late phase.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras

from fitting_room.config.gan import TrainingConfig
from fitting_room.gan.callbacks import Clock

NEVER = 2**62  # the switch step of a schedule without a late phase


@dataclass(frozen=True)
class ClassLossSchedule:
    early: float = 0.0  # weight from the first step
    late: float | None = None  # weight of the late phase; None = no late phase
    late_step: int = NEVER  # the late phase begins at this step ...
    late_after_seconds: float | None = None  # ... or after this much training time, if sooner

    @classmethod
    def from_config(cls, t: TrainingConfig) -> ClassLossSchedule:
        if t.aux_weight_late is None:
            return cls(t.aux_weight)
        fraction = t.aux_late_budget_fraction
        after = None if fraction is None else fraction * t.budget_minutes * 60
        return cls(t.aux_weight, t.aux_weight_late, t.aux_late_step, after)

    @property
    def first_late_step(self) -> int:
        """The switch step a fresh model starts with (a time-based switch may move it earlier)."""
        return self.late_step if self.late is not None else NEVER

    def weight(self, step: Any, late_from: Any) -> Any:
        """The weight at ``step`` (a tensor, inside the train step), given the switch step."""
        import tensorflow as tf

        if self.late is None:
            return tf.constant(self.early, tf.float32)
        return tf.where(step >= late_from, tf.constant(self.late), tf.constant(self.early))

    def time_switch(self, clock: Callable[[], float] | None = None) -> LateClassLoss | None:
        """The callback that moves the switch forward once ``late_after_seconds`` have passed."""
        if self.late is None or self.late_after_seconds is None:
            return None
        return LateClassLoss(self.late_after_seconds, clock)

    def began_at(self, gan: Any) -> int | None:
        """The step the late weight took over (None: no late phase, or not reached yet)."""
        if self.late is None:
            return None
        late_from, step = int(gan.late_from.numpy()), int(gan.step.numpy())
        return late_from if late_from <= step else None


class LateClassLoss(keras.callbacks.Callback):
    """Move the late class-loss phase forward to the current step once ``after_seconds`` have passed.

    The step threshold (``aux_late_step``) was tuned on one machine; on a slower one the
    budget ends first. ``clock`` gives the seconds since training set-up began (by default
    this process's own; in a cluster, the chief's, so that every worker switches at the same
    step and their weights stay equal).
    """

    def __init__(self, after_seconds: float, clock: Callable[[], float] | None = None):
        super().__init__()
        self.after_seconds = after_seconds
        self.clock = clock or Clock()
        self.switched_at: int | None = None  # None: not moved (the step came first, or not yet due)
        self._due = False

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self._due or self.clock() < self.after_seconds:
            return
        self._due = True  # decided once: later batches stop at the flag, no clock or variable reads
        step = int(self.model.step.numpy())
        if step < int(self.model.late_from.numpy()):
            self.model.late_from.assign(step)
            self.switched_at = step
