"""Continuous batching: concurrent requests share draws, each gets exactly its own images back."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from fitting_room.serving.batcher import ContinuousBatcher


class SlowPainter:
    """Draws ``"<job>"`` strings, taking a while per call (like a generator), and records batches."""

    def __init__(self, seconds: float = 0.02, fail_on: object = None) -> None:
        self.seconds = seconds
        self.fail_on = fail_on
        self.batches: list[list[object]] = []
        self.threads: set[str] = set()

    def __call__(self, jobs):
        self.batches.append(list(jobs))
        self.threads.add(threading.current_thread().name)
        time.sleep(self.seconds)
        if self.fail_on in jobs:
            raise RuntimeError(f"cannot draw {self.fail_on}")
        return [f"<{job}>" for job in jobs]


def run(coro):
    return asyncio.run(coro)


def test_a_lone_request_is_drawn_at_once_in_its_own_batch():
    painter = SlowPainter()
    batcher = ContinuousBatcher(painter, max_batch_size=8)
    assert run(batcher.submit([1, 2])) == ["<1>", "<2>"]
    assert painter.batches == [[1, 2]]


def test_concurrent_requests_share_draws_and_each_gets_its_own_images_in_order():
    painter = SlowPainter()
    batcher = ContinuousBatcher(painter, max_batch_size=64)

    async def many():
        return await asyncio.gather(*(batcher.submit([f"r{i}a", f"r{i}b"]) for i in range(20)))

    answers = run(many())
    assert answers == [[f"<r{i}a>", f"<r{i}b>"] for i in range(20)]
    assert len(painter.batches) < 20  # shared
    assert batcher.stats.images == 40 and batcher.stats.largest > 2
    assert "MainThread" not in painter.threads  # the event loop never blocks on a draw


def test_no_draw_exceeds_max_batch_size_and_requests_are_never_split():
    painter = SlowPainter()
    batcher = ContinuousBatcher(painter, max_batch_size=5)

    async def many():
        return await asyncio.gather(*(batcher.submit([i] * 3) for i in range(6)))

    assert run(many()) == [[f"<{i}>"] * 3 for i in range(6)]
    assert all(len(batch) <= 5 for batch in painter.batches)
    assert all(len(batch) % 3 == 0 for batch in painter.batches)


def test_a_failed_draw_fails_its_requests_and_the_batcher_keeps_serving():
    painter = SlowPainter(fail_on="bad")
    batcher = ContinuousBatcher(painter, max_batch_size=8)

    async def scenario():
        with pytest.raises(RuntimeError, match="cannot draw bad"):
            await batcher.submit(["bad"])
        return await batcher.submit(["good"])

    assert run(scenario()) == ["<good>"]


def test_a_request_larger_than_a_batch_is_refused():
    with pytest.raises(ValueError, match="max_batch_size"):
        run(ContinuousBatcher(SlowPainter(), max_batch_size=2).submit([1, 2, 3]))
