"""Run DVC stages one at a time, so DVC's cache decides what re-runs.

The Prefect flow calls :func:`repro_stage` per stage (logs and artifacts are Prefect's;
"is this stage up to date?" is DVC's). Stage commands run in subprocesses with this
interpreter's ``bin`` folder first on ``PATH``, so ``python -m fitting_room`` and
``fitting-room`` resolve to the same environment whether or not it is activated.

Given a ``log`` callable, :func:`repro_stage` hands it every line the stage command prints
(as it prints it) and DVC's own messages, instead of letting both write straight to the
terminal: the Prefect task passes its run logger, so a 30-minute ``train_gan`` shows its
progress in the Prefect UI and each message appears once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import yaml

from fitting_room.environ import scoped_environ
from fitting_room.errors import FittingRoomError, ServerUnavailable
from fitting_room.logs import has_nvidia_driver, is_expected_noise


class StageFailed(FittingRoomError):
    """A DVC stage's command failed; its own error was printed above (and ends this message)."""


class StageInterrupted(StageFailed, ServerUnavailable):
    """A stage's command exited 75: a server it needs went away during the stage.

    Safe to repeat: DVC did not record the stage, and a repeat trains again and passes the
    quality gate again before anything is promoted. (Had the server gone away after the gate
    moved the alias, in the stage's last calls, the repeat gates a second version against it.)
    """


LineSink = Callable[[str], None]
TAIL_LINES = 20  # last lines of a failed stage's output repeated in the StageFailed message


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
    with scoped_environ(variables), contextlib.chdir(root):
        yield


def repro_stage(name: str, root: str | Path = ".", log: LineSink | None = None) -> StageOutcome:
    """Reproduce one stage if (and only if) its dependencies changed.

    Args:
        name: stage name in ``dvc.yaml``.
        root: project root.
        log: receives each output line of the stage command and each DVC message, as they
            come; None leaves both on the terminal as ``dvc repro`` would.

    Raises:
        StageFailed: naming the stage, when its command exits non-zero (with the last lines
            of its output when ``log`` took them).
    """
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    environment_for_stages()
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    start = time.perf_counter()
    try:
        with contextlib.ExitStack() as stack:
            if log is not None:
                sink = _remembering(log, tail)
                stack.enter_context(_dvc_messages_to(sink))
                stack.enter_context(_stage_output_to(sink))
            repo = stack.enter_context(Repo(str(root)))
            # "git add dvc.lock" after every stage is noise; the flow says it once at the end
            repo.scm_context.quiet = log is not None
            ran = repo.reproduce(name, single_item=True)
    except DvcException as err:
        cause = err.__cause__ or err
        output = ("\n" + "\n".join(f"  | {line}" for line in tail)) if tail else ""
        status = re.search(r"exited with (-?\d+)$", str(cause))  # DVC's StageCmdFailedError
        lost = status is not None and int(status[1]) == ServerUnavailable.exit_code
        raise (StageInterrupted if lost else StageFailed)(f"stage {name!r} failed: {cause}{output}") from None
    return StageOutcome(name, bool(ran), time.perf_counter() - start)


def _remembering(log: LineSink, tail: deque[str]) -> LineSink:
    def sink(line: str) -> None:
        tail.append(line)
        log(line)

    return sink


class _LineHandler(logging.Handler):
    """Hands each DVC log record's text to a line sink (DVC's own handlers are set aside)."""

    def __init__(self, sink: LineSink):
        super().__init__(logging.INFO)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage().strip()
        if text:
            self.sink(text if record.levelno < logging.WARNING else f"{record.levelname}: {text}")


@contextlib.contextmanager
def _dvc_messages_to(sink: LineSink) -> Iterator[None]:
    """Send the ``dvc`` logger's records to ``sink`` only.

    Outside its CLI, DVC keeps the console handlers it installs at import and also
    propagates to the root logger, which Prefect prints again: every message twice.
    """
    dvc_logger = logging.getLogger("dvc")
    saved = dvc_logger.handlers[:], dvc_logger.propagate
    dvc_logger.handlers = [_LineHandler(sink)]
    dvc_logger.propagate = False
    try:
        yield
    finally:
        dvc_logger.handlers, dvc_logger.propagate = saved


@contextlib.contextmanager
def _stage_output_to(sink: LineSink) -> Iterator[None]:
    """Run stage commands with stdout and stderr piped to ``sink`` line by line, as they come.

    DVC starts each command through ``dvc.stage.run._run(executable, cmd, **popen_kwargs)``
    with the terminal inherited; this swaps in a runner that pipes it instead (the pinned DVC's
    hook point; ``tests/pipeline`` fails if a DVC upgrade moves it).
    """
    from dvc.stage import run as dvc_run
    from dvc.stage.exceptions import StageCmdFailedError

    gpu = has_nvidia_driver()

    def run(executable: str | None, cmd: str, **kwargs) -> None:
        kwargs["env"] = {**kwargs.get("env", os.environ), "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(
            dvc_run._make_cmd(executable, cmd),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,  # universal newlines: a progress bar's "\r" redraw arrives as a line
            errors="replace",
            bufsize=1,
            **kwargs,
        )
        assert process.stdout is not None
        # as DVC does: Ctrl-C reaches the stage command (same process group), which stops first
        in_main = threading.current_thread() is threading.main_thread()
        old_handler = signal.signal(signal.SIGINT, signal.SIG_IGN) if in_main else None
        try:
            with process:
                for line in process.stdout:
                    if line.strip() and not is_expected_noise(line, gpu):
                        sink(line.rstrip())
        finally:
            if old_handler is not None:
                signal.signal(signal.SIGINT, old_handler)
        if process.returncode != 0:
            raise StageCmdFailedError(cmd, process.returncode)

    saved = dvc_run._run
    dvc_run._run = run
    try:
        yield
    finally:
        dvc_run._run = saved


class PushedTo(NamedTuple):
    """The DVC remote a push went to."""

    name: str
    url: str


def push_outputs(root: str | Path = ".", log: LineSink | None = None) -> PushedTo | None:
    """Push DVC-tracked outputs to the default remote; returns it (None: no remote configured).

    Args:
        root: project root.
        log: receives DVC's messages (None: DVC prints them).

    Raises:
        FittingRoomError: naming the remote when it cannot be reached or refuses the
            credentials; local work is kept.
    """
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    with contextlib.ExitStack() as stack:
        if log is not None:
            stack.enter_context(_dvc_messages_to(log))
        repo = stack.enter_context(Repo(str(root)))
        remote = repo.config.get("core", {}).get("remote")
        if not remote:
            return None
        url = repo.config.get("remote", {}).get(remote, {}).get("url", "?")
        causes = stack.enter_context(_dvc_errors())
        try:
            repo.push(remote=remote)
        except DvcException as err:
            # DVC's exception says how many files failed; the why (no such bucket, access
            # denied) is only in what it logged
            why = f" ({causes[0][:300]})" if causes else ""
            raise FittingRoomError(
                f"DVC remote {remote!r} ({url}) could not be reached: {err}{why}. "
                "Local outputs are kept; run `dvc push` when it is back."
            ) from None
        except PermissionError as err:  # the remote's filesystem (s3fs, gcsfs...) raises a 403 as this
            why = " ".join(str(err.__cause__ or err).split())[:300]
            raise FittingRoomError(
                f"DVC remote {remote!r} ({url}) refused this machine's credentials ({why}). Check the "
                f"remote's keys (`dvc remote modify --local {remote} access_key_id ...`, or the AWS_* "
                "variables). Local outputs are kept; run `dvc push` once they are right."
            ) from None
    return PushedTo(remote, url)


@contextlib.contextmanager
def _dvc_errors() -> Iterator[list[str]]:
    """Collect the one-line text of the errors DVC logs during the block."""
    found: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:  # DVC logs the cause with it
                message = f"{message} - {record.exc_info[1]}"
            text = " ".join(message.split())
            if text and text not in found:
                found.append(text)

    handler = Collect(logging.ERROR)
    loggers = [logging.getLogger(name) for name in ("dvc", "dvc_data", "dvc_objects")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield found
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
