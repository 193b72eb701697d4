"""Errors users are meant to read: each names the file, field or parameter at fault."""


class FittingRoomError(Exception):
    """Base of every expected, user-facing failure (bad input, failed gate, missing data).

    Commands print its message as one ``error:`` line and exit with :attr:`exit_code`.
    """

    exit_code = 2


class ServerUnavailable(FittingRoomError):
    """A server (MLflow, Prefect) could not be reached or went away during the command.

    The same command may succeed once the server is back (DVC recorded nothing of the stage):
    commands exit 75 (``EX_TEMPFAIL`` of sysexits.h) and the training flow retries a stage
    that ended this way (``ops.task_retries``).
    """

    exit_code = 75


class DataError(FittingRoomError):
    """An input file is missing, truncated, malformed or fails an integrity check."""


class ValidationFailed(FittingRoomError):
    """A data validation suite failed; the message lists each failed expectation."""


class GateFailed(FittingRoomError):
    """A model quality gate failed; the message names each failed check and by how much."""
