"""``fitting-room stack up|down|status``: the production servers, started on this machine.

PostgreSQL, an S3-API object store, an MLflow tracking server and a Prefect server with a
process worker run as background processes bound to loopback, with their logs, the state file
(pids, ports) and a sourceable env file under ``stack.dir`` (``.stack/``). ``up`` is
idempotent (a running server is left as it is), ``down`` stops exactly the processes ``up``
started, by pid, and keeps the data (``--purge`` removes it). The project uses the stack by
configuration alone: the env file's variables, and the DVC remote ``up`` makes the default.
"""

from __future__ import annotations

import json
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from fitting_room.config import Config
from fitting_room.files import atomic_write_text
from fitting_room.ops.stack import services
from fitting_room.ops.stack.processes import Proc, StackError, free_port, port_free, process, stop

__all__ = ["StackError", "ServiceStatus", "stack_down", "stack_status", "stack_up"]

# start order; `down` stops them in reverse
STARTERS = {
    "postgres": services.start_postgres,
    "s3": services.start_s3,
    "mlflow": services.start_mlflow,
    "prefect": services.start_prefect,
    "worker": services.start_worker,
}
PORT_OF = {"postgres": "postgres", "s3": "s3", "mlflow": "mlflow", "prefect": "prefect"}
DVC_REMOTE = "stack"


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    pid: int | None
    running: bool
    url: str | None
    log: str | None


# `stack up` marks the folder it makes; `up` takes and `down --purge` deletes only a marked folder
MARKER = ".fitting-room-stack"


def _paths(cfg: Config, root: Path) -> tuple[Path, Path, Path]:
    """The stack folder, its state file and env file.

    Raises:
        StackError: when ``stack.dir`` is the project folder or a folder above it (``up`` would
            change its mode and fill it, ``down --purge`` would delete it).
    """
    folder, here = (root / cfg.stack.dir).resolve(), root.resolve()
    if here.is_relative_to(folder):
        what = "the project folder" if folder == here else "a folder above the project"
        raise StackError(
            f"stack.dir {cfg.stack.dir} is {folder}, {what}: the stack keeps its databases there and "
            "`stack down --purge` deletes the folder; give it a folder of its own (default .stack)"
        )
    return folder, folder / "state.json", folder / "env"


def _not_ours(folder: Path) -> bool:
    """Whether ``folder`` holds files and is not a stack folder (no marker; no ``state.json``,
    which a stack folder made before the marker has)."""
    if not folder.is_dir() or not any(folder.iterdir()):
        return False
    return not ((folder / MARKER).is_file() or (folder / "state.json").is_file())


def _load_state(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise StackError(
            f"stack state file {path} is unreadable ({err}); stop stray servers by hand"
        ) from err


def _save_state(path: Path, state: dict) -> None:
    atomic_write_text(path, json.dumps(state, indent=2, sort_keys=True), mode=0o600)  # the database password


def _proc(state: dict, name: str) -> Proc | None:
    record = state.get("procs", {}).get(name)
    return Proc(**record) if record else None


def _stack(cfg: Config, root: Path, state: dict) -> services.Stack:
    folder, _, _ = _paths(cfg, root)
    return services.Stack(
        root=root.resolve(),
        dir=folder,
        pg_dir=Path(state["pg_dir"]),
        host=cfg.stack.host,
        ports=services.Ports(**state["ports"]),
        password=state["password"],
        mlflow_bucket=cfg.stack.mlflow_bucket,
        dvc_bucket=cfg.stack.dvc_bucket,
        work_pool=cfg.ops.schedule.work_pool,
        timeout_s=cfg.stack.start_timeout_s,
    )


def _ports(cfg: Config, state: dict, running: set[str]) -> dict[str, int]:
    """Each server's port: configured, else the one it had, else a free one; a taken one is an error.

    A server restarted while others run gets its old port back: they were started pointing at it.
    """
    host, had = cfg.stack.host, state.get("ports", {})
    ports = {}
    for name, key in PORT_OF.items():
        configured = getattr(cfg.stack.ports, key)
        if name in running:
            ports[key] = had[key]
        elif configured:
            if not port_free(host, configured):
                raise StackError(
                    f"port {host}:{configured} (stack.ports.{key}, for {name}) is already in use by another "
                    "program: stop it or set another port (0 picks a free one)"
                )
            ports[key] = configured
        elif had.get(key) and port_free(host, had[key]):
            ports[key] = had[key]
        elif had.get(key) and running:  # the running servers point at that port: it must come back there
            raise StackError(
                f"port {host}:{had[key]} of {name}, which the running {', '.join(sorted(running))} "
                f"use, is taken by another program: stop it, or `stack down` and up again"
            )
        else:
            ports[key] = free_port(host)
    return ports


def stack_up(cfg: Config, root: Path, env: dict[str, str]) -> tuple[list[ServiceStatus], Path]:
    """Start every stack server that is not running; returns their status and the env file's path.

    A server that fails to start stops the ones this call started (those already running stay)
    and raises :class:`StackError` naming it, with the end of its log.
    """
    folder, state_path, env_path = _paths(cfg, root)
    if _not_ours(folder):
        raise StackError(
            f"stack.dir {folder} holds files and is not a stack folder (no {MARKER}): "
            "`stack down --purge` would delete it; give the stack an empty or new folder"
        )
    # others may enter (the postgres user keeps its cluster here) but not list it; the
    # state and env files, which hold the secrets, are the owner's alone
    folder.mkdir(mode=0o711, parents=True, exist_ok=True)
    folder.chmod(0o711)
    (folder / MARKER).touch()
    state = _load_state(state_path)
    running = {name for name in STARTERS if process(_proc(state, name)) is not None}
    state["ports"] = _ports(cfg, state, running)
    state.setdefault("password", secrets.token_urlsafe(18))
    state.setdefault("pg_dir", str(services.postgres_dir(folder)))
    Path(state["pg_dir"]).mkdir(parents=True, exist_ok=True)
    state.setdefault("procs", {})
    stack = _stack(cfg, root, state)
    started: list[str] = []
    try:
        for name, start in STARTERS.items():
            if name in running:
                continue
            state["procs"][name] = start(stack, env).as_dict()
            started.append(name)
            _save_state(state_path, state)
    except BaseException:
        for name in reversed(started):
            _stop_one(state, name)
        _save_state(state_path, state)
        raise
    client = stack.client_env()
    lines = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in client.items())
    atomic_write_text(env_path, lines, mode=0o600)
    if (root / ".dvc").is_dir():
        state.setdefault("dvc_previous_default", _dvc(root, "remote", "default", check=False) or None)
        _use_dvc_remote(root, stack)
    _save_state(state_path, state)
    return stack_status(cfg, root), env_path


def _stop_one(state: dict, name: str) -> bool:
    record = _proc(state, name)
    stopped = False
    if record is not None:
        if name == "postgres":  # SIGINT: the postmaster's fast shutdown; it stops its own children
            stopped = stop(record, signal.SIGINT, tree=False)
        else:  # SIGINT first: an idle `prefect worker` was seen to outlive SIGTERM
            stopped = stop(record, signal.SIGINT)
    state.get("procs", {}).pop(name, None)
    return stopped


def stack_down(cfg: Config, root: Path, purge: bool = False) -> list[str]:
    """Stop what ``stack_up`` started, by pid, in reverse order; returns the names stopped.

    Args:
        purge: also delete the stack's data (databases, objects, logs) and its folder.
    """
    folder, state_path, _ = _paths(cfg, root)
    state = _load_state(state_path)
    stopped = [name for name in reversed(STARTERS) if _stop_one(state, name)]
    if state and (root / ".dvc").is_dir() and _dvc(root, "remote", "default", check=False) == DVC_REMOTE:
        previous = state.get("dvc_previous_default")
        _dvc(root, "remote", "default", "--local", *([previous] if previous else ["--unset"]), check=False)
    state.pop("dvc_previous_default", None)
    if purge:
        if _not_ours(folder):  # never delete what the stack did not make
            if state:
                _save_state(state_path, state)
            raise StackError(
                f"stopped {', '.join(stopped) or 'nothing'}, but did not purge {folder}: it holds files "
                f"and is not a stack folder (no {MARKER}); delete what you no longer need by hand"
            )
        if state.get("pg_dir") and Path(state["pg_dir"]) in services.postgres_dirs(folder):
            shutil.rmtree(state["pg_dir"], ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)
    elif state:
        _save_state(state_path, state)
    return stopped


def stack_status(cfg: Config, root: Path) -> list[ServiceStatus]:
    """Each server: pid, whether that very process still runs, its URL and its log."""
    _, state_path, _ = _paths(cfg, root)
    state = _load_state(state_path)
    ports, host = state.get("ports", {}), cfg.stack.host
    urls = {
        "postgres": f"postgresql://{host}:{ports['postgres']}" if "postgres" in ports else None,
        "s3": f"http://{host}:{ports['s3']}" if "s3" in ports else None,
        "mlflow": f"http://{host}:{ports['mlflow']}" if "mlflow" in ports else None,
        "prefect": f"http://{host}:{ports['prefect']}" if "prefect" in ports else None,
        "worker": f"pool {cfg.ops.schedule.work_pool}",
    }
    out = []
    for name in STARTERS:
        record = _proc(state, name)
        out.append(
            ServiceStatus(
                name=name,
                pid=record.pid if record else None,
                running=process(record) is not None,
                url=urls[name],
                log=record.log if record else None,
            )
        )
    return out


def _dvc(root: Path, *args: str, check: bool = True, secret: str = "") -> str:
    """Run ``dvc args`` in ``root``; a failure names the command, with ``secret`` masked."""
    dvc = str(Path(sys.executable).with_name("dvc"))
    done = subprocess.run([dvc, *args], cwd=root, capture_output=True, text=True)
    if check and done.returncode != 0:
        shown, error = " ".join(args), done.stderr.strip()[-500:]
        if secret:
            shown, error = shown.replace(secret, "***"), error.replace(secret, "***")
        raise StackError(f"`dvc {shown}` failed in {root}: {error}")
    return done.stdout.strip() if done.returncode == 0 else ""


def _use_dvc_remote(root: Path, stack: services.Stack) -> None:
    """Make ``s3://<dvc bucket>`` on the stack's store the default DVC remote (in the local config)."""
    _dvc(root, "remote", "add", "--local", "--force", DVC_REMOTE, f"s3://{stack.dvc_bucket}/dvc")
    client = stack.client_env()
    # credentials in the git-ignored local config too, so `dvc push` works without the env file;
    # `--` before each value: a generated secret may begin with "-", which argparse takes for an option
    for option, value in (
        ("endpointurl", stack.url(stack.ports.s3)),
        ("access_key_id", client["AWS_ACCESS_KEY_ID"]),
        ("secret_access_key", client["AWS_SECRET_ACCESS_KEY"]),
    ):
        _dvc(root, "remote", "modify", "--local", DVC_REMOTE, option, "--", value,
             secret=client["AWS_SECRET_ACCESS_KEY"])  # fmt: skip
    _dvc(root, "remote", "default", "--local", DVC_REMOTE)
