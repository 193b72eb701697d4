"""Object-store faults against real servers on loopback: moto's S3 server, `mlflow server`
proxying artifacts to it, and DVC pushing to it.

A missing bucket or wrong credentials (a store that refuses the keys) must stop a run with one line naming the
server or the remote -- before any stage for MLflow (the preflight probe), with the local
outputs kept for DVC.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from fitting_room.config.ops import TrackingCheckConfig
from fitting_room.errors import FittingRoomError
from fitting_room.ops.preflight import ArtifactStoreUnavailable, check_artifact_store
from fitting_room.pipeline.dvc_stages import push_outputs

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
CHECK = TrackingCheckConfig()
KEYS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(cmd: list[str], health: str, log: Path, env: dict[str, str]) -> subprocess.Popen:
    """Start ``cmd`` in its own process group and wait for ``health`` to answer 200."""
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    deadline = time.monotonic() + 180
    while True:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(health, timeout=2):
                return proc
        except OSError:
            assert time.monotonic() < deadline, f"{cmd[0]} never became healthy:\n{log.read_text()[-3000:]}"
            time.sleep(0.5)


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, 15)
    proc.wait(30)


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """moto's S3 server with one bucket, ``present``."""
    import boto3

    tmp = tmp_path_factory.mktemp("s3")
    port = _free_port()
    env = {**os.environ, **KEYS}
    endpoint = f"http://127.0.0.1:{port}"
    proc = _serve(
        [str(BIN / "python"), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        f"{endpoint}/moto-api/",
        tmp / "moto.log",
        env,
    )
    client = boto3.client("s3", endpoint_url=endpoint, **_boto_keys())
    client.create_bucket(Bucket="present")
    yield {"endpoint": endpoint, "client": client, "env": env, "tmp": tmp}
    _stop(proc)


@pytest.fixture(scope="module")
def s3_with_auth(tmp_path_factory):
    """moto's S3 server checking signatures from the first request (its IAM knows no keys yet):
    whatever keys a client holds are wrong keys to it, as a rotated or mistyped secret is."""
    tmp = tmp_path_factory.mktemp("s3auth")
    port = _free_port()
    env = {**os.environ, **KEYS, "INITIAL_NO_AUTH_ACTION_COUNT": "0"}
    endpoint = f"http://127.0.0.1:{port}"
    proc = _serve(
        [str(BIN / "python"), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        f"{endpoint}/moto-api/",
        tmp / "moto.log",
        env,
    )
    yield {"endpoint": endpoint, "env": {**os.environ, **KEYS}, "tmp": tmp}
    _stop(proc)


def _boto_keys() -> dict[str, str]:
    return {
        "aws_access_key_id": KEYS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": KEYS["AWS_SECRET_ACCESS_KEY"],
        "region_name": KEYS["AWS_DEFAULT_REGION"],
    }


def _mlflow_server(s3: dict, destination: str, name: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**s3["env"], "MLFLOW_S3_ENDPOINT_URL": s3["endpoint"]}
    cmd = [str(BIN / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{s3['tmp'] / name}.db"]
    cmd += ["--artifacts-destination", destination, "-h", "127.0.0.1", "-p", str(port), "--workers", "1"]
    uri = f"http://127.0.0.1:{port}"
    return _serve(cmd, f"{uri}/health", s3["tmp"] / f"{name}.log", env), uri


def test_the_preflight_stores_and_deletes_a_probe_through_a_working_server(s3):
    server, uri = _mlflow_server(s3, "s3://present/mlflow", "ok")
    try:
        assert check_artifact_store(uri, CHECK) is True
        left = s3["client"].list_objects_v2(Bucket="present").get("Contents", [])
        assert left == []  # the probe is deleted again
    finally:
        _stop(server)


def _refused_probe(s3: dict, destination: str, name: str) -> tuple[str, str]:
    """The server's URI and the one-line error of the preflight probe through it (it must fail)."""
    server, uri = _mlflow_server(s3, destination, name)
    try:
        with pytest.raises(ArtifactStoreUnavailable) as err:
            check_artifact_store(uri, CHECK)
    finally:
        _stop(server)
    return uri, str(err.value)


def test_a_missing_artifact_bucket_stops_the_run_before_any_stage_naming_the_server(s3):
    uri, line = _refused_probe(s3, "s3://no-such-bucket/mlflow", "missing")
    assert "\n" not in line and f"MLflow server {uri} cannot store artifacts (HTTP 5" in line
    assert "nothing was run or registered" in line and "--artifacts-destination" in line


def test_a_local_store_or_a_server_that_does_not_proxy_artifacts_needs_no_probe(s3, tmp_path):
    assert check_artifact_store(f"sqlite:///{tmp_path / 'm.db'}", CHECK) is False
    port = _free_port()
    cmd = [str(BIN / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'n.db'}"]
    cmd += ["--no-serve-artifacts", "-h", "127.0.0.1", "-p", str(port), "--workers", "1"]
    server = _serve(cmd, f"http://127.0.0.1:{port}/health", tmp_path / "n.log", s3["env"])
    try:
        assert check_artifact_store(f"http://127.0.0.1:{port}", CHECK) is False
    finally:
        _stop(server)


def _dvc_repo(root: Path, s3: dict, bucket: str) -> Path:
    dvc = str(BIN / "dvc")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    for args in (
        ["init", "-q"],
        ["config", "core.analytics", "false"],
        ["remote", "add", "-d", "storage", f"s3://{bucket}/dvc"],
        ["remote", "modify", "storage", "endpointurl", s3["endpoint"]],
    ):
        subprocess.run([dvc, *args], cwd=root, check=True)
    (root / "model.bin").write_bytes(b"weights" * 1000)
    subprocess.run([dvc, "add", "-q", "model.bin"], cwd=root, check=True)
    return root / "model.bin"


@pytest.fixture
def s3_keys(monkeypatch):
    """The store's keys in this process's environment, where DVC's S3 client reads them."""
    for key, value in KEYS.items():
        monkeypatch.setenv(key, value)


def test_dvc_push_to_a_missing_bucket_names_the_remote_and_keeps_local_outputs(s3, tmp_path, s3_keys):
    artifact = _dvc_repo(tmp_path, s3, "no-such-bucket")
    with pytest.raises(FittingRoomError) as err:
        push_outputs(tmp_path)
    line = str(err.value)
    assert "DVC remote 'storage' (s3://no-such-bucket/dvc) could not be reached" in line
    assert "NoSuchBucket" in line or "does not exist" in line, line
    assert "\n" not in line and "Local outputs are kept" in line
    assert artifact.read_bytes() == b"weights" * 1000
    assert any((tmp_path / ".dvc" / "cache").rglob("*")), "the local DVC cache keeps the output"


def test_dvc_push_to_the_bucket_stores_the_objects(s3, tmp_path, s3_keys):
    _dvc_repo(tmp_path, s3, "present")
    assert push_outputs(tmp_path).name == "storage"
    keys = [o["Key"] for o in s3["client"].list_objects_v2(Bucket="present", Prefix="dvc/")["Contents"]]
    assert len(keys) == 1 and keys[0].startswith("dvc/files/md5/")


def test_dvc_push_with_wrong_keys_names_the_remote_and_keeps_outputs(s3_with_auth, tmp_path, s3_keys):
    artifact = _dvc_repo(tmp_path, s3_with_auth, "present")
    with pytest.raises(FittingRoomError) as err:
        push_outputs(tmp_path)
    line = str(err.value)
    assert "DVC remote 'storage' (s3://present/dvc) refused this machine's credentials (" in line, line
    assert "403" in line and "access_key_id" in line, line
    assert "\n" not in line and "Local outputs are kept" in line
    assert artifact.read_bytes() == b"weights" * 1000


def test_an_mlflow_server_with_wrong_store_credentials_stops_the_run_before_any_stage(s3_with_auth):
    uri, line = _refused_probe(s3_with_auth, "s3://present/mlflow", "wrongkeys")
    assert "\n" not in line and f"MLflow server {uri} cannot store artifacts (HTTP 5" in line
    assert "bucket and credentials" in line
