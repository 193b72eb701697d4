"""Faults the pipeline must survive: tracking server down, DVC remote down, a full disk."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fitting_room.config.loader import ConfigError
from fitting_room.config.ops import TrackingCheckConfig
from fitting_room.errors import FittingRoomError
from fitting_room.ops.preflight import (
    PrefectUnreachable,
    TrackingUnreachable,
    check_tracking_server,
    prefect_server_lost,
    tracking_server_lost,
    user_error,
)
from fitting_room.pipeline.dvc_stages import push_outputs

ROOT = Path(__file__).resolve().parents[2]
FAST = TrackingCheckConfig(retries=3, backoff_s=0.05, timeout_s=1.0)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_tracking_server_fails_fast_naming_uri_and_attempts():
    uri = f"http://127.0.0.1:{closed_port()}"
    start = time.monotonic()
    with pytest.raises(TrackingUnreachable, match=rf"{uri} is unreachable after 3 attempts.*nothing was run"):
        check_tracking_server(uri, FAST)
    assert time.monotonic() - start < 5  # bounded: 3 attempts, 0.05 + 0.1 s of back-off
    with pytest.raises(
        TrackingUnreachable, match=r"server http://ops:\*\*\*@127\.0\.0\.1:\d+ is unreachable"
    ) as err:
        check_tracking_server(uri.replace("http://", "http://ops:s3cr3t@"), FAST)
    assert "s3cr3t" not in str(err.value)


def test_a_tracking_server_that_recovers_within_the_retries_is_accepted():
    answers = iter([503, 503, 200])

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(next(answers))
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert check_tracking_server(f"http://127.0.0.1:{server.server_port}", FAST) == 3
    finally:
        server.shutdown()


def test_a_local_tracking_store_needs_no_probe(tmp_path):
    assert check_tracking_server(f"sqlite:///{tmp_path}/mlflow.db", FAST) == 0


def test_a_tracking_server_lost_mid_command_is_one_line_naming_it(monkeypatch):
    """A real MLflow client call to a server that went away: MLflow's paragraph becomes one line."""
    from mlflow import MlflowClient

    uri = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with pytest.raises(Exception) as raised:
        MlflowClient(tracking_uri=uri).get_run("0" * 32)
    lost = tracking_server_lost(raised.value)
    assert isinstance(lost, FittingRoomError)
    assert str(lost).startswith(f"MLflow tracking server {uri} stopped answering (Connection refused; ")
    assert "\n" not in str(lost) and "/api/2.0/mlflow/runs/get" in str(lost)
    assert tracking_server_lost(ValueError(str(raised.value))) is None  # only MLflow's own errors


def test_an_unreachable_prefect_server_is_one_line_naming_it_and_exit_75(tmp_path):
    """``flows/deploy.py`` against a Prefect server that is down: not httpx's traceback naming
    no server, but one line naming PREFECT_API_URL, and the exit code of a temporary failure."""
    api = f"http://127.0.0.1:{closed_port()}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "flows" / "deploy.py")],
        env={**env, "PREFECT_API_URL": api, "PREFECT_HOME": str(tmp_path / "prefect")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 75, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: Prefect server {api} is unreachable (ConnectError: "), last
    assert "make stack" in last


def test_a_prefect_error_is_named_only_for_calls_to_its_server(monkeypatch):
    import httpx

    api = "http://127.0.0.1:4200/api"
    monkeypatch.setenv("PREFECT_API_URL", api)
    other = httpx.ConnectError("refused", request=httpx.Request("GET", "http://127.0.0.1:3000/readyz"))
    ours = httpx.ConnectError("refused", request=httpx.Request("GET", f"{api}/health"))
    assert prefect_server_lost(other) is None
    # the same server however its URL is written (host case, the scheme's default port)
    monkeypatch.setenv("PREFECT_API_URL", "http://LocalHost:80/api")
    assert prefect_server_lost(
        httpx.ConnectError("refused", request=httpx.Request("GET", "http://localhost/api/x"))
    )
    monkeypatch.setenv("PREFECT_API_URL", api)
    wrapped = RuntimeError("while deploying")
    wrapped.__cause__ = ours
    assert isinstance(prefect_server_lost(wrapped), PrefectUnreachable)
    assert user_error(wrapped).exit_code == 75 and user_error(ValueError("bug")) is None
    assert user_error(ConfigError("unknown key 'gan.nope'")).exit_code == 2  # bad params: the user's to fix


def _dvc_repo(root: Path, remote_url: str) -> Path:
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    dvc = str(Path(sys.executable).with_name("dvc"))
    subprocess.run([dvc, "init", "-q"], cwd=root, check=True)
    subprocess.run([dvc, "config", "core.analytics", "false"], cwd=root, check=True)
    subprocess.run([dvc, "remote", "add", "-d", "storage", remote_url], cwd=root, check=True)
    (root / "model.bin").write_bytes(b"weights" * 1000)
    subprocess.run([dvc, "add", "-q", "model.bin"], cwd=root, check=True)
    return root / "model.bin"


def test_unreachable_dvc_remote_is_named_and_local_outputs_are_kept(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/dvc-store"
    artifact = _dvc_repo(tmp_path, url)
    with pytest.raises(FittingRoomError, match=rf"DVC remote 'storage' \({url}\) could not be reached.*kept"):
        push_outputs(tmp_path)
    assert artifact.read_bytes() == b"weights" * 1000
    assert any((tmp_path / ".dvc" / "cache").rglob("*")), "the local DVC cache keeps the output"


FILL_DISK = """
import resource, signal, sys
from fitting_room.files import atomic_write_bytes
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)        # get EFBIG as an error, not a signal
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))  # the disk is "full" after 4 kB per file
try:
    atomic_write_bytes(sys.argv[1], b"new" * 100_000)
except OSError as err:
    print(f"failed: {err.strerror}")
"""


def test_a_full_disk_leaves_the_previous_artifact_current_and_no_partial_file(tmp_path):
    current = tmp_path / "models" / "current.json"
    current.parent.mkdir()
    current.write_text('{"bento": "fitting-room:previous"}')
    done = subprocess.run([sys.executable, "-c", FILL_DISK, str(current)], capture_output=True, text=True)
    assert done.stdout.startswith("failed: File too large"), done.stdout + done.stderr
    assert current.read_text() == '{"bento": "fitting-room:previous"}'
    assert [p.name for p in current.parent.iterdir()] == ["current.json"]


def test_a_full_disk_while_promoting_a_bento_keeps_the_previous_bento_current(tmp_path):
    """The package stage's JSON writer under the same fault: current.json is never half-written."""
    pytest.importorskip("bentoml")
    code = FILL_DISK.replace(
        "from fitting_room.files import atomic_write_bytes",
        "from fitting_room.serving.package import atomic_write_json as write",  # the writer it uses
    ).replace(
        'atomic_write_bytes(sys.argv[1], b"new" * 100_000)',
        'write(__import__("pathlib").Path(sys.argv[1]), {"x": "y" * 100_000})',
    )
    current = tmp_path / "current.json"
    current.write_text('{"bento": "fitting-room:previous"}')
    done = subprocess.run([sys.executable, "-c", code, str(current)], capture_output=True, text=True)
    assert done.stdout.startswith("failed:"), done.stdout + done.stderr
    assert current.read_text() == '{"bento": "fitting-room:previous"}'
