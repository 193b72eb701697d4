"""Environment variables set for a block and restored after it."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager


@contextmanager
def scoped_environ(variables: Mapping[str, str], restore: Iterable[str] = ()) -> Iterator[None]:
    """Set ``variables`` for the block; afterwards restore them, and the ``restore`` keys the
    block itself may set, to what they were (unset stays unset), even when it raised."""
    saved = {key: os.environ.get(key) for key in [*variables, *restore]}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
