"""What a run prints: the library's own progress messages on, the expected noise of libraries off.

"Expected" means a message a user cannot act on in this setup: a CPU machine probing for
CUDA, MLflow's advice about model type hints and pickling of our own pyfunc wrappers, the
pip version MLflow cannot find in a uv environment. Everything else (warnings a user can
act on, errors) is left alone.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from pathlib import Path

# TensorFlow's C++ start-up lines: written to stderr before Python can filter anything, so a
# stage runner drops them line by line (see :func:`is_expected_noise`).
_TF_STARTUP = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called"
    r"|port\.cc:\d+\] oneDNN custom operations are on"
    r"|meta_optimizer\.cc:\d+\] remapper failed"  # Grappler skipping one rewrite; the graph still runs
)
# CUDA probes that fail on a machine without an NVIDIA driver; on a GPU machine they matter
_CUDA_PROBE = re.compile(
    r"cudart_stub\.cc:\d+\] Could not find cuda drivers|cuda_platform\.cc:\d+\] failed call to cuInit"
)
# MLflow messages logged through `logging`, each a start-of-message pattern
_MLFLOW_RECORDS = {
    # our pyfunc wrappers are logged as objects on purpose and loaded only from our own registry
    "mlflow.pyfunc": re.compile(r"Passing a Python object as `python_model`"),
    # uv environments have no pip; MLflow records the requirements from uv.lock instead
    "mlflow.utils.environment": re.compile(r"Failed to resolve installed pip version"),
}


def has_nvidia_driver() -> bool:
    """Whether this machine has an NVIDIA driver loaded (its control device exists)."""
    return Path("/dev/nvidiactl").exists()


def is_expected_noise(line: str, gpu_machine: bool | None = None) -> bool:
    """True for a line of TensorFlow's start-up chatter that says nothing on this machine.

    Args:
        line: one line of a stage's output.
        gpu_machine: whether CUDA probes can succeed here; None = :func:`has_nvidia_driver`.
    """
    if _TF_STARTUP.search(line):
        return True
    if _CUDA_PROBE.search(line):
        return not (has_nvidia_driver() if gpu_machine is None else gpu_machine)
    return False


class _DropMatching(logging.Filter):
    def __init__(self, pattern: re.Pattern[str]):
        super().__init__()
        self.pattern = pattern

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.pattern.match(record.getMessage())


def quiet_expected_warnings() -> None:
    """Silence MLflow's expected warnings and progress bars for this process (idempotent)."""
    # the model's predict has plain type hints; MLflow's signature comes from the input example
    warnings.filterwarnings("ignore", message=r".*type hint", category=UserWarning, module=r"mlflow\.")
    # our schemas have integer columns (labels, seeds) that are never missing
    warnings.filterwarnings("ignore", message=r"Hint: Inferred schema contains integer", module=r"mlflow\.")
    # a bar per artifact download, redrawn into the log of every stage that logs a model
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow.utils.uv_utils").setLevel(logging.WARNING)  # "Detected uv project" x4
    for name, pattern in _MLFLOW_RECORDS.items():
        target = logging.getLogger(name)
        if not any(isinstance(f, _DropMatching) and f.pattern is pattern for f in target.filters):
            target.addFilter(_DropMatching(pattern))


def configure_logging(level: int = logging.INFO) -> None:
    """Show the library's own progress messages (``fitting_room.*`` loggers) on stderr.

    Only the ``fitting_room`` logger gets a handler: other libraries keep their own defaults.
    Also applies :func:`quiet_expected_warnings`.
    """
    logger = logging.getLogger("fitting_room")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    quiet_expected_warnings()
