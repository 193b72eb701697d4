"""Run DVC stages one at a time, so DVC's cache decides what re-runs.

The Prefect flow calls :func:`repro_stage` per stage (retries, logs and artifacts are
Prefect's; "is this stage up to date?" is DVC's). Stage commands run in subprocesses with
this interpreter's ``bin`` folder first on ``PATH``, so ``python -m fitting_room`` and
``fitting-room`` resolve to the same environment whether or not it is activated.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from fitting_room.errors import FittingRoomError


class StageFailed(FittingRoomError):
    """A DVC stage's command failed; its own error was printed above."""


@dataclass(frozen=True)
class StageOutcome:
    name: str
    ran: bool  # False: DVC found deps, params and outs unchanged and skipped it
    seconds: float


def pipeline_stages(root: str | Path = ".") -> list[str]:
    """Stage names in the order ``dvc.yaml`` lists them (written in dependency order)."""
    doc = yaml.safe_load((Path(root) / "dvc.yaml").read_text()) or {}
    return list((doc.get("stages") or {}).keys())


def environment_for_stages() -> None:
    """Put this interpreter's environment first on PATH for the stage subprocesses."""
    bindir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if not path.startswith(bindir + os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + path


@contextlib.contextmanager
def stage_environment(variables: dict[str, str], root: str | Path) -> Iterator[None]:
    """Run the body in ``root`` with ``variables`` set for the stage subprocesses, then restore.

    The flow hands its profile and overrides to the stages through the environment; restoring
    it keeps one run's choices from leaking into the next in the same process (a worker,
    a test session).
    """
    saved = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)
    try:
        with contextlib.chdir(root):
            yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def repro_stage(name: str, root: str | Path = ".") -> StageOutcome:
    """Reproduce one stage if (and only if) its dependencies changed.

    Raises:
        StageFailed: naming the stage, when its command exits non-zero.
    """
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    environment_for_stages()
    start = time.perf_counter()
    try:
        with Repo(str(root)) as repo:
            ran = repo.reproduce(name, single_item=True)
    except DvcException as err:
        cause = err.__cause__ or err
        raise StageFailed(f"stage {name!r} failed: {cause}") from None
    return StageOutcome(name, bool(ran), time.perf_counter() - start)


def push_outputs(root: str | Path = ".") -> str | None:
    """Push DVC-tracked outputs to the default remote; returns its name (None: no remote).

    Raises:
        FittingRoomError: naming the remote when it cannot be reached; local work is kept.
    """
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        remote = repo.config.get("core", {}).get("remote")
        if not remote:
            return None
        try:
            repo.push(remote=remote)
        except DvcException as err:
            url = repo.config.get("remote", {}).get(remote, {}).get("url", "?")
            raise FittingRoomError(
                f"DVC remote {remote!r} ({url}) could not be reached: {err}. "
                "Local outputs are kept; run `dvc push` when it is back."
            ) from None
    return remote
