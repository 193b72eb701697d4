"""Adaptive (continuous) batching of image jobs: concurrent requests share generator calls.

One drawing runs at a time. Requests that arrive while it runs queue up, and the moment it
finishes, *everything* queued (up to ``max_batch_size`` images) becomes the next batch. So
batches size themselves to the load: a lone request is drawn at once (no timer to wait out),
and under heavy load each generator call carries as many images as arrived during the last.

Why not BentoML's batchable API: its dispatcher is reached from a handler only through the
service's own HTTP proxy (a second request per request, JSON both ways), which on this
model costs more CPU than the generator call it saves, and its queue deadline answers 503
under bursts. Here a request's jobs go straight into the queue, and overload is bounded by
the service's ``max_concurrency`` instead.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Draw = Callable[[Sequence[Any]], list[str]]


@dataclass
class BatchStats:
    batches: int = 0
    images: int = 0
    largest: int = 0

    def as_dict(self) -> dict[str, float]:
        mean = self.images / self.batches if self.batches else 0.0
        return {
            "batches": self.batches,
            "images": self.images,
            "largest": self.largest,
            "mean": round(mean, 2),
        }


@dataclass
class ContinuousBatcher:
    """Queue image jobs of many requests and draw them together, one batch at a time.

    Args:
        draw: synchronous function drawing a list of jobs (runs in a worker thread).
        max_batch_size: most images per call; a single request may not exceed it.
    """

    draw: Draw
    max_batch_size: int
    stats: BatchStats = field(default_factory=BatchStats)
    _pending: deque = field(default_factory=deque, repr=False)
    _wake: asyncio.Event | None = field(default=None, repr=False)
    _task: asyncio.Task | None = field(default=None, repr=False)

    async def submit(self, jobs: Sequence[Any]) -> list[str]:
        """Draw ``jobs`` (in a shared batch) and return their images in order."""
        if len(jobs) > self.max_batch_size:
            raise ValueError(f"{len(jobs)} jobs > max_batch_size {self.max_batch_size}")
        if not jobs:
            return []
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.done():  # started lazily: it needs the server's loop
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._run(), name="continuous-batcher")
        future = loop.create_future()
        self._pending.append((list(jobs), future))
        assert self._wake is not None  # made together with the task above
        self._wake.set()
        return await future

    def _next_batch(self) -> list[tuple[list[Any], asyncio.Future]]:
        batch, size = [], 0
        while self._pending and size + len(self._pending[0][0]) <= self.max_batch_size:
            jobs, future = self._pending.popleft()
            if future.done():  # the client went away while queued
                continue
            batch.append((jobs, future))
            size += len(jobs)
        return batch

    async def _run(self) -> None:
        import anyio

        wake = self._wake
        assert wake is not None  # submit() makes it before starting this task
        while True:
            await wake.wait()
            wake.clear()
            while self._pending:
                batch = self._next_batch()
                if not batch:
                    continue
                jobs = [job for request_jobs, _ in batch for job in request_jobs]
                try:
                    images = await anyio.to_thread.run_sync(self.draw, jobs)
                except Exception as err:  # every waiting request hears about it; the loop lives on
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(err)
                    continue
                self.stats.batches += 1
                self.stats.images += len(jobs)
                self.stats.largest = max(self.stats.largest, len(jobs))
                start = 0
                for request_jobs, future in batch:
                    if not future.done():
                        future.set_result(images[start : start + len(request_jobs)])
                    start += len(request_jobs)
