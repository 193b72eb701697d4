"""The one downloader: HTTP(S) to a local file with a progress bar, timeouts and a clear error.

Used for Fashion-MNIST and Clothing-Fit alike. Bytes stream into a temporary sibling file
that is renamed into place only when complete, so an interrupted download never looks
like a finished one.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from pathlib import Path

from fitting_room.errors import DataError
from fitting_room.files import atomic_write

CHUNK = 1 << 16
USER_AGENT = "fitting-room-ingest/0.1"


def download_file(url: str, dest: str | Path, timeout_s: float = 60.0, progress: bool | None = None) -> Path:
    """Download ``url`` to ``dest`` atomically.

    Args:
        url: the http(s) address.
        dest: the final file path (parent folders are created).
        timeout_s: seconds to wait for the connection and for each read.
        progress: show a tqdm bar with rate and ETA; None = only on a terminal.

    Returns:
        ``dest``.

    Raises:
        DataError: naming the URL on HTTP errors, network errors, timeouts or a short body.
    """
    from tqdm import tqdm

    dest = Path(dest)
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})

    def stream(tmp: Path) -> None:
        with (
            open(tmp, "wb") as out,
            urllib.request.urlopen(request, timeout=timeout_s) as response,
        ):
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(
                total=total, unit="B", unit_scale=True, unit_divisor=1024,
                desc=f"download {dest.name}", disable=None if progress is None else not progress,
            ) as bar:  # fmt: skip
                received = 0
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        if total is not None and received != total:
            raise DataError(f"download of {url} ended early: {received:,} of {total:,} bytes")

    try:
        atomic_write(dest, stream, suffix=".part")
    except urllib.error.HTTPError as err:
        raise DataError(f"download of {url} failed: HTTP {err.code} {err.reason}") from None
    except urllib.error.URLError as err:
        raise DataError(f"download of {url} failed: {err.reason}") from None
    except (TimeoutError, OSError, http.client.HTTPException) as err:
        # IncompleteRead (connection closed mid-body) is an HTTPException, not an OSError
        raise DataError(f"download of {url} failed: {type(err).__name__}: {err}") from None
    return dest
