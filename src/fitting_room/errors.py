"""Errors users are meant to read: each names the file, field or parameter at fault."""


class FittingRoomError(Exception):
    """Base of every expected, user-facing failure (bad input, failed gate, missing data)."""


class DataError(FittingRoomError):
    """An input file is missing, truncated, malformed or fails an integrity check."""


class ValidationFailed(FittingRoomError):
    """A data validation suite failed; the message lists each failed expectation."""


class GateFailed(FittingRoomError):
    """A model quality gate failed; the message names each failed check and by how much."""
