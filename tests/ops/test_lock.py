"""The training run lock: one run at a time, and a killed run never blocks the next one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fitting_room.ops.lock import PipelineBusy, describe_stale, read_holder, run_lock

HOLD = """
import sys, time
from fitting_room.ops.lock import run_lock
with run_lock(sys.argv[1], owner=sys.argv[2]):
    print("held", flush=True)
    time.sleep(float(sys.argv[3]))
"""


def hold_in_subprocess(path: Path, owner: str, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), owner, str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_trigger_exits_naming_the_running_holder(tmp_path):
    lock = tmp_path / "locks" / "pipeline.lock"
    proc = hold_in_subprocess(lock, "flow-run-A", 30)
    try:
        with pytest.raises(PipelineBusy, match=rf"pid {proc.pid} on .*\(flow-run-A\)"), run_lock(lock, "B"):
            pytest.fail("the lock was taken twice")
    finally:
        proc.kill()
        proc.wait()


def test_a_waiting_trigger_runs_once_the_holder_finishes(tmp_path):
    lock = tmp_path / "pipeline.lock"
    proc = hold_in_subprocess(lock, "A", 1.0)
    with run_lock(lock, "B", wait_s=20, poll_s=0.1) as acquired:
        assert acquired.waited_s > 0.3
        assert acquired.stale is None  # A released it cleanly
        assert read_holder(lock).owner == "B"
    proc.wait()


def test_a_killed_run_leaves_a_stale_record_that_is_cleared(tmp_path):
    lock = tmp_path / "pipeline.lock"
    proc = hold_in_subprocess(lock, "killed-run", 60)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with run_lock(lock, "next") as acquired:
        assert acquired.stale is not None and acquired.stale.pid == proc.pid
        assert "crashed run" in describe_stale(acquired.stale)
        assert read_holder(lock).pid == os.getpid()
    assert read_holder(lock) is None  # released cleanly: nothing stale for the next run


def test_two_simultaneous_triggers_give_exactly_one_run(tmp_path):
    lock, marker = tmp_path / "pipeline.lock", tmp_path / "runs.txt"
    code = (
        "import sys, time\n"
        "from fitting_room.ops.lock import PipelineBusy, run_lock\n"
        "try:\n"
        "    with run_lock(sys.argv[1], sys.argv[3]):\n"
        "        open(sys.argv[2], 'a').write(sys.argv[3] + '\\n'); time.sleep(1.5)\n"
        "except PipelineBusy as err:\n"
        "    print(err); sys.exit(3)\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(lock), str(marker), name], stdout=subprocess.PIPE, text=True
        )
        for name in ("first", "second")
    ]
    codes = sorted(p.wait() for p in procs)
    assert codes == [0, 3]
    assert len(marker.read_text().split()) == 1
    busy = next(p for p in procs if p.returncode == 3).stdout.read()
    assert "another training run holds" in busy and "exits without running" in busy


def test_lock_is_reentrant_across_sequential_runs(tmp_path):
    lock = tmp_path / "pipeline.lock"
    for _ in range(2):
        start = time.monotonic()
        with run_lock(lock, "seq") as acquired:
            assert acquired.stale is None
        assert time.monotonic() - start < 1
