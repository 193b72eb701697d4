"""The downloader either delivers the whole file or fails naming the URL, leaving nothing behind."""

from __future__ import annotations

import http.server
import threading

import pytest

from fitting_room.data.download import download_file
from fitting_room.errors import DataError


def test_served_file_arrives_byte_for_byte(tmp_path, http_root):
    root, url = http_root
    (root / "blob.bin").write_bytes(bytes(range(256)) * 1000)
    dest = download_file(f"{url}blob.bin", tmp_path / "got" / "blob.bin", progress=False)
    assert dest.read_bytes() == bytes(range(256)) * 1000


class ShortBody(http.server.BaseHTTPRequestHandler):
    """Promises 1,000 bytes, sends 10, hangs up: a connection dropped mid-download."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b"0123456789")
        self.close_connection = True

    def log_message(self, *args) -> None:
        pass


def test_connection_dropped_mid_body_fails_and_leaves_no_file(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ShortBody)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/data.gz"
    try:
        with pytest.raises(DataError, match=rf"download of {url} (failed|ended early: 10 of 1,000 bytes)"):
            download_file(url, tmp_path / "data.gz", timeout_s=5, progress=False)
    finally:
        server.shutdown()
        server.server_close()
    assert list(tmp_path.iterdir()) == []


def test_unreachable_host_names_the_url(tmp_path):
    url = "http://127.0.0.1:9/nothing.gz"  # discard port: nothing listens
    with pytest.raises(DataError, match=r"download of http://127\.0\.0\.1:9/nothing\.gz failed"):
        download_file(url, tmp_path / "nothing.gz", timeout_s=2, progress=False)
