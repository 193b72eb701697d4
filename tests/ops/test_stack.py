"""`fitting-room stack`: ports, checked before any server starts.

The stack's life on real servers (up, up again, a PostgreSQL restart, faults, down, up after
down) is tested on the one stack of ``test_stack_e2e.py``: each start costs half a minute.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from stack_helpers import (
    needs_postgres,
    stack_config,
)

import fitting_room.ops.stack as stack_module
from fitting_room.ops.stack import DVC_REMOTE, StackError, stack_down, stack_status, stack_up
from fitting_room.ops.stack import _ports as stack_ports
from fitting_room.ops.stack import _use_dvc_remote as use_dvc_remote
from fitting_room.ops.stack.services import Ports, Stack

pytestmark = needs_postgres


@pytest.fixture
def project(tmp_path) -> Path:
    """A throwaway DVC project (git + dvc init) with its own local default remote."""
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    dvc = str(Path(sys.executable).with_name("dvc"))
    subprocess.run([dvc, "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(
        [dvc, "remote", "add", "--local", "-d", "mine", str(tmp_path / "remote")], cwd=tmp_path, check=True
    )
    return tmp_path


def test_a_port_in_use_is_named_before_anything_starts(project):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StackError, match=rf"port 127\.0\.0\.1:{port} \(stack\.ports\.mlflow"):
            stack_up(stack_config(project, f"stack.ports.mlflow={port}"), project, dict(os.environ))
    assert not any(s.running for s in stack_status(stack_config(project), project))


def test_a_server_restarted_while_others_run_keeps_its_port_or_names_who_took_it(project):
    cfg = stack_config(project)
    others = {"s3", "mlflow", "prefect", "worker"}  # running, started pointing at postgres's port
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        had = {"ports": {"postgres": port, "s3": 1, "mlflow": 2, "prefect": 3}}
        with pytest.raises(StackError, match=rf"port 127\.0\.0\.1:{port} of postgres, which the running m"):
            stack_ports(cfg, had, others)
    assert stack_ports(cfg, had, others)["postgres"] == port  # free again: the same port, not a new one


def test_a_generated_secret_beginning_with_a_dash_reaches_the_dvc_remote_whole(project):
    """``secrets.token_urlsafe`` begins with "-" one time in 64; `dvc remote modify` must not take
    it for an option (it did: a benchmark's `stack up` failed on `unrecognized arguments: -rLF…`)."""
    stack = Stack(
        root=project, dir=project / ".stack", pg_dir=project / ".stack", host="127.0.0.1",
        ports=Ports(postgres=1, s3=2345, mlflow=3, prefect=4), password="-rLF_x-1",
        mlflow_bucket="m-bucket", dvc_bucket="d-bucket", work_pool="pool", timeout_s=5.0,
    )  # fmt: skip
    use_dvc_remote(project, stack)
    dvc = str(Path(sys.executable).with_name("dvc"))

    def remote(*args: str) -> str:
        done = subprocess.run([dvc, "remote", *args], cwd=project, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    assert remote("default") == DVC_REMOTE
    urls = {line.split()[0]: line.split()[1] for line in remote("list", "--local").splitlines()}
    assert urls[DVC_REMOTE] == "s3://d-bucket/dvc"
    config = (project / ".dvc" / "config.local").read_text()
    assert "secret_access_key = -rLF_x-1" in config and "endpointurl = http://127.0.0.1:2345" in config


@pytest.fixture
def no_servers(monkeypatch):
    """``up`` and ``down`` with no server to start or stop: should a check under test give way,
    nothing starts."""
    monkeypatch.setattr(stack_module, "STARTERS", {})


@pytest.mark.parametrize(
    ("folder", "what"), [(".", "the project folder"), ("..", "above"), ("../..", "above")]
)
def test_a_stack_dir_that_is_the_project_or_above_it_is_refused_before_anything_changes(
    project, no_servers, folder, what
):
    cfg = stack_config(project, f"stack.dir={folder}")
    mode, entries = project.stat().st_mode, sorted(os.listdir(project))
    calls = (
        lambda: stack_up(cfg, project, dict(os.environ)),
        lambda: stack_down(cfg, project, purge=True),
        lambda: stack_status(cfg, project),
    )
    for call in calls:
        with pytest.raises(
            StackError, match=rf"^stack\.dir {re.escape(folder)} is .*{what}.*default \.stack"
        ):
            call()
    assert project.stat().st_mode == mode and sorted(os.listdir(project)) == entries


@pytest.mark.parametrize("files", [["notes.txt"], [".ssh", ".bashrc"], ["env", "logs"]])
def test_a_folder_the_stack_did_not_make_is_neither_taken_nor_purged(project, no_servers, files):
    mine = project / "mine"
    mine.mkdir()
    for name in files:
        (mine / name).write_text("keep me")
    cfg = stack_config(project, f"stack.dir={mine}")
    with pytest.raises(
        StackError, match=r"holds files and is not a stack folder \(no \.fitting-room-stack\)"
    ):
        stack_up(cfg, project, dict(os.environ))
    with pytest.raises(StackError, match=r"did not purge .*mine: it holds files and is not a stack folder"):
        stack_down(cfg, project, purge=True)
    assert sorted(os.listdir(mine)) == sorted(files)
    assert all((mine / name).read_text() == "keep me" for name in files)


def test_purge_deletes_the_stack_folder_but_no_cluster_folder_the_stack_did_not_make(
    project, tmp_path_factory
):
    elsewhere = tmp_path_factory.mktemp("precious")
    (elsewhere / "PG_VERSION").write_text("15")
    folder = project / ".stack"  # as `up` leaves it, but its state names a cluster outside
    (folder / "logs").mkdir(parents=True)
    (folder / ".fitting-room-stack").touch()
    (folder / "state.json").write_text(json.dumps({"pg_dir": str(elsewhere), "ports": {}, "procs": {}}))
    assert stack_down(stack_config(project), project, purge=True) == []
    assert not folder.exists() and (elsewhere / "PG_VERSION").read_text() == "15"
