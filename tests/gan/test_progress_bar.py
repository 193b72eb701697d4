"""The training bar measures the run against its real limit: the time budget or the step limit."""

from __future__ import annotations

import time

import pytest

from fitting_room.gan.callbacks import ProgressBar


def test_with_the_budget_binding_the_bar_shows_the_share_of_the_budget_used():
    bar = ProgressBar(max_steps=100_000, budget_seconds=0.2, initial_step=0)
    time.sleep(0.1)
    assert bar.fraction_done(step=10) == pytest.approx(0.5, abs=0.2)  # not 10 / 100,000
    time.sleep(0.15)
    assert bar.fraction_done(step=20) == 1.0


def test_with_the_step_limit_binding_the_bar_shows_the_share_of_steps_since_the_resume():
    bar = ProgressBar(max_steps=100, budget_seconds=3600, initial_step=60)
    assert bar.fraction_done(step=80) == pytest.approx(0.5, abs=0.01)
    assert bar.fraction_done(step=100) == 1.0
