"""Serving replicas: /readyz speaks for every worker, and each worker's memory is reported.

The registry is checked with real processes; the server test starts a real two-worker
``bentoml serve`` and holds one worker back (SIGSTOP) so the other loads first: the old
behaviour -- whichever worker accepts answers for itself -- would say ready right then.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from fitting_room.serving.replicas import PREFIX, WorkerRegistry, remove_stale
from fitting_room.serving.server import free_port, serve_command

ROOT = Path(__file__).resolve().parents[2]
SERVICE = "fitting_room.serving.service:FittingRoom"  # as in conftest.py


def registry(tmp_path, index, workers=2):
    # named after this (live) process, as a real server's folder is after its live arbiter
    return WorkerRegistry(workers, index, server_pid=os.getpid(), root=tmp_path)


def test_ready_only_when_every_worker_has_loaded(tmp_path):
    first, second = registry(tmp_path, 1), registry(tmp_path, 2)
    first.start()
    first.mark_loaded()
    assert not first.all_loaded()  # worker 2 has not even written its record
    second.start()
    assert not first.all_loaded() and not second.all_loaded()
    second.mark_loaded()
    assert first.all_loaded() and second.all_loaded()


def test_records_report_pid_and_resident_memory_of_each_worker(tmp_path):
    one = registry(tmp_path, 1, workers=1)
    one.start()
    one.mark_loaded()
    (record,) = one.records()
    assert record["index"] == 1 and record["pid"] == os.getpid() and record["loaded"]
    assert record["alive"] and record["rss_mb"] > 10


def test_a_dead_workers_record_does_not_count_as_loaded(tmp_path):
    mine = registry(tmp_path, 1)
    mine.start()
    mine.mark_loaded()
    # worker 2 is a real process that loads and then dies without cleaning up
    code = (
        "from pathlib import Path; from fitting_room.serving.replicas import WorkerRegistry; "
        f"r = WorkerRegistry(2, 2, server_pid={os.getpid()}, root=Path({str(tmp_path)!r})); "
        "r.start(); r.mark_loaded()"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    records = mine.records()
    assert records[1]["loaded"] and not records[1]["alive"]
    assert not mine.all_loaded()


def test_closing_removes_the_records_and_the_folder_with_the_last_one(tmp_path):
    first, second = registry(tmp_path, 1), registry(tmp_path, 2)
    first.start()
    second.start()
    first.close()
    assert first.dir.is_dir() and not first.path.exists()
    second.close()
    assert not first.dir.exists()


def test_folders_of_servers_that_died_are_removed_at_start(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    stale = tmp_path / f"{PREFIX}{int(dead.stdout)}"
    stale.mkdir()
    (stale / "worker-1.json").write_text("{}")
    live = tmp_path / f"{PREFIX}{os.getpid()}"
    live.mkdir()
    assert remove_stale(tmp_path) == [stale]
    assert not stale.exists() and live.is_dir()


def test_a_planted_non_folder_is_refused(tmp_path):
    (tmp_path / f"{PREFIX}{os.getpid()}").write_text("not a folder")
    with pytest.raises(PermissionError, match="not a folder owned by this user"):
        registry(tmp_path, 1).start()


def _workers(server: subprocess.Popen) -> dict[int, psutil.Process]:
    """Worker index -> process, among the server's descendants."""
    found = {}
    for proc in psutil.Process(server.pid).children(recursive=True):
        try:
            cmd = proc.cmdline()
        except psutil.NoSuchProcess:
            continue
        if "--worker-id" in cmd:
            found[int(cmd[cmd.index("--worker-id") + 1])] = proc
    return found


def _wait(predicate, timeout_s, what, server, log):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"bentoml serve exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}:\n{log.read_text()[-3000:]}")


def _readyz(url):
    try:
        return httpx.get(f"{url}/readyz", timeout=5).status_code
    except httpx.HTTPError:
        return None


@pytest.mark.slow
def test_two_worker_server_is_ready_only_after_both_workers_loaded(bentoml_home, tmp_path):
    tmp = tmp_path / "tmp"  # the server's temp folder: its replica records land here
    tmp.mkdir()
    log = tmp_path / "serve.log"
    port = free_port()
    env = {
        **os.environ,
        "BENTOML_HOME": str(bentoml_home),
        "BENTOML_DO_NOT_TRACK": "true",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "TMPDIR": str(tmp),
    }
    cmd = serve_command(SERVICE, "127.0.0.1", port, {"workers": 2}, working_dir=str(ROOT / "src"))
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        server = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    held = None
    try:
        workers = _wait(
            lambda: _workers(server) if len(_workers(server)) == 2 else None, 120, "two workers", server, log
        )
        held = workers[2]
        held.send_signal(signal.SIGSTOP)  # worker 2 cannot load (nor accept) until SIGCONT
        records = tmp / f"{PREFIX}{server.pid}"

        def first_loaded():
            try:
                return json.loads((records / "worker-1.json").read_text())["loaded"]
            except (OSError, ValueError, KeyError):
                return False

        _wait(first_loaded, 240, "worker 1 to load its models", server, log)
        # every probe now reaches worker 1 (worker 2 is stopped): loaded itself, yet not ready
        statuses = {_readyz(url) for _ in range(5)}
        assert statuses == {503}, statuses

        held.send_signal(signal.SIGCONT)
        held = None
        _wait(lambda: _readyz(url) == 200, 240, "/readyz 200 after worker 2 loaded", server, log)
        for _ in range(6):  # whichever worker answers, both say ready
            assert _readyz(url) == 200

        info = httpx.post(f"{url}/info", json={}, timeout=30).json()
        reported = sorted(info["workers"], key=lambda r: r["index"])
        assert [r["index"] for r in reported] == [1, 2]
        assert {r["pid"] for r in reported} == {workers[1].pid, workers[2].pid}
        assert all(r["loaded"] and r["alive"] and r["rss_mb"] > 50 for r in reported)
    finally:
        if held is not None:
            held.send_signal(signal.SIGCONT)
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(5)
    # each worker removed its record on shutdown, the last one the folder
    assert not records.exists(), sorted(p.name for p in records.iterdir())
