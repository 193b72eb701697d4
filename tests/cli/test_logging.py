"""The CLI shows the library's progress messages and hides the libraries' expected noise."""

from __future__ import annotations

import logging
import warnings

import pytest

from fitting_room.logs import configure_logging, is_expected_noise


@pytest.fixture
def configured():
    """Configures logging as the CLI does (in the test itself, where capsys captures the stream)
    and restores the logger and warning filters afterwards."""
    logger = logging.getLogger("fitting_room")
    saved = logger.handlers[:], logger.level, logger.propagate
    logger.handlers = []
    with warnings.catch_warnings():
        yield configure_logging
    logger.handlers, logger.level, logger.propagate = saved


def test_library_info_messages_reach_stderr(capsys, configured):
    configured()
    logging.getLogger("fitting_room.recommender.stage").info("1/4 fitting the advisor")
    err = capsys.readouterr().err
    assert "INFO fitting_room.recommender.stage: 1/4 fitting the advisor" in err, err


def test_mlflow_pickle_notice_is_dropped_but_its_other_warnings_are_kept(configured, caplog):
    configured()
    pyfunc = logging.getLogger("mlflow.pyfunc")
    with caplog.at_level(logging.WARNING, logger="mlflow.pyfunc"):
        pyfunc.warning(
            "Passing a Python object as `python_model` causes it to be serialized using CloudPickle"
        )
        pyfunc.warning("the model could not be loaded")
    assert [r.getMessage() for r in caplog.records] == ["the model could not be loaded"]


def test_mlflow_type_hint_advice_is_silenced_and_other_user_warnings_are_not(configured):
    with warnings.catch_warnings(record=True) as caught:
        configured()
        warnings.warn_explicit(
            "\x1b[31mType hint used in the model's predict function is not supported",
            UserWarning,
            "model.py",
            320,
            module="mlflow.pyfunc.model",
        )
        warnings.warn_explicit(
            "your data has no rows", UserWarning, "model.py", 321, module="mlflow.pyfunc.model"
        )
    assert [str(w.message) for w in caught] == ["your data has no rows"]


CUDA_PROBE = "I0000 00:00:1796405249.05 16961 cudart_stub.cc:31] Could not find cuda drivers on your machine"


def test_cuda_probe_failures_are_noise_only_on_a_machine_without_a_gpu_driver():
    assert is_expected_noise(CUDA_PROBE, gpu_machine=False)
    assert not is_expected_noise(CUDA_PROBE, gpu_machine=True)  # there it says the GPU is unused
    assert is_expected_noise(
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
    )
    assert not is_expected_noise("generator at models/gan: step 60 (from 0), stopped by steps")
