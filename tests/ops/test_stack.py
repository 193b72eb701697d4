"""`fitting-room stack`: ports, checked before any server starts.

The stack's life on real servers (up, up again, a PostgreSQL restart, faults, down, up after
down) is tested on the one stack of ``test_stack_e2e.py``: each start costs half a minute.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from stack_helpers import (
    needs_postgres,
    stack_config,
)

from fitting_room.ops.stack import StackError, stack_status, stack_up
from fitting_room.ops.stack import _ports as stack_ports

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
