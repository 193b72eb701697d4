"""Store and server URIs as they may be shown: in errors, logs, links and lineage."""

from __future__ import annotations

import re

# the password of a URI's user part, read as SQLAlchemy reads it (up to the first "@"), and a
# password given as a query parameter
_USER_PASSWORD = re.compile(r"^([A-Za-z][\w+.-]*://[^:/@?#]*:)[^@]*@")
_QUERY_PASSWORD = re.compile(r"([?&](?:password|passwd|pwd)=)[^&#]*", re.IGNORECASE)


def without_password(uri: str) -> str:
    """``uri`` with any password in it shown as ``***`` (a database or HTTP URI)."""
    return _QUERY_PASSWORD.sub(r"\1***", _USER_PASSWORD.sub(r"\1***@", uri))
